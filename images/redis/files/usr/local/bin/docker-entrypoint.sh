#!/bin/sh
# The redis image's entrypoint (kajitori): as in the Docker image, `redis-server` started as root
# owns its working directory, then re-runs this script as user redis with gosu, which execs, so
# redis-server ends up as PID 1 running as redis.
set -e

# Options alone (`-f`, `--port 7000`) or a config file are redis-server's.
case "$1" in
    -* | *.conf) set -- redis-server "$@" ;;
esac

if [ "$1" = redis-server ] && [ "$(id -u)" = 0 ]; then
    find . \! -user redis -exec chown redis '{}' +
    exec gosu redis "$0" "$@"
fi

# Without a config file redis-server only listens on loopback ("protected mode"): the image
# serves the pod network.
if [ "$1" = redis-server ]; then
    case " $* " in
        *.conf\ * | *" --protected-mode "*) ;;
        *) set -- "$@" --protected-mode no ;;
    esac
fi

exec "$@"
