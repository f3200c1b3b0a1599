/* nabla: fused attention (nb_attention) against the same attention composed of ops (matmul,
 * transpose, scale, add of a -1e9 mask, softmax, matmul), forward + backward, and layer norm
 * (nb_layer_norm) against its composition (mean, sub, mul, sqrt, div). Each figure is the best
 * of several steps (forward, backward from sum(y * w), step reset) after a warm-up, in
 * milliseconds of wall time; the ratio composed / fused is what to read on a loaded machine.
 * Usage: bench_attn [N H T Dh [reps]]  (default 32 4 64 32, reps 10). Attention runs twice: with
 * key lengths spread over 1..T across the batch, as padded sentences are (the fused op skips the
 * padded keys), and without padding. The layer norm runs on (N*T, H*Dh). */
#define _POSIX_C_SOURCE 199309L
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static nb_tensor *leaf(int ndim, const int64_t *shape) {
    nb_tensor *t = nb_tensor_new(ndim, shape);
    nb_tensor_fill_uniform(t, -1.0f, 1.0f);
    nb_tensor_set_requires_grad(t, true);
    return t;
}

static nb_tensor *weighted(nb_tensor *y, const nb_tensor *w) {
    return nb_sum(nb_mul(y, (nb_tensor *)w), NB_ALL_AXES, false);
}

static nb_tensor *mask; /* (N, 1, T, T): 0 or -1e9 */

static nb_tensor *attn_composed(nb_tensor *q, nb_tensor *k, nb_tensor *v) {
    nb_tensor *s = nb_scale(nb_matmul(q, nb_transpose(k, 2, 3)), 1.0f / sqrtf((float)nb_tensor_size(q, 3)));
    return nb_matmul(nb_softmax(nb_add(s, mask), -1), v);
}

static nb_tensor *ln_composed(nb_tensor *x, nb_tensor *g, nb_tensor *b) {
    nb_tensor *c = nb_sub(x, nb_mean(x, -1, true));
    nb_tensor *var = nb_mean(nb_mul(c, c), -1, true);
    return nb_add(nb_mul(nb_div(c, nb_sqrt(nb_add_scalar(var, 1e-5f))), g), b);
}

/* Best wall time of reps forward + backward steps, in ms. which: 0 fused attention, 1 composed
 * attention, 2 fused layer norm, 3 composed layer norm. */
static double time_steps(int which, int reps, nb_tensor **in, nb_attn_opts o, const nb_tensor *w) {
    double best = INFINITY;
    for (int r = -2; r < reps; r++) {
        const double t0 = now();
        nb_tensor *y = which == 0 ? nb_attention(in[0], in[1], in[2], o)
                       : which == 1 ? attn_composed(in[0], in[1], in[2])
                       : which == 2 ? nb_layer_norm(in[0], in[1], in[2], 1e-5f)
                                    : ln_composed(in[0], in[1], in[2]);
        if (!y || nb_backward(weighted(y, w)) != NB_OK) {
            fprintf(stderr, "bench_attn: %s\n", nb_last_error());
            exit(1);
        }
        nb_step_reset();
        const double dt = now() - t0;
        if (r >= 0 && dt < best) best = dt;
    }
    return 1e3 * best;
}

int main(int argc, char **argv) {
    int64_t N = 32, H = 4, T = 64, Dh = 32;
    int reps = 10;
    if (argc >= 5) N = atoll(argv[1]), H = atoll(argv[2]), T = atoll(argv[3]), Dh = atoll(argv[4]);
    if (argc >= 6) reps = atoi(argv[5]);
    if (N < 1 || H < 1 || T < 1 || Dh < 1 || reps < 1) {
        fprintf(stderr, "usage: bench_attn [N H T Dh [reps]]\n");
        return 2;
    }
    nb_seed(1);
    const int64_t s4[4] = {N, H, T, Dh};
    nb_tensor *qkv[3] = {leaf(4, s4), leaf(4, s4), leaf(4, s4)};
    nb_tensor *w = nb_tensor_new(4, s4);
    nb_tensor_fill_uniform(w, -1.0f, 1.0f);
    nb_tensor *len = nb_index_new(1, &N);
    for (int64_t n = 0; n < N; n++) nb_tensor_idata(len)[n] = 1 + (n * 37) % T;
    mask = nb_tensor_new(4, (int64_t[]){N, 1, T, T});
    for (int64_t n = 0; n < N; n++)
        for (int64_t i = 0; i < T; i++)
            for (int64_t j = 0; j < T; j++) nb_tensor_data(mask)[(n * T + i) * T + j] = j < nb_tensor_idata(len)[n] ? 0 : -1e9f;
    nb_attn_opts o = nb_attn_defaults();
    o.lengths = len;
    const double fa = time_steps(0, reps, qkv, o, w), ca = time_steps(1, reps, qkv, o, w);
    /* No padding: every key seen (a zero mask for the composition). */
    nb_tensor_fill(mask, 0.0f);
    const double ff = time_steps(0, reps, qkv, nb_attn_defaults(), w), cf = time_steps(1, reps, qkv, o, w);

    const int64_t R = N * T, D = H * Dh;
    nb_tensor *ln[3] = {leaf(2, (int64_t[]){R, D}), leaf(1, &D), leaf(1, &D)};
    nb_tensor *lw = nb_tensor_new(2, (int64_t[]){R, D});
    nb_tensor_fill_uniform(lw, -1.0f, 1.0f);
    const double fl = time_steps(2, reps, ln, o, lw), cl = time_steps(3, reps, ln, o, lw);

    printf("threads %d, best of %d forward+backward steps (ms)\n", nb_get_threads(), reps);
    printf("attention  N %lld H %lld T %lld Dh %lld (key lengths 1..T): fused %8.3f  composed %8.3f  ratio %.2f\n",
           (long long)N, (long long)H, (long long)T, (long long)Dh, fa, ca, ca / fa);
    printf("attention  N %lld H %lld T %lld Dh %lld (no padding):        fused %8.3f  composed %8.3f  ratio %.2f\n",
           (long long)N, (long long)H, (long long)T, (long long)Dh, ff, cf, cf / ff);
    printf("layer_norm (%lld, %lld) with gamma, beta:            fused %8.3f  composed %8.3f  ratio %.2f\n",
           (long long)R, (long long)D, fl, cl, cl / fl);
    nb_tensor *t[] = {qkv[0], qkv[1], qkv[2], w, len, mask, ln[0], ln[1], ln[2], lw};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) nb_tensor_free(t[i]);
    return 0;
}
