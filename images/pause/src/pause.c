/* The pod sandbox's process, as upstream's registry.k8s.io/pause: /pause holds the pod's
 * namespaces, is PID 1 of a pod with shareProcessNamespace (where `ps ax` shows it as
 * "/pause"), reaps the orphans re-parented to it, and exits 0 on SIGINT or SIGTERM.
 * Built statically by kajitori's imagebuild; images/pause-sh is the stand-in used where no C
 * compiler is at hand.
 */
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_down(int sig) {
    (void)sig;
    _exit(0);
}

static void on_child(int sig) {
    (void)sig;
    while (waitpid(-1, NULL, WNOHANG) > 0)
        ;
}

int main(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_down;
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
    action.sa_handler = on_child;
    action.sa_flags = SA_NOCLDSTOP | SA_RESTART;
    sigaction(SIGCHLD, &action, NULL);
    for (;;)
        pause();
}
