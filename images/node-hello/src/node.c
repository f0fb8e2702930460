/* A stand-in for `node server.js` of gcr.io/google-samples/node-hello, built by kajitori's
 * imagebuild (Node with its libraries is over 100 MB). Like the sample's server.js it serves
 * HTTP on :8080, answers every request with 200 "Hello Kubernetes!" and logs
 * "Received request for URL: <url>" to stdout. Its argv stays `node server.js`, so `ps aux`
 * in the container shows the process tree of the real image.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "httpserve.h"

#define HELLO_PORT 8080
#define HELLO_BODY "Hello Kubernetes!"

static void serve(int fd) {
    char buf[8192];
    char *url = request_target(fd, buf, sizeof buf);
    if (url) {
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
    signal(SIGTERM, leave);
    signal(SIGINT, leave);
    return serve_forever(HELLO_PORT, 511, serve, 0, "listen EADDRINUSE :::8080");
}
