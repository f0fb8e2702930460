/* A stand-in for the agnhost test binary (registry.k8s.io/e2e-test-images/agnhost) with the
 * subcommands the Kubernetes tutorials run, built from this source by kajitori's imagebuild:
 *
 *   liveness  HTTP on :8080; /healthz answers 200 "ok" for the first 10 seconds after start,
 *             then 500 "error: <seconds since start>"; /started answers "started: <seconds>";
 *             /redirect?loc=URL redirects (302) to URL.
 *   pause     waits until SIGINT or SIGTERM, then exits 0.
 *
 * Each connection is served by a forked child, so a slow client cannot hold up a probe.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "httpserve.h"

#define LIVENESS_PORT 8080
#define HEALTHY_SECONDS 10.0

static struct timespec started;

static double seconds_since_start(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - started.tv_sec) + (now.tv_nsec - started.tv_nsec) / 1e9;
}

static void respond(int fd, int status, const char *reason, const char *headers,
                    const char *body) {
    dprintf(fd, "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
                "Content-Length: %zu\r\nConnection: close\r\n%s\r\n%s",
            status, reason, strlen(body), headers, body);
}

static void serve_liveness(int fd) {
    char buf[8192], body[128], headers[4200];
    char *target = request_target(fd, buf, sizeof buf);
    double elapsed = seconds_since_start();
    if (!target) {
        respond(fd, 400, "Bad Request", "", "");
    } else if (strcmp(target, "/healthz") == 0 || strncmp(target, "/healthz?", 9) == 0) {
        if (elapsed > HEALTHY_SECONDS) {
            snprintf(body, sizeof body, "error: %.12g", elapsed);
            respond(fd, 500, "Internal Server Error", "", body);
        } else {
            respond(fd, 200, "OK", "", "ok");
        }
    } else if (strcmp(target, "/started") == 0) {
        snprintf(body, sizeof body, "started: %.12g", elapsed);
        respond(fd, 200, "OK", "", body);
    } else if (strncmp(target, "/redirect?loc=", 14) == 0) {
        snprintf(headers, sizeof headers, "Location: %.4000s\r\n", target + 14);
        respond(fd, 302, "Found", headers, "");
    } else {
        respond(fd, 404, "Not Found", "", "404 page not found\n");
    }
}

static int liveness(void) {
    clock_gettime(CLOCK_MONOTONIC, &started);
    return serve_forever(LIVENESS_PORT, 128, serve_liveness, 1, "listen on :8080");
}

static void leave(int sig) {
    (void)sig;
    const char msg[] = "Shutting down after receiving signal\n";
    write(STDOUT_FILENO, msg, sizeof msg - 1);
    _exit(0);
}

__attribute__((noreturn)) static void pause_forever(void) {
    signal(SIGINT, leave);
    signal(SIGTERM, leave);
    puts("Paused");
    fflush(stdout);
    for (;;)
        pause();
}

int main(int argc, char **argv) {
    signal(SIGTERM, leave);
    if (argc > 1 && strcmp(argv[1], "liveness") == 0)
        return liveness();
    if (argc > 1 && strcmp(argv[1], "pause") == 0)
        pause_forever();
    fprintf(stderr, "Error: unknown command \"%s\" for \"agnhost\"\n"
                    "This stand-in knows: liveness, pause\n", argc > 1 ? argv[1] : "");
    return 1;
}
