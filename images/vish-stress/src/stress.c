/* A stand-in for /stress of docker.io/vish/stress (a Go program), built by kajitori's imagebuild.
 * Flags as the original (Go flag syntax: -flag value, -flag=value, one or two dashes):
 *   -cpus N             N threads each copying /dev/zero to nowhere (one CPU each)
 *   -mem-total Q        allocate and touch Q bytes in all (quantity: 150Mi, 1G, 4096...)
 *   -mem-alloc-size Q   in chunks of Q (default 4Ki)
 *   -mem-alloc-sleep D  sleeping D between chunks (default 1ms; ns, us, ms, s, m, h)
 *   -logtostderr and other glog flags are accepted.
 * Then it runs until killed, logging in glog's format to stderr.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static void glog(const char *format, ...) {
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    fprintf(stderr, "I%02d%02d %02d:%02d:%02d.%06ld %7d main.go] ", tm.tm_mon + 1, tm.tm_mday,
            tm.tm_hour, tm.tm_min, tm.tm_sec, (long)tv.tv_usec, (int)getpid());
    va_list args;
    va_start(args, format);
    vfprintf(stderr, format, args);
    va_end(args);
    fputc('\n', stderr);
}

static long long quantity(const char *text) {
    char *unit;
    double value = strtod(text, &unit);
    static const struct { const char *suffix; double factor; } units[] = {
        {"Ki", 1024.0}, {"Mi", 1048576.0}, {"Gi", 1073741824.0}, {"k", 1e3}, {"K", 1e3},
        {"M", 1e6}, {"G", 1e9}, {"", 1.0}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strcmp(unit, units[i].suffix) == 0)
            return (long long)(value * units[i].factor);
    fprintf(stderr, "invalid quantity %s\n", text);
    exit(2);
}

static long long duration_ns(const char *text) {
    char *unit;
    double value = strtod(text, &unit);
    static const struct { const char *suffix; double factor; } units[] = {
        {"ns", 1.0}, {"us", 1e3}, {"ms", 1e6}, {"s", 1e9}, {"m", 60e9}, {"h", 3600e9}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strcmp(unit, units[i].suffix) == 0)
            return (long long)(value * units[i].factor);
    fprintf(stderr, "invalid duration %s\n", text);
    exit(2);
}

static void *burn_cpu(void *unused) {
    (void)unused;
    static char sink[65536];
    int zero = open("/dev/zero", O_RDONLY);
    if (zero < 0) {
        perror("/dev/zero");
        exit(1);
    }
    for (;;)
        if (read(zero, sink, sizeof sink) < 0 && errno != EINTR)
            return NULL;
}

static void leave(int sig) {
    (void)sig;
    _exit(2);
}

int main(int argc, char **argv) {
    const char *mem_total = "0", *alloc_size = "4Ki", *alloc_sleep = "1ms";
    long cpus = 0;
    for (int i = 1; i < argc; i++) {
        char *name = argv[i], *value = NULL;
        if (name[0] != '-')
            continue;
        name += name[1] == '-' ? 2 : 1;
        char *equals = strchr(name, '=');
        if (equals) {
            *equals = '\0';
            value = equals + 1;
        }
        int takes_value = strcmp(name, "cpus") == 0 || strncmp(name, "mem-", 4) == 0;
        if (takes_value && !value) {
            if (i + 1 >= argc) {
                fprintf(stderr, "flag needs an argument: -%s\n", name);
                return 2;
            }
            value = argv[++i];
        }
        if (strcmp(name, "cpus") == 0)
            cpus = strtol(value, NULL, 10);
        else if (strcmp(name, "mem-total") == 0)
            mem_total = value;
        else if (strcmp(name, "mem-alloc-size") == 0)
            alloc_size = value;
        else if (strcmp(name, "mem-alloc-sleep") == 0)
            alloc_sleep = value;
    }
    signal(SIGTERM, leave);
    signal(SIGINT, leave);
    long long total = quantity(mem_total), step = quantity(alloc_size);
    long long pause_ns = duration_ns(alloc_sleep);
    glog("Allocating \"%s\" memory, in \"%s\" chunks, with a %s sleep between allocations",
         mem_total, alloc_size, alloc_sleep);
    for (long i = 0; i < cpus; i++) {
        pthread_t thread;
        glog("Spawning a thread to consume CPU");
        pthread_create(&thread, NULL, burn_cpu, NULL);
    }
    struct timespec gap = {pause_ns / 1000000000LL, pause_ns % 1000000000LL};
    for (long long allocated = 0; step > 0 && allocated < total; allocated += step) {
        char *chunk = malloc((size_t)step);
        if (chunk)
            memset(chunk, 1, (size_t)step);
        nanosleep(&gap, NULL);
    }
    if (total > 0)
        glog("Allocated \"%s\" memory", mem_total);
    for (;;)
        pause();
}
