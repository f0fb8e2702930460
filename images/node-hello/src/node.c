/* A stand-in for `node server.js` of gcr.io/google-samples/node-hello, built by kajitori's
 * imagebuild (Node with its libraries is over 100 MB). Like the sample's server.js it serves
 * HTTP on :8080, answers every request with 200 "Hello Kubernetes!" and logs
 * "Received request for URL: <url>" to stdout. Its argv stays `node server.js`, so `ps aux`
 * in the container shows the process tree of the real image.
 */
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define HELLO_PORT 8080
#define HELLO_BODY "Hello Kubernetes!"

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
    char *url = strchr(buf, ' ');
    if (url) {
        url++;
        char *end = strchr(url, ' ');
        if (end)
            *end = '\0';
        printf("Received request for URL: %s\n", url);
        fflush(stdout);
    }
    dprintf(fd, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
            strlen(HELLO_BODY), HELLO_BODY);
}

static void leave(int sig) {
    (void)sig;
    _exit(0);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: node server.js (this image's node only runs its server.js)\n");
        return 9;
    }
    int server = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(HELLO_PORT),
                               .sin_addr.s_addr = htonl(INADDR_ANY)};
    signal(SIGTERM, leave);
    signal(SIGINT, leave);
    setsockopt(server, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(server, (struct sockaddr *)&addr, sizeof addr) || listen(server, 511)) {
        perror("listen EADDRINUSE :::8080");
        return 1;
    }
    for (;;) {
        int fd = accept(server, NULL, NULL);
        if (fd < 0)
            continue;
        serve(fd);
        shutdown(fd, SHUT_WR);
        close(fd);
    }
}
