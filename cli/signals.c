/* Ctrl-C (SIGINT) and SIGTERM during nabla train: the handler only sets a flag; the training
 * loop finishes the batch in progress and stops, and the command exits 128 + the signal with
 * the checkpoint to resume from. The handler resets itself, so a second signal kills at once. */
#define _POSIX_C_SOURCE 200809L
#include "dist.h"
#include "outdir.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t g_sig;
static struct sigaction g_old_int, g_old_term;
static bool g_installed, g_mute; /* g_mute: a data-parallel run's other processes leave the message to rank 0 */

static void on_signal(int s) {
    if (g_sig) return;
    g_sig = s;
    if (g_mute) return;
    static const char msg[] = "\nnabla: interrupted: stopping after the current step (again to quit at once)\n";
    ssize_t w = write(2, msg, sizeof msg - 1);
    (void)w;
}

void cli_signals_install(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESETHAND;
    g_sig = 0;
    g_mute = !cli_dist_writer();
    g_installed = sigaction(SIGINT, &sa, &g_old_int) == 0 && sigaction(SIGTERM, &sa, &g_old_term) == 0;
}

void cli_signals_restore(void) {
    if (!g_installed) return;
    sigaction(SIGINT, &g_old_int, NULL);
    sigaction(SIGTERM, &g_old_term, NULL);
    g_installed = false;
}

int cli_signal_caught(void) { return cli_dist_signal(g_sig); }

int cli_signal_local(void) { return g_sig; }

bool cli_stop_requested(void *ctx) {
    (void)ctx;
    return g_sig != 0;
}

int cli_interrupted(long long done, bool during, const char *ckpt) {
    int s = cli_signal_caught() ? cli_signal_caught() : SIGINT;
    if (!cli_dist_writer()) return 128 + s; /* rank 0 says it for every process */
    const char *name = s == SIGTERM ? "SIGTERM" : "SIGINT";
    if (during) fprintf(stderr, "nabla: interrupted (%s) during epoch %lld", name, done + 1);
    else if (done > 0) fprintf(stderr, "nabla: interrupted (%s) after epoch %lld", name, done);
    else fprintf(stderr, "nabla: interrupted (%s) before training", name);
    if (ckpt)
        fprintf(stderr, "; the checkpoint of epoch %lld is %s: resume with nabla train --resume %s\n", done, ckpt,
                ckpt);
    else
        fprintf(stderr, "; no epoch was finished, so there is no checkpoint: run the command again to start over\n");
    return 128 + s;
}
