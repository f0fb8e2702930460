/* A stand-in for registry.k8s.io/goproxy (an HTTP proxy on :8080), built by kajitori's imagebuild.
 * The tutorials only open TCP connections to it (tcpSocket probes), so it accepts on :8080 and
 * answers every request as the proxy answers one that is not a proxy request: 500 with
 * "This is a proxy server. Does not respond to non-proxy requests." (nothing is forwarded: the
 * node is offline). Each connection is served by a forked child.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "httpserve.h"

#define PROXY_PORT 8080
#define NON_PROXY_BODY "This is a proxy server. Does not respond to non-proxy requests.\n"

static void serve(int fd) {
    char buf[8192];
    request_target(fd, buf, sizeof buf);
    dprintf(fd, "HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain; charset=utf-8\r\n"
                "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
            strlen(NON_PROXY_BODY), NON_PROXY_BODY);
}

static void leave(int sig) {
    (void)sig;
    _exit(0);
}

int main(void) {
    signal(SIGTERM, leave);
    signal(SIGINT, leave);
    return serve_forever(PROXY_PORT, 128, serve, 1, "listen on :8080");
}
