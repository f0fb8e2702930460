/* What the C stand-ins of images/ that speak HTTP share (agnhost, goproxy, node-hello):
 * reading a request head and serving a port. Static functions, one header: each stand-in is a
 * single static binary compiled from one source by kajitori's imagebuild, which hashes this
 * directory into every image cache key that compiles a program.
 */
#ifndef KAJITORI_HTTPSERVE_H
#define KAJITORI_HTTPSERVE_H

#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

/* Reads the request head from `fd` (5 s at most) into `buf` and returns its target
 * ("/healthz?x=y"), or NULL when there is none. */
static char *request_target(int fd, char *buf, size_t size) {
    size_t used = 0;
    struct timeval timeout = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    while (used < size - 1) {
        ssize_t n = read(fd, buf + used, size - 1 - used);
        if (n <= 0)
            break;
        used += (size_t)n;
        buf[used] = '\0';
        if (strstr(buf, "\r\n\r\n") || strstr(buf, "\n\n"))
            break;
    }
    buf[used] = '\0';
    char *target = strchr(buf, ' ');
    if (!target)
        return NULL;
    target++;
    char *end = strchr(target, ' ');
    if (end)
        *end = '\0';
    return target;
}

/* Listens on :port and hands each connection to `handle`, in a forked child when `forking`
 * (a slow client cannot hold up a probe) or in this process (its `ps` shows one process, as
 * the real server's does). Returns 1 with `listen_error` printed when the port cannot be
 * had; never returns otherwise. */
static int serve_forever(int port, int backlog, void (*handle)(int fd), int forking,
                         const char *listen_error) {
    int server = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port),
                               .sin_addr.s_addr = htonl(INADDR_ANY)};
    setsockopt(server, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(server, (struct sockaddr *)&addr, sizeof addr) || listen(server, backlog)) {
        perror(listen_error);
        return 1;
    }
    if (forking)
        signal(SIGCHLD, SIG_IGN);
    for (;;) {
        int fd = accept(server, NULL, NULL);
        if (fd < 0)
            continue;
        if (forking && fork() != 0) {
            close(fd);
            continue;
        }
        if (forking)
            close(server);
        handle(fd);
        shutdown(fd, SHUT_WR);
        close(fd);
        if (forking)
            _exit(0);
    }
}

#endif
