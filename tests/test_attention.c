/* Fused attention (nb_attention) against its composition from existing ops, the reference:
 *   softmax(scale * q k^T + mask) v  =  nb_matmul(nb_softmax(nb_add(nb_scale(nb_matmul(q,
 *   nb_transpose(k)), scale), mask), -1), v), the mask -1e9 where a key is padding or in the
 *   future (and nb_dropout on the probabilities for dropout, drawn from the same seed).
 * Forward and the gradients of q, k and v at several shapes, with key lengths, causal, both;
 * padded keys that change nothing (even NaN there); dropout (reproducible, p = 0, the
 * 1/(1-p) scaling in the mean over many draws); threads; bad input. */
#include "check.h"
#include "internal.h"

#include <math.h>

static nb_tensor *rand_leaf(int64_t N, int64_t H, int64_t T, int64_t Dh) {
    nb_tensor *t = nb_tensor_new(4, (int64_t[]){N, H, T, Dh});
    nb_tensor_fill_uniform(t, -1.0f, 1.0f);
    nb_tensor_set_requires_grad(t, true);
    return t;
}

/* sum(y * w) for fixed pseudo-random w. */
static nb_tensor *weighted(nb_tensor *y) {
    if (!y) return NULL;
    nb_tensor *w = nb_step_tensor(nb_tensor_ndim(y), nb_tensor_shape(y), NULL);
    float *d = nb_tensor_data(w);
    for (int64_t i = 0; i < nb_tensor_numel(y); i++) d[i] = (float)((i * 37 % 17) - 8) / 8.0f;
    return nb_sum(nb_mul(y, w), NB_ALL_AXES, false);
}

/* The reference: the same attention composed of ops. */
static nb_tensor *composed(nb_tensor *q, nb_tensor *k, nb_tensor *v, nb_attn_opts o) {
    const int64_t N = nb_tensor_size(q, 0), Tq = nb_tensor_size(q, 2), Tk = nb_tensor_size(k, 2);
    const float scale = o.scale > 0 ? o.scale : 1.0f / sqrtf((float)nb_tensor_size(q, 3));
    nb_tensor *mask = nb_step_tensor(4, (int64_t[]){N, 1, Tq, Tk}, NULL); /* (N, 1, Tq, Tk) */
    float *m = nb_tensor_data(mask);
    for (int64_t n = 0; n < N; n++)
        for (int64_t i = 0; i < Tq; i++)
            for (int64_t j = 0; j < Tk; j++) {
                bool off = (o.lengths && j >= nb_tensor_idata(o.lengths)[n]) || (o.causal && j > i);
                m[(n * Tq + i) * Tk + j] = off ? -1e9f : 0.0f;
            }
    nb_tensor *s = nb_scale(nb_matmul(q, nb_transpose(k, 2, 3)), scale);
    nb_tensor *p = nb_softmax(nb_add(s, mask), -1);
    if (o.training && o.dropout > 0) p = nb_dropout(p, o.dropout, true);
    return nb_matmul(p, v);
}

typedef struct {
    float *out, *g[3];
    int64_t nout, n[3];
} result;

static float *copy_of(const float *src, int64_t n) {
    float *d = malloc((size_t)(n ? n : 1) * sizeof(float));
    if (n) memcpy(d, src, (size_t)n * sizeof(float));
    return d;
}

/* Runs fused (or composed) attention forward and backward from fresh gradients; NULL out on
 * failure (the message is left in nb_last_error). */
static result run(bool fused, nb_tensor **qkv, nb_attn_opts o, uint64_t seed) {
    result r = {0};
    for (int i = 0; i < 3; i++) nb_tensor_zero_grad(qkv[i]);
    nb_seed(seed);
    nb_tensor *y = fused ? nb_attention(qkv[0], qkv[1], qkv[2], o) : composed(qkv[0], qkv[1], qkv[2], o);
    nb_tensor *loss = weighted(y);
    if (!y || !loss || nb_backward(loss) != NB_OK) {
        nb_step_reset();
        return r;
    }
    r.nout = nb_tensor_numel(y);
    r.out = copy_of(nb_tensor_data(y), r.nout);
    for (int i = 0; i < 3; i++) {
        r.n[i] = nb_tensor_numel(qkv[i]);
        r.g[i] = copy_of(nb_tensor_grad(qkv[i]), r.n[i]);
    }
    nb_step_reset();
    return r;
}

static void result_free(result *r) {
    free(r->out);
    for (int i = 0; i < 3; i++) free(r->g[i]);
}

/* Worst |a - b| / (atol + rtol |b|) over n values (NaN counts as failing). */
static double worst_ratio(const float *a, const float *b, int64_t n) {
    double w = 0;
    for (int64_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - (double)b[i]) / (1e-5 + 1e-4 * fabs((double)b[i]));
        if (!(e <= w)) w = isnan(e) ? INFINITY : e;
    }
    return w;
}

static bool same_bits(const float *a, const float *b, int64_t n) { return !memcmp(a, b, (size_t)n * sizeof(float)); }

static nb_tensor *lengths_for(int64_t N, int64_t Tk) {
    nb_tensor *l = nb_index_new(1, &N);
    for (int64_t n = 0; n < N; n++) /* full, 1, then spread over 1..Tk */
        nb_tensor_idata(l)[n] = n == 0 ? Tk : n == 1 ? 1 : 1 + (n * 5) % Tk;
    return l;
}

/* Fused against composed at one shape and mode, forward and all gradients. */
static void check_shape(int64_t N, int64_t H, int64_t Tq, int64_t Tk, int64_t Dh, bool lengths, bool causal) {
    nb_seed(7 + (uint64_t)(N * 1000 + Tq * 10 + Dh));
    nb_tensor *qkv[3] = {rand_leaf(N, H, Tq, Dh), rand_leaf(N, H, Tk, Dh), rand_leaf(N, H, Tk, Dh)};
    nb_attn_opts o = nb_attn_defaults();
    o.lengths = lengths ? lengths_for(N, Tk) : NULL;
    o.causal = causal;
    result f = run(true, qkv, o, 1), c = run(false, qkv, o, 1);
    CHECK(f.out && c.out, "(%lld,%lld,%lld,%lld,%lld) lengths %d causal %d: %s", (long long)N, (long long)H,
          (long long)Tq, (long long)Tk, (long long)Dh, lengths, causal, nb_last_error());
    if (f.out && c.out) {
        double w = worst_ratio(f.out, c.out, f.nout);
        for (int i = 0; i < 3; i++) {
            double wg = worst_ratio(f.g[i], c.g[i], f.n[i]);
            w = wg > w ? wg : w;
        }
        CHECK(w <= 1.0, "N %lld H %lld Tq %lld Tk %lld Dh %lld lengths %d causal %d: fused vs composed, worst "
              "error/tolerance %.3g", (long long)N, (long long)H, (long long)Tq, (long long)Tk, (long long)Dh,
              lengths, causal, w);
        printf("  N %lld H %lld Tq %2lld Tk %2lld Dh %2lld lengths %d causal %d: worst error/tolerance %.3f\n",
               (long long)N, (long long)H, (long long)Tq, (long long)Tk, (long long)Dh, lengths, causal, w);
    }
    result_free(&f);
    result_free(&c);
    nb_tensor_free(o.lengths);
    for (int i = 0; i < 3; i++) nb_tensor_free(qkv[i]);
}

static void test_against_composition(void) {
    static const int64_t shapes[][5] = {
        {1, 1, 1, 1, 8}, {2, 4, 1, 1, 16}, {2, 4, 5, 7, 16}, {3, 1, 9, 9, 32}, {3, 4, 6, 6, 8}, {4, 4, 33, 33, 32},
    };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int64_t *d = shapes[s];
        for (int mode = 0; mode < 4; mode++) {
            bool lengths = mode & 1, causal = mode & 2;
            if (causal && d[2] != d[3]) continue;
            check_shape(d[0], d[1], d[2], d[3], d[4], lengths, causal);
        }
    }
}

/* Keys at and past a sample's length: other values there (even NaN) change no output and no
 * gradient, and get exactly zero gradient; q rows past the length change only their own rows. */
static void test_padding(void) {
    const int64_t N = 3, H = 2, T = 6, Dh = 8;
    for (int causal = 0; causal < 2; causal++) {
        nb_seed(11);
        nb_tensor *qkv[3] = {rand_leaf(N, H, T, Dh), rand_leaf(N, H, T, Dh), rand_leaf(N, H, T, Dh)};
        nb_attn_opts o = nb_attn_defaults();
        o.lengths = lengths_for(N, T); /* 6, 1, 5 */
        o.causal = causal;
        result a = run(true, qkv, o, 1);
        const int64_t *len = nb_tensor_idata(o.lengths);
        for (int i = 1; i < 3; i++) /* k and v at padded keys: NaN, huge */
            for (int64_t n = 0; n < N; n++)
                for (int64_t h = 0; h < H; h++)
                    for (int64_t j = len[n]; j < T; j++)
                        for (int64_t e = 0; e < Dh; e++)
                            nb_tensor_data(qkv[i])[((n * H + h) * T + j) * Dh + e] = (j + e) % 2 ? NAN : 1e30f;
        result b = run(true, qkv, o, 1);
        CHECK(a.out && b.out, "padding: %s", nb_last_error());
        if (a.out && b.out) {
            CHECK(same_bits(a.out, b.out, a.nout), "causal %d: padded keys changed an output", causal);
            CHECK(same_bits(a.g[0], b.g[0], a.n[0]), "causal %d: padded keys changed the gradient of q", causal);
            for (int i = 1; i < 3; i++) {
                CHECK(same_bits(a.g[i], b.g[i], a.n[i]), "causal %d: padded keys changed the gradient of %c", causal,
                      "qkv"[i]);
                int nonzero = 0;
                for (int64_t n = 0; n < N; n++)
                    for (int64_t h = 0; h < H; h++)
                        for (int64_t j = len[n]; j < T; j++)
                            for (int64_t e = 0; e < Dh; e++) nonzero += b.g[i][((n * H + h) * T + j) * Dh + e] != 0.0f;
                CHECK(nonzero == 0, "causal %d: %d gradient elements of %c at padded keys are not 0", causal, nonzero,
                      "qkv"[i]);
            }
        }
        /* q at padded query rows: those rows change, no other. */
        for (int64_t n = 0; n < N; n++)
            for (int64_t h = 0; h < H; h++)
                for (int64_t i = len[n]; i < T; i++)
                    for (int64_t e = 0; e < Dh; e++) nb_tensor_data(qkv[0])[((n * H + h) * T + i) * Dh + e] += 0.5f;
        result c = run(true, qkv, o, 1);
        if (b.out && c.out) {
            int changed = 0, padded_changed = 0;
            for (int64_t n = 0; n < N; n++)
                for (int64_t h = 0; h < H; h++)
                    for (int64_t i = 0; i < T; i++)
                        for (int64_t e = 0; e < Dh; e++) {
                            int64_t at = ((n * H + h) * T + i) * Dh + e;
                            if (i < len[n]) changed += b.out[at] != c.out[at];
                            else padded_changed += b.out[at] != c.out[at];
                        }
            CHECK(changed == 0, "causal %d: padded queries changed %d outputs of real queries", causal, changed);
            CHECK(padded_changed > 0, "causal %d: padded query rows are not computed", causal);
        }
        result_free(&a);
        result_free(&b);
        result_free(&c);
        nb_tensor_free(o.lengths);
        for (int i = 0; i < 3; i++) nb_tensor_free(qkv[i]);
    }
}

/* The mask is drawn in bulk with the numbers of one nb_rng_uniform call per probability, in
 * (n, h, i, j) order, so seeded runs keep their bits. With q = 0 every probability is 1/T, and
 * with v (N, H, T, T) the identity per block, out[n, h, i, j] = keep(n, h, i, j) / (T (1 - p)):
 * the output shows the mask. The RNG is left where the per-element calls leave it. */
static void test_dropout_draws(void) {
    const int64_t N = 3, H = 2, T = 37; /* 6 * 37 * 37 = 8214 draws: several bulk chunks */
    const float p = 0.3f;
    nb_tensor *q = nb_tensor_new(4, (int64_t[]){N, H, T, T}), *v = nb_tensor_new(4, (int64_t[]){N, H, T, T});
    nb_tensor_fill(q, 0.0f);
    nb_tensor_fill(v, 0.0f);
    for (int64_t b = 0; b < N * H; b++)
        for (int64_t j = 0; j < T; j++) nb_tensor_data(v)[(b * T + j) * T + j] = 1.0f;
    nb_attn_opts o = nb_attn_defaults();
    o.dropout = p;
    o.training = true;
    nb_seed(77);
    nb_tensor *out = nb_attention(q, q, v, o);
    uint64_t after[4], ref[4];
    nb_rng_get_state(after);
    nb_seed(77);
    int64_t wrong = out ? 0 : -1;
    for (int64_t i = 0; out && i < N * H * T * T; i++) {
        const bool kept = nb_rng_uniform() >= p, seen = nb_tensor_data(out)[i] != 0.0f;
        wrong += kept != seen;
    }
    nb_rng_get_state(ref);
    CHECK(wrong == 0, "attention dropout: %lld of %lld mask entries differ from per-element nb_rng_uniform draws (%s)",
          (long long)wrong, (long long)(N * H * T * T), out ? "" : nb_last_error());
    CHECK(memcmp(after, ref, sizeof ref) == 0, "attention dropout: the RNG state after differs");
    nb_step_reset();
    nb_tensor_free(q);
    nb_tensor_free(v);
}

/* Dropout on the probabilities. */
static void test_dropout(void) {
    const int64_t N = 2, H = 2, T = 16, Dh = 8;
    nb_seed(5);
    nb_tensor *qkv[3] = {rand_leaf(N, H, T, Dh), rand_leaf(N, H, T, Dh), rand_leaf(N, H, T, Dh)};
    nb_attn_opts plain = nb_attn_defaults(), o = plain;
    plain.lengths = o.lengths = lengths_for(N, T);
    o.dropout = 0.4f;
    o.training = true;
    result base = run(true, qkv, plain, 1), a = run(true, qkv, o, 99), b = run(true, qkv, o, 99), c = run(true, qkv, o, 100);
    CHECK(base.out && a.out && b.out && c.out, "dropout: %s", nb_last_error());
    if (base.out && a.out && b.out && c.out) {
        CHECK(same_bits(a.out, b.out, a.nout) && same_bits(a.g[0], b.g[0], a.n[0]) &&
                  same_bits(a.g[2], b.g[2], a.n[2]),
              "a seeded dropout run is not reproducible");
        CHECK(!same_bits(a.out, c.out, a.nout), "two seeds gave the same dropout");
        CHECK(!same_bits(a.out, base.out, a.nout), "dropout 0.4 in training changed nothing");
    }
    /* The same mask as nb_dropout on the composed probabilities, drawn from the same seed. */
    result ref = run(false, qkv, o, 99);
    if (a.out && ref.out) {
        double w = worst_ratio(a.out, ref.out, a.nout);
        for (int i = 0; i < 3; i++) {
            double wg = worst_ratio(a.g[i], ref.g[i], a.n[i]);
            w = wg > w ? wg : w;
        }
        CHECK(w <= 1.0, "dropout: fused vs composed with nb_dropout, worst error/tolerance %.3g", w);
    }
    /* p = 0 in training, and p > 0 not training: no dropout at all. */
    nb_attn_opts z = plain;
    z.training = true;
    result p0 = run(true, qkv, z, 3);
    o.training = false;
    result ev = run(true, qkv, o, 3);
    if (base.out && p0.out && ev.out) {
        CHECK(same_bits(p0.out, base.out, base.nout) && same_bits(p0.g[1], base.g[1], base.n[1]),
              "dropout 0 in training differs from no dropout");
        CHECK(same_bits(ev.out, base.out, base.nout), "dropout out of training differs from no dropout");
    }
    /* Kept probabilities are scaled by 1/(1-p): the mean output over many draws is the output
     * without dropout. Each element's mean is held to 5 standard errors (from the draws' own
     * spread); without the scaling the means would be half the outputs, hundreds of errors off. */
    o.training = true;
    o.dropout = 0.5f;
    const int draws = 3000;
    double *acc = calloc((size_t)base.nout, sizeof(double)), *acc2 = calloc((size_t)base.nout, sizeof(double));
    nb_seed(2024);
    nb_no_grad_begin();
    for (int d = 0; d < draws; d++) {
        nb_tensor *y = nb_attention(qkv[0], qkv[1], qkv[2], o);
        if (!y) break;
        for (int64_t i = 0; i < base.nout; i++) {
            acc[i] += nb_tensor_data(y)[i];
            acc2[i] += (double)nb_tensor_data(y)[i] * nb_tensor_data(y)[i];
        }
        nb_step_reset();
    }
    nb_no_grad_end();
    double worst = 0;
    for (int64_t i = 0; i < base.nout && base.out; i++) {
        const double m = acc[i] / draws, sd = sqrt(fmax(acc2[i] / draws - m * m, 0.0));
        const double zs = fabs(m - base.out[i]) / (sd / sqrt((double)draws) + 1e-6);
        worst = zs > worst ? zs : worst;
    }
    CHECK(base.out && worst < 5.0, "dropout 0.5: the mean over %d draws is %.2f standard errors from the output "
          "without dropout", draws, worst);
    printf("  dropout 0.5: mean of %d draws within %.2f standard errors of the output without dropout\n", draws,
           worst);
    free(acc2);
    free(acc);
    result_free(&base);
    result_free(&a);
    result_free(&b);
    result_free(&c);
    result_free(&ref);
    result_free(&p0);
    result_free(&ev);
    nb_tensor_free(plain.lengths);
    for (int i = 0; i < 3; i++) nb_tensor_free(qkv[i]);
}

/* Blocks are independent: 1 and 3 threads give the same bits (on a size that runs the
 * parallel path), and a non-contiguous q (a transposed view) the same values as its copy. */
static void test_threads_and_views(void) {
    const int64_t N = 4, H = 4, T = 24, Dh = 32;
    nb_seed(9);
    nb_tensor *qkv[3] = {rand_leaf(N, H, T, Dh), rand_leaf(N, H, T, Dh), rand_leaf(N, H, T, Dh)};
    nb_attn_opts o = nb_attn_defaults();
    o.lengths = lengths_for(N, T);
    o.causal = true;
    const int saved = nb_get_threads();
    nb_set_threads(1);
    result one = run(true, qkv, o, 1);
    nb_set_threads(3);
    result three = run(true, qkv, o, 1), again = run(true, qkv, o, 1);
    nb_set_threads(saved);
    CHECK(one.out && three.out && again.out, "threads: %s", nb_last_error());
    if (one.out && three.out && again.out) {
        CHECK(same_bits(three.out, again.out, one.nout) && same_bits(three.g[1], again.g[1], one.n[1]),
              "3 threads: two runs differ");
        double w = worst_ratio(three.out, one.out, one.nout);
        for (int i = 0; i < 3; i++) {
            double wg = worst_ratio(three.g[i], one.g[i], one.n[i]);
            w = wg > w ? wg : w;
        }
        CHECK(w <= 0.01, "1 and 3 threads differ: worst error/tolerance %.3g", w);
        printf("  1 vs 3 threads: %s\n", same_bits(three.out, one.out, one.nout) ? "same bits" : "within tolerance");
    }
    /* q given as the transpose of a (N, H, Dh, T) tensor. */
    nb_tensor *qt = nb_tensor_new(4, (int64_t[]){N, H, Dh, T});
    for (int64_t b = 0; b < N * H; b++)
        for (int64_t i = 0; i < T; i++)
            for (int64_t e = 0; e < Dh; e++)
                nb_tensor_data(qt)[(b * Dh + e) * T + i] = nb_tensor_data(qkv[0])[(b * T + i) * Dh + e];
    nb_tensor *y = nb_attention(nb_transpose(qt, 2, 3), qkv[1], qkv[2], o);
    CHECK(y && one.out, "a transposed q: %s", nb_last_error());
    if (y && one.out) CHECK(worst_ratio(nb_tensor_data(y), one.out, one.nout) <= 0.01, "a transposed q gives other values");
    nb_step_reset();
    nb_tensor_free(qt);
    result_free(&one);
    result_free(&three);
    result_free(&again);
    nb_tensor_free(o.lengths);
    for (int i = 0; i < 3; i++) nb_tensor_free(qkv[i]);
}

static void expect_error(nb_tensor *y, nb_status want, const char *needle, const char *what) {
    CHECK(y == NULL, "%s: accepted", what);
    CHECK(strstr(nb_last_error(), "nb_attention") && strstr(nb_last_error(), needle), "%s: message '%s' lacks '%s'",
          what, nb_last_error(), needle);
    (void)want;
    nb_clear_error();
    nb_step_reset();
}

static void test_errors(void) {
    nb_tensor *q = rand_leaf(2, 2, 3, 4), *k = rand_leaf(2, 2, 5, 4), *v = rand_leaf(2, 2, 5, 4);
    nb_tensor *k3 = nb_tensor_new(3, (int64_t[]){2, 5, 4}), *kd = rand_leaf(2, 2, 5, 6), *vn = rand_leaf(2, 2, 4, 4);
    nb_tensor *kn = rand_leaf(3, 2, 5, 4), *k0 = nb_tensor_new(4, (int64_t[]){2, 2, 0, 4});
    nb_attn_opts o = nb_attn_defaults();
    expect_error(nb_attention(q, k3, v, o), NB_ERR_SHAPE, "4-d", "3-d k");
    expect_error(nb_attention(q, kd, v, o), NB_ERR_SHAPE, "same N, H and Dh", "Dh mismatch");
    expect_error(nb_attention(q, k, vn, o), NB_ERR_SHAPE, "same N, H and Dh", "v unlike k");
    expect_error(nb_attention(q, kn, kn, o), NB_ERR_SHAPE, "same N, H and Dh", "N mismatch");
    expect_error(nb_attention(q, k0, k0, o), NB_ERR_SHAPE, "no keys", "Tk 0");
    o.causal = true;
    expect_error(nb_attention(q, k, v, o), NB_ERR_SHAPE, "Tq 3 != Tk 5", "causal with Tq != Tk");
    o = nb_attn_defaults();
    nb_tensor *len = nb_index_new(1, (int64_t[]){2});
    int64_t bad[][2] = {{0, 5}, {5, 6}, {-1, 2}};
    for (int i = 0; i < 3; i++) {
        memcpy(nb_tensor_idata(len), bad[i], sizeof bad[i]);
        o.lengths = len;
        expect_error(nb_attention(q, k, v, o), NB_ERR_ARG, "outside 1..5", "length out of range");
    }
    nb_tensor *len3 = nb_index_new(1, (int64_t[]){3}), *lenf = nb_tensor_new(1, (int64_t[]){2});
    o.lengths = len3;
    expect_error(nb_attention(q, k, v, o), NB_ERR_SHAPE, "lengths (3) must be", "lengths of the wrong size");
    o.lengths = lenf;
    expect_error(nb_attention(q, k, v, o), NB_ERR_DTYPE, "int64", "float lengths");
    o = nb_attn_defaults();
    o.dropout = 1.0f;
    expect_error(nb_attention(q, k, v, o), NB_ERR_ARG, "dropout must be in [0, 1)", "dropout 1");
    o.dropout = 0.0f;
    o.scale = NAN;
    expect_error(nb_attention(q, k, v, o), NB_ERR_ARG, "scale must be finite", "NaN scale");
    expect_error(nb_attention(q, NULL, v, nb_attn_defaults()), NB_ERR_ARG, "NULL", "NULL k");
    nb_tensor *t[] = {q, k, v, k3, kd, vn, kn, k0, len, len3, lenf};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) nb_tensor_free(t[i]);
}

int main(void) {
    test_against_composition();
    test_padding();
    test_dropout();
    test_dropout_draws();
    test_threads_and_views();
    test_errors();
    return test_end("test_attention");
}
