/* A stand-in for registry.k8s.io/goproxy (an HTTP proxy on :8080), built by kajitori's imagebuild.
 * The tutorials only open TCP connections to it (tcpSocket probes), so it accepts on :8080 and
 * answers every request as the proxy answers one that is not a proxy request: 500 with
 * "This is a proxy server. Does not respond to non-proxy requests." (nothing is forwarded: the
 * node is offline). Each connection is served by a forked child.
 */
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define PROXY_PORT 8080
#define NON_PROXY_BODY "This is a proxy server. Does not respond to non-proxy requests.\n"

static void serve(int fd) {
    char buf[8192];
    size_t used = 0;
    struct timeval timeout = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    while (used < sizeof buf - 1) {
        ssize_t n = read(fd, buf + used, sizeof buf - 1 - used);
        if (n <= 0)
            return;
        used += (size_t)n;
        buf[used] = '\0';
        if (strstr(buf, "\r\n\r\n") || strstr(buf, "\n\n"))
            break;
    }
    dprintf(fd, "HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain; charset=utf-8\r\n"
                "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
            strlen(NON_PROXY_BODY), NON_PROXY_BODY);
}

static void leave(int sig) {
    (void)sig;
    _exit(0);
}

int main(void) {
    int server = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(PROXY_PORT),
                               .sin_addr.s_addr = htonl(INADDR_ANY)};
    signal(SIGTERM, leave);
    signal(SIGINT, leave);
    signal(SIGCHLD, SIG_IGN);
    setsockopt(server, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(server, (struct sockaddr *)&addr, sizeof addr) || listen(server, 128)) {
        perror("listen on :8080");
        return 1;
    }
    for (;;) {
        int fd = accept(server, NULL, NULL);
        if (fd < 0)
            continue;
        if (fork() == 0) {
            close(server);
            serve(fd);
            shutdown(fd, SHUT_WR);
            close(fd);
            _exit(0);
        }
        close(fd);
    }
}
