/* nabla: tests of the compute kernels (src/kernels) other than the matrix products
 * (tests/test_gemm.c). Each fast kernel is compared with its naive twin on odd sizes; the naive
 * conv twins are themselves checked through the adjoint identity, pooling against hand-computed
 * values and a brute-force reference, softmax's backward against finite differences,
 * fastmath.h's erf/erfc and nb_gelu against libm's erf. Prints one line per check; exits nonzero
 * on failure. */
#include "kernel_check.h"
#include "kernels/conv_impl.h"
#include "kernels/kernels.h"
#include "kernels/fastmath.h"
#include "nabla/nabla.h"

/* ---- convolution --------------------------------------------------------------------------- */
typedef struct { int64_t N, C, H, W, O, KH, KW, SH, SW, PH, PW, DH, DW, G; int bias; } conv_case;

static nb__conv_geom conv_geom_of(const conv_case *c) {
    nb__conv_geom g = {c->N, c->C, c->H, c->W, c->O, c->KH, c->KW, c->SH, c->SW, c->PH, c->PW,
                       c->DH, c->DW, c->G, 0, 0, 0, 0};
    return g;
}

/* Every fast conv kernel on one geometry, with the current thread count and block size,
 * against the naive twins: conv2d forward, input gradient, weight and bias gradients (apart
 * and fused in one call), conv_transpose2d forward and backward. Outputs that are overwritten
 * start as NaN, accumulated ones from random values; the workspace starts as NaN. The plan is
 * made as the ops make it, then each kernel runs twice and must repeat itself bitwise. */
/* The stored input gradient (gx_set: the buffer, full of NaNs, is never read) has the values of
 * the gradient added to zeros, for conv2d (with and without its weight gradient: the shared
 * gather) and conv_transpose2d; == compares them (-0.0 and 0.0 alike). */
static int values_equal(const float *a, const float *b, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (!(a[i] == b[i])) return 0;
    return 1;
}
static int set_matches(const nb__conv_geom *g, const float *x, const float *w, const float *gy, const float *gyt,
                       float *ws) {
    const int64_t nx = g->N * g->C * g->H * g->W, ny = g->N * g->O * g->OH * g->OW;
    const int64_t nw = g->O * (g->C / g->groups) * g->KH * g->KW;
    float *z = calloc((size_t)nx, sizeof(float)), *s = malloc((size_t)nx * sizeof(float));
    float *gw = calloc((size_t)nw, sizeof(float)), *zt = calloc((size_t)ny, sizeof(float));
    float *st = malloc((size_t)ny * sizeof(float));
    nb__conv2d_bwd(g, x, w, gy, z, 0, NULL, NULL, ws);
    fill(s, nx, NAN);
    nb__conv2d_bwd(g, x, w, gy, s, 1, NULL, NULL, ws);
    int ok = values_equal(s, z, nx);
    fill(s, nx, NAN);
    nb__conv2d_bwd(g, x, w, gy, s, 1, gw, NULL, ws);
    ok &= values_equal(s, z, nx);
    nb__conv_transpose2d_bwd(g, gy, w, gyt, zt, 0, NULL, NULL, ws);
    fill(st, ny, NAN);
    nb__conv_transpose2d_bwd(g, gy, w, gyt, st, 1, gw, NULL, ws);
    ok &= values_equal(st, zt, ny);
    free(z), free(s), free(gw), free(zt), free(st);
    return ok;
}

static void test_conv_setting(const conv_case *c, const char *setting) {
    nb__conv_geom g = conv_geom_of(c);
    if (nb__conv_geom_finish(&g) != 0) {
        check(0, "conv geometry unexpectedly empty");
        return;
    }
    nb__conv_plan(&g);
    char name[200];
    snprintf(name, sizeof name,
             "conv N%lld C%lld %lldx%lld O%lld k%lldx%lld s%lld,%lld p%lld,%lld d%lld,%lld g%lld%s [%s, T%lld, %lld blocks]",
             (long long)g.N, (long long)g.C, (long long)g.H, (long long)g.W, (long long)g.O,
             (long long)g.KH, (long long)g.KW, (long long)g.SH, (long long)g.SW,
             (long long)g.PH, (long long)g.PW, (long long)g.DH, (long long)g.DW,
             (long long)g.groups, c->bias ? " bias" : "", setting, (long long)g.T, (long long)g.nblk);
    const int64_t nx = g.N * g.C * g.H * g.W, ny = g.N * g.O * g.OH * g.OW;
    const int64_t nw = g.O * (g.C / g.groups) * g.KH * g.KW;
    const size_t nws = nb__conv_workspace(&g);
    float *x = rnd(nx), *w = rnd(nw), *b = rnd(g.O), *bt = rnd(g.C), *gy = rnd(ny), *gyt = rnd(nx);
    float *ws = malloc(nws * sizeof(float)), *out[2][4];
    float *gx_0 = rnd(nx), *gw_0 = rnd(nw), *gb_0 = rnd(g.O); /* where the gradients start */
    double e[10] = {0};
    /* conv2d: forward; input gradient; weight and bias gradients; all three fused. Twice, to
     * repeat bitwise; the first time against the naive twins. */
    for (int rep = 0; rep < 2; rep++) {
        float *y = malloc((size_t)ny * sizeof(float)), *gx = dup(gx_0, nx), *gw = dup(gw_0, nw);
        float *gb = dup(gb_0, g.O), *gx2 = dup(gx_0, nx), *gw2 = dup(gw_0, nw), *gb2 = dup(gb_0, g.O);
        fill(y, ny, NAN), fill(ws, (int64_t)nws, NAN);
        nb__conv2d_fwd(&g, x, w, c->bias ? b : NULL, y, ws);
        fill(ws, (int64_t)nws, NAN);
        nb__conv2d_bwd_data(&g, w, gy, gx, ws);
        fill(ws, (int64_t)nws, NAN);
        nb__conv2d_bwd_weight(&g, x, gy, gw, c->bias ? gb : NULL, ws);
        fill(ws, (int64_t)nws, NAN);
        nb__conv2d_bwd(&g, x, w, gy, gx2, 0, gw2, c->bias ? gb2 : NULL, ws);
        if (rep == 0) {
            float *y0 = malloc((size_t)ny * sizeof(float)), *gx0 = dup(gx_0, nx);
            float *gw0 = dup(gw_0, nw), *gb0 = dup(gb_0, g.O);
            fill(y0, ny, NAN);
            nb__conv2d_fwd_naive(&g, x, w, c->bias ? b : NULL, y0);
            nb__conv2d_bwd_data_naive(&g, w, gy, gx0);
            nb__conv2d_bwd_weight_naive(&g, x, gy, gw0, c->bias ? gb0 : NULL);
            e[0] = max_err(y, y0, ny), e[1] = max_err(gx, gx0, nx), e[2] = max_err(gw, gw0, nw);
            e[3] = c->bias ? fmax(max_err(gb, gb0, g.O), max_err(gb2, gb0, g.O)) : 0.0;
            e[4] = fmax(max_err(gx2, gx0, nx), max_err(gw2, gw0, nw));
            free(y0), free(gx0), free(gw0), free(gb0);
        }
        out[rep][0] = y, out[rep][1] = gx, out[rep][2] = gw, out[rep][3] = gw2;
        free(gb), free(gx2), free(gb2);
    }
    int same = !memcmp(out[0][0], out[1][0], (size_t)ny * 4) && !memcmp(out[0][1], out[1][1], (size_t)nx * 4);
    same &= !memcmp(out[0][2], out[1][2], (size_t)nw * 4) && !memcmp(out[0][3], out[1][3], (size_t)nw * 4);
    for (int k = 0; k < 4; k++) free(out[0][k]), free(out[1][k]);
    free(gx_0), free(gw_0), free(gb_0);
    same &= set_matches(&g, x, w, gy, gyt, ws);
    /* conv_transpose2d: x (N, O, OH, OW) -> y (N, C, H, W), bias (C); backward from gyt */
    {
        float *yt = malloc((size_t)nx * sizeof(float)), *yt0 = malloc((size_t)nx * sizeof(float));
        fill(yt, nx, NAN), fill(yt0, nx, NAN), fill(ws, (int64_t)nws, NAN);
        nb__conv_transpose2d_fwd(&g, gy, w, c->bias ? bt : NULL, yt, ws);
        nb__conv_transpose2d_fwd_naive(&g, gy, w, c->bias ? bt : NULL, yt0);
        e[5] = max_err(yt, yt0, nx);
        float *gxt = rnd(ny), *gwt = rnd(nw), *gbt = rnd(g.C);
        float *gxt0 = dup(gxt, ny), *gwt0 = dup(gwt, nw), *gbt0 = dup(gbt, g.C);
        fill(ws, (int64_t)nws, NAN);
        nb__conv_transpose2d_bwd(&g, gy, w, gyt, gxt, 0, gwt, c->bias ? gbt : NULL, ws);
        nb__conv_transpose2d_bwd_naive(&g, gy, w, gyt, gxt0, gwt0, c->bias ? gbt0 : NULL);
        e[6] = max_err(gxt, gxt0, ny), e[7] = max_err(gwt, gwt0, nw);
        e[8] = c->bias ? max_err(gbt, gbt0, g.C) : 0.0;
        /* each gradient alone (the others NULL) adds the same */
        float *gxt1 = dup(gxt0, ny), *gwt1 = dup(gwt0, nw);
        nb__conv_transpose2d_bwd_naive(&g, gy, w, gyt, gxt1, NULL, NULL);
        nb__conv_transpose2d_bwd(&g, gy, w, gyt, gxt0, 0, NULL, NULL, ws);
        nb__conv_transpose2d_bwd_naive(&g, gy, w, gyt, NULL, gwt1, NULL);
        nb__conv_transpose2d_bwd(&g, gy, w, gyt, NULL, 0, gwt0, NULL, ws);
        e[9] = fmax(max_err(gxt0, gxt1, ny), max_err(gwt0, gwt1, nw));
        free(yt), free(yt0), free(gxt), free(gwt), free(gbt), free(gxt0), free(gwt0), free(gbt0);
        free(gxt1), free(gwt1);
    }
    double worst = 0.0;
    for (int k = 0; k < 10; k++) worst = fmax(worst, e[k] != e[k] ? 1.0 : e[k]);
    check(worst < TOL && same, /* same: also the stored input gradients (set_matches) */
          "%s%s%s: vs naive fwd %.1e data %.1e wgt %.1e bias %.1e fused %.1e; transposed fwd %.1e "
          "data %.1e wgt %.1e bias %.1e alone %.1e; bitwise repeatable %d",
          name, nb__conv_direct_ok(&g) ? " direct" : "", nb__conv_direct_data_ok(&g) ? " direct-data" : "", e[0], e[1], e[2], e[3], e[4], e[5], e[6],
          e[7], e[8], e[9], same);
    free(x), free(w), free(b), free(bt), free(gy), free(gyt), free(ws);
}

/* Each case under 1, 2 and 3 threads, and with the default block, blocks of one sample and
 * blocks of two (so that N is not a multiple of the block). */
static void test_conv_case(const conv_case *c) {
    nb__conv_geom g = conv_geom_of(c);
    nb__conv_geom_finish(&g);
    const int64_t per = g.C * g.KH * g.KW * g.OH * g.OW;
    const int64_t blocks[3] = {0, 1, 2 * per + 1};
    static const char *bname[3] = {"default block", "block 1", "block 2"};
    for (int t = 1; t <= 3; t++)
        for (int k = 0; k < 3; k++) {
            nb_set_threads(t);
            nb__conv_set_block(blocks[k]);
            test_conv_setting(c, bname[k]);
        }
    nb__conv_set_block(0);
    nb_set_threads(2);
}

/* The naive twins against each other: <conv(x, w), gy> = <x, dx> = <w, dw> (no bias), with
 * dx and dw the gradients accumulated onto zero; sum(db) = sum(gy). */
static void test_conv_adjoint(const conv_case *c) {
    nb__conv_geom g = conv_geom_of(c);
    nb__conv_geom_finish(&g);
    const int64_t nx = g.N * g.C * g.H * g.W, ny = g.N * g.O * g.OH * g.OW;
    const int64_t nw = g.O * (g.C / g.groups) * g.KH * g.KW;
    float *x = rnd(nx), *w = rnd(nw), *gy = rnd(ny), *y = malloc((size_t)ny * sizeof(float));
    float *gx = calloc((size_t)nx, sizeof(float)), *gw = calloc((size_t)nw, sizeof(float));
    float *gb = calloc((size_t)g.O, sizeof(float));
    nb__conv2d_fwd_naive(&g, x, w, NULL, y);
    nb__conv2d_bwd_data_naive(&g, w, gy, gx);
    nb__conv2d_bwd_weight_naive(&g, x, gy, gw, gb);
    double s0 = dot(y, gy, ny), s1 = dot(x, gx, nx), s2 = dot(w, gw, nw), s3 = 0.0, sb = 0.0;
    for (int64_t i = 0; i < ny; i++) s3 += gy[i];
    for (int64_t o = 0; o < g.O; o++) sb += gb[o];
    double tol = 1e-5 * (fabs(s0) + (double)ny);
    check(fabs(s0 - s1) < tol && fabs(s0 - s2) < tol && fabs(sb - s3) < tol,
          "conv naive twins N%lld C%lld O%lld k%lldx%lld: adjoint <y,gy>=%.6f <x,gx>=%.6f <w,gw>=%.6f, sum(gb)=sum(gy)",
          (long long)g.N, (long long)g.C, (long long)g.O, (long long)g.KH, (long long)g.KW, s0, s1, s2);
    free(x), free(w), free(gy), free(y), free(gx), free(gw), free(gb);
}

/* Signed zeros among the values, where col2im's vector tails (which add -0.0 past a run) and a
 * sum's first term would show a changed sign. */
static void sprinkle_zeros(float *p, int64_t n) {
    for (int64_t i = 0; i < n; i += 7) p[i] = -0.0f;
    for (int64_t i = 3; i < n; i += 11) p[i] = 0.0f;
}

/* The block im2col/col2im (through the staging plane) against the per-row versions: the same
 * columns, and col2im's sums bitwise the same (same order), accumulating, overwriting with a
 * bias and overwriting without one. Samples [1, N) of a block with slack after each row; the
 * plane starts as garbage, and im2col runs again after col2im has written into it. */
static void test_im2col_block(const conv_case *c) {
    nb__conv_geom g = conv_geom_of(c);
    nb__conv_geom_finish(&g);
    nb__conv_stage st;
    nb__conv_stage_dims(&g, &st);
    const int64_t P = g.OH * g.OW, K = g.C * g.KH * g.KW, CHW = g.C * g.H * g.W;
    const int64_t n0 = 1, n1 = g.N, ld = (n1 - n0) * P + NB_COL_SLACK;
    float *x = rnd(g.N * CHW), *col = malloc((size_t)(K * ld) * sizeof(float));
    float *ref = malloc((size_t)(K * P) * sizeof(float)), *stage = malloc((size_t)(st.floats + NB_COL_SLACK) * sizeof(float));
    float *c2 = rnd(K * ld), *b = rnd(g.C), *xa = rnd(g.N * CHW), *xb, *xo, *xz;
    float *xr = malloc((size_t)CHW * sizeof(float)), *col2 = malloc((size_t)(K * ld) * sizeof(float));
    sprinkle_zeros(x, g.N * CHW), sprinkle_zeros(c2, K * ld), sprinkle_zeros(xa, g.N * CHW);
    xb = dup(xa, g.N * CHW), xo = dup(xa, g.N * CHW), xz = dup(xa, g.N * CHW);
    fill(col, K * ld, NAN), fill(col2, K * ld, NAN), fill(stage, st.floats + NB_COL_SLACK, NAN);
    nb__im2col_block(&g, &st, x, n0, n1, col, ld, stage);
    nb__col2im_block(&g, &st, c2, ld, n0, n1, xa, NULL, 0, stage);
    nb__col2im_block(&g, &st, c2, ld, n0, n1, xo, b, 1, stage);
    nb__col2im_block(&g, &st, c2, ld, n0, n1, xz, NULL, 1, stage);
    nb__im2col_block(&g, &st, x, n0, n1, col2, ld, stage); /* on the plane col2im left */
    int cols_ok = 1, acc_ok = 1, over_ok = 1, zero_ok = 1;
    for (int64_t n = n0; n < n1; n++) {
        nb__im2col(&g, x + n * CHW, g.C, ref);
        for (int64_t r = 0; r < K; r++) {
            cols_ok &= !memcmp(col + r * ld + (n - n0) * P, ref + r * P, (size_t)P * 4);
            cols_ok &= !memcmp(col2 + r * ld + (n - n0) * P, ref + r * P, (size_t)P * 4);
        }
        for (int64_t r = 0; r < K; r++) /* per-row version on a contiguous copy of the block's columns */
            memcpy(ref + r * P, c2 + r * ld + (n - n0) * P, (size_t)P * 4);
        nb__col2im(&g, ref, g.C, xb + n * CHW);
        acc_ok &= !memcmp(xa + n * CHW, xb + n * CHW, (size_t)CHW * 4);
        fill(xr, CHW, 0.0f);
        nb__col2im(&g, ref, g.C, xr);
        zero_ok &= !memcmp(xz + n * CHW, xr, (size_t)CHW * 4);
        for (int64_t i = 0; i < CHW; i++) xr[i] += b[i / (g.H * g.W)];
        over_ok &= !memcmp(xo + n * CHW, xr, (size_t)CHW * 4);
    }
    over_ok &= !memcmp(xo, xa, (size_t)CHW * 4) && !memcmp(xz, xa, (size_t)CHW * 4); /* sample 0: untouched */
    check(cols_ok && acc_ok && over_ok && zero_ok,
          "im2col/col2im block, staged %d, %lldx%lld k%lldx%lld s%lld,%lld p%lld,%lld d%lld,%lld (%lldx%lld out) vs "
          "per-row: columns %d, col2im += bitwise %d, = + bias bitwise %d, = bitwise %d", st.staged,
          (long long)g.H, (long long)g.W, (long long)g.KH, (long long)g.KW, (long long)g.SH, (long long)g.SW,
          (long long)g.PH, (long long)g.PW, (long long)g.DH, (long long)g.DW, (long long)g.OH, (long long)g.OW,
          cols_ok, acc_ok, over_ok, zero_ok);
    free(x), free(col), free(ref), free(stage), free(c2), free(b), free(xa), free(xb), free(xo), free(xz);
    free(xr), free(col2);
}

/* Where the direct kernels run (forward, input and weight gradients), the AVX-512 ones
 * (16-float vectors) must give the bits of the 8-float ones: the same sums in the same order.
 * Returns -1 where no direct kernel runs or there is no AVX-512 kernel here, else whether the
 * bits were the same; *err: the AVX-512 results' largest error against the naive twins. */
static int direct_isas_same(const conv_case *c, double *err) {
    nb__conv_geom g = conv_geom_of(c);
    if (nb__conv_geom_finish(&g) != 0 || (!nb__conv_direct_ok(&g) && !nb__conv_direct_data_ok(&g))) return -1;
    nb__conv_plan(&g);
    if (nb__conv_direct_isa(0) < 2) return -1;
    const int64_t nx = g.N * g.C * g.H * g.W, ny = g.N * g.O * g.OH * g.OW, nw = g.O * g.C * g.KH * g.KW;
    const size_t nws = nb__conv_workspace(&g);
    float *x = rnd(nx), *w = rnd(nw), *b = rnd(g.O), *gy = rnd(ny), *gx0 = rnd(nx), *ws = malloc(nws * sizeof(float));
    float *y[3], *gx[3], *gw[3], *gb[3], *gw0 = rnd(nw), *gb0 = rnd(g.O);
    for (int k = 0; k < 3; k++) { /* 8-float, AVX-512, naive */
        nb__conv_direct_isa(k + 1);
        y[k] = malloc((size_t)ny * sizeof(float)), gx[k] = dup(gx0, nx), gw[k] = dup(gw0, nw), gb[k] = dup(gb0, g.O);
        fill(y[k], ny, NAN), fill(ws, (int64_t)nws, NAN);
        if (k < 2) {
            nb__conv2d_fwd(&g, x, w, c->bias ? b : NULL, y[k], ws);
            fill(ws, (int64_t)nws, NAN);
            nb__conv2d_bwd_data(&g, w, gy, gx[k], ws);
            fill(ws, (int64_t)nws, NAN);
            nb__conv2d_bwd_weight(&g, x, gy, gw[k], gb[k], ws);
        } else {
            nb__conv2d_fwd_naive(&g, x, w, c->bias ? b : NULL, y[k]);
            nb__conv2d_bwd_data_naive(&g, w, gy, gx[k]);
            nb__conv2d_bwd_weight_naive(&g, x, gy, gw[k], gb[k]);
        }
    }
    nb__conv_direct_isa(0);
    int same = !memcmp(y[0], y[1], (size_t)ny * 4) && !memcmp(gx[0], gx[1], (size_t)nx * 4) &&
               !memcmp(gw[0], gw[1], (size_t)nw * 4) && !memcmp(gb[0], gb[1], (size_t)g.O * 4);
    *err = fmax(fmax(max_err(y[1], y[2], ny), max_err(gx[1], gx[2], nx)), max_err(gw[1], gw[2], nw));
    for (int k = 0; k < 3; k++) free(y[k]), free(gx[k]), free(gw[k]), free(gb[k]);
    free(x), free(w), free(b), free(gy), free(gx0), free(gw0), free(gb0), free(ws);
    return same;
}

static void test_direct_isas(const conv_case *c) {
    double err = 0.0;
    int r = direct_isas_same(c, &err);
    if (r < 0) {
        if (nb__conv_direct_isa(0) < 2)
            printf("SKIP direct conv N%lld C%lld %lldx%lld O%lld: no AVX-512 kernel here\n", (long long)c->N,
                   (long long)c->C, (long long)c->H, (long long)c->W, (long long)c->O);
        return;
    }
    check(r == 1 && err < TOL,
          "direct conv N%lld C%lld %lldx%lld O%lld k%lldx%lld: AVX-512 forward, input and weight gradients "
          "bit-equal to the 8-float ones (vs naive %.1e)",
          (long long)c->N, (long long)c->C, (long long)c->H, (long long)c->W, (long long)c->O, (long long)c->KH,
          (long long)c->KW, err);
}

/* The same on random geometries the direct kernels take: row counts, widths around the 16- and
 * 32-column tiles, padding, row stride and dilation, 1 to 14 channels, 1 and 2 threads. */
static void test_direct_isas_random(void) {
    if (nb__conv_direct_isa(0) < 2) {
        printf("SKIP direct conv, random geometries: no AVX-512 kernel here\n");
        return;
    }
    const int threads = nb_get_threads();
    int tested = 0, bad = 0;
    double worst = 0.0;
    for (int it = 0; tested < 120 && it < 5000; it++) {
        conv_case c = {1 + (int64_t)(rng_state % 3), 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 1, 1, 1, (int)(rng_state >> 7) & 1};
        frand();
        c.C = 1 + (int64_t)((rng_state >> 11) % 6), c.H = 1 + (int64_t)((rng_state >> 17) % 20);
        c.W = 1 + (int64_t)((rng_state >> 23) % 45), c.O = 1 + (int64_t)((rng_state >> 29) % 14);
        c.KH = 1 + (int64_t)((rng_state >> 35) % 5), c.KW = 1 + (int64_t)((rng_state >> 39) % 6);
        c.SH = 1 + (int64_t)((rng_state >> 43) % 2), c.PH = (int64_t)((rng_state >> 45) % 4);
        c.PW = (int64_t)((rng_state >> 48) % 4), c.DH = 1 + (int64_t)((rng_state >> 51) % 2);
        nb_set_threads(1 + (int)((rng_state >> 53) % 2));
        double err = 0.0;
        int r = direct_isas_same(&c, &err);
        if (r < 0) continue;
        tested++;
        if (r != 1 || !(err < TOL)) {
            bad++;
            printf("  differs: N%lld C%lld %lldx%lld O%lld k%lldx%lld s%lld p%lld,%lld d%lld (same bits %d, vs naive %.1e)\n",
                   (long long)c.N, (long long)c.C, (long long)c.H, (long long)c.W, (long long)c.O, (long long)c.KH,
                   (long long)c.KW, (long long)c.SH, (long long)c.PH, (long long)c.PW, (long long)c.DH, r, err);
        }
        worst = fmax(worst, err);
    }
    nb_set_threads(threads);
    check(bad == 0 && tested == 120, "direct conv, %d random geometries: AVX-512 bit-equal to the 8-float kernels, "
          "%d differ (worst vs naive %.1e)", tested, bad, worst);
}

static void test_conv(void) {
    static const conv_case cases[] = {
        /* N  C   H   W  O KH KW SH SW PH PW DH DW G bias */
        {2, 3, 7, 9, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},
        {2, 4, 9, 7, 6, 3, 3, 2, 2, 1, 1, 1, 1, 2, 1},     /* stride 2, groups 2 */
        {3, 6, 11, 10, 9, 5, 3, 2, 1, 2, 1, 1, 1, 3, 0},   /* 5x3, groups 3 */
        {2, 3, 13, 11, 5, 3, 3, 1, 2, 2, 2, 2, 2, 1, 1},   /* dilation 2 */
        {2, 4, 5, 7, 8, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1},     /* 1x1 pointwise (no im2col) */
        {2, 4, 5, 5, 6, 1, 1, 1, 1, 0, 0, 1, 1, 2, 0},     /* pointwise, groups 2 */
        {2, 6, 7, 7, 6, 1, 1, 2, 2, 0, 0, 1, 1, 3, 0},     /* 1x1 stride 2, groups 3 */
        {2, 4, 6, 6, 4, 3, 3, 1, 1, 1, 1, 1, 1, 4, 1},     /* depthwise */
        {1, 2, 3, 4, 3, 5, 5, 1, 1, 2, 2, 1, 1, 1, 1},     /* kernel wider than the input */
        {2, 3, 10, 13, 4, 2, 3, 3, 2, 1, 2, 1, 3, 1, 1},   /* uneven stride and dilation */
        {3, 1, 28, 28, 5, 5, 5, 2, 2, 2, 2, 1, 1, 1, 1},   /* LeNet-like first layer, stride 2 */
        {2, 16, 17, 17, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1}, /* big enough to use threads */
        {1, 1, 28, 28, 6, 5, 5, 1, 1, 2, 2, 1, 1, 1, 1},   /* LeNet's first layer (direct), N 1 */
        {5, 1, 13, 15, 7, 5, 5, 1, 1, 2, 2, 1, 1, 1, 1},   /* direct: 7 channels, 15 columns */
        {3, 2, 9, 14, 13, 3, 3, 2, 1, 1, 1, 2, 1, 1, 0},   /* direct: row stride and dilation */
        {4, 3, 11, 22, 5, 3, 4, 1, 1, 0, 1, 1, 1, 1, 1},   /* direct: 3 channels, 21 columns */
        {5, 3, 6, 40, 4, 3, 5, 1, 1, 1, 2, 1, 1, 1, 1},    /* direct: three column tiles */
        {7, 6, 14, 14, 16, 5, 5, 1, 1, 0, 0, 1, 1, 1, 1}, /* LeNet's second layer, N 7 */
        {3, 4, 9, 16, 5, 3, 3, 1, 1, 2, 1, 2, 1, 1, 1},   /* direct input gradient, dilated rows */
        {5, 4, 3, 3, 6, 3, 3, 1, 1, 0, 0, 1, 1, 2, 1},     /* kernel = input: a matrix product */
        {3, 8, 7, 7, 1, 7, 7, 1, 1, 0, 0, 1, 1, 1, 0},     /* a DCGAN critic's last layer */
        {3, 2, 3, 3, 4, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1},     /* 1x1 output with padding */
        {3, 5, 14, 14, 6, 4, 4, 2, 2, 1, 1, 1, 1, 1, 0},   /* DCGAN-like stride 2 */
        {2, 3, 13, 11, 4, 3, 3, 3, 3, 1, 2, 1, 1, 1, 1},   /* stride 3: three column phases */
        {2, 2, 9, 9, 3, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1},     /* stride 2, odd width */
        {2, 2, 9, 11, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1},    /* stride 2, even padding */
        {2, 1, 2, 70, 2, 1, 66, 1, 1, 0, 0, 1, 1, 1, 0},   /* more than 64 kernel columns */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) test_conv_case(&cases[i]);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) test_conv_adjoint(&cases[i]);
    /* The direct kernels' AVX-512 forward and input gradient against the 8-float ones, bit for bit */
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) test_direct_isas(&cases[i]);
    test_direct_isas_random();
    static const conv_case blk[] = {
        {3, 3, 9, 8, 1, 3, 2, 2, 3, 1, 2, 2, 1, 1, 0},  /* staged: padding, stride 3, dilation */
        {3, 2, 9, 9, 1, 3, 3, 1, 1, 0, 0, 1, 1, 1, 0},  /* unstaged: reads x up to its end */
        {3, 2, 9, 9, 1, 3, 3, 2, 2, 1, 1, 1, 1, 1, 0},  /* stride 2, odd width */
        {3, 2, 6, 10, 1, 2, 4, 1, 2, 2, 3, 2, 1, 1, 0}, /* stride 2, odd padding */
        {3, 1, 6, 5, 1, 3, 3, 2, 1, 1, 0, 1, 2, 1, 0},  /* row padding only: staged, SW 1 */
        {3, 4, 14, 14, 1, 4, 4, 2, 2, 1, 1, 1, 1, 1, 0}, /* DCGAN's middle layers: runs of 7 */
        {3, 1, 28, 28, 1, 4, 4, 2, 2, 1, 1, 1, 1, 1, 0}, /* DCGAN's outer layers: runs of 14 */
        {3, 2, 14, 14, 1, 3, 3, 2, 2, 1, 1, 1, 1, 1, 0}, /* the conv autoencoder's: 7, uncovered rows */
        {3, 2, 32, 32, 1, 3, 3, 2, 2, 1, 1, 1, 1, 1, 0}, /* runs of 16: whole vectors */
        {3, 2, 9, 15, 1, 3, 3, 2, 2, 1, 1, 1, 1, 1, 0},  /* odd width, 7 column pairs */
        {3, 2, 5, 6, 1, 2, 2, 2, 2, 1, 1, 1, 1, 1, 0},   /* 3 column pairs, runs of 4 */
        {3, 2, 9, 40, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0},  /* SW 1, runs of 40 */
    };
    for (size_t i = 0; i < sizeof blk / sizeof blk[0]; i++) test_im2col_block(&blk[i]);

    nb__conv_geom g = {1, 1, 3, 4, 1, 7, 3, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 0};
    check(nb__conv_geom_finish(&g) == -1, "conv geometry: 7-tall kernel on 3+2 rows is empty");
    g = (nb__conv_geom){1, 1, 28, 27, 1, 5, 3, 2, 3, 2, 1, 1, 2, 1, 0, 0, 0, 0};
    int rc = nb__conv_geom_finish(&g); /* before reading g.OH: argument order is unspecified */
    check(rc == 0 && g.OH == 14 && g.OW == 9,
          "conv geometry: 28x27 k5x3 s2,3 p2,1 d1,2 -> 14x9 (got %lldx%lld)", (long long)g.OH,
          (long long)g.OW);

    /* im2col and col2im are adjoint: <im2col(x), c> = <x, col2im(c)>; col2im accumulates. */
    g = (nb__conv_geom){1, 3, 9, 8, 1, 3, 2, 2, 3, 1, 2, 2, 1, 1, 0, 0, 0, 0};
    nb__conv_geom_finish(&g);
    const int64_t nx = 3 * 9 * 8, nc = 3 * 3 * 2 * g.OH * g.OW;
    float *x = rnd(nx), *c = rnd(nc), *col = malloc((size_t)nc * sizeof(float));
    float *x0 = rnd(nx), *xs = dup(x0, nx);
    nb__im2col(&g, x, 3, col);
    nb__col2im(&g, c, 3, xs);
    for (int64_t i = 0; i < nx; i++) xs[i] -= x0[i];
    double a = dot(col, c, nc), bb = dot(x, xs, nx);
    check(fabs(a - bb) < 1e-4 * (fabs(a) + 1.0), "im2col/col2im adjoint: %.6f vs %.6f", a, bb);
    free(x), free(c), free(col), free(x0), free(xs);
}

/* ---- pooling ------------------------------------------------------------------------------- */
static const float X44[16] = {1, 3, 2, 4, 5, 6, 7, 8, 9, 2, 1, 0, 9, 4, 4, 1}; /* (4, 4) */

static int same(const float *a, const float *b, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (fabsf(a[i] - b[i]) > 1e-6f * (fabsf(b[i]) + 1.0f)) return 0;
    return 1;
}

/* Brute force on one explicitly padded plane (H + 2PH, W + 2PW): -inf or 0 in the border. */
static void pool_ref(const nb__conv_geom *g, const float *x, float *y, int64_t *idx, int max) {
    const int64_t PHh = g->H + 2 * g->PH, PWw = g->W + 2 * g->PW;
    float *pad = malloc((size_t)(PHh * PWw) * sizeof(float));
    for (int64_t pl = 0; pl < g->N * g->C; pl++) {
        for (int64_t r = 0; r < PHh; r++)
            for (int64_t c = 0; c < PWw; c++) {
                int64_t h = r - g->PH, w = c - g->PW;
                int in = h >= 0 && h < g->H && w >= 0 && w < g->W;
                pad[r * PWw + c] = in ? x[pl * g->H * g->W + h * g->W + w] : max ? -INFINITY : 0;
            }
        for (int64_t oh = 0; oh < g->OH; oh++)
            for (int64_t ow = 0; ow < g->OW; ow++) {
                float best = -INFINITY;
                double sum = 0.0;
                int64_t bi = -1;
                for (int64_t kh = 0; kh < g->KH; kh++)
                    for (int64_t kw = 0; kw < g->KW; kw++) {
                        int64_t r = oh * g->SH + kh * g->DH, c = ow * g->SW + kw * g->DW;
                        float v = pad[r * PWw + c];
                        sum += v;
                        if (v > best) best = v, bi = (r - g->PH) * g->W + (c - g->PW);
                    }
                int64_t o = pl * g->OH * g->OW + oh * g->OW + ow;
                y[o] = max ? best : (float)(sum / (double)(g->KH * g->KW));
                if (max) idx[o] = bi;
            }
    }
    free(pad);
}

/* The generic loop's rule for 2x2 windows, stride 2, written out: the first maximum, a later
 * NaN taking over. */
static void pool2x2_ref(const nb__conv_geom *g, const float *x, float *y, int64_t *idx) {
    for (int64_t pl = 0; pl < g->N * g->C; pl++)
        for (int64_t oh = 0; oh < g->OH; oh++)
            for (int64_t ow = 0; ow < g->OW; ow++) {
                const float *xp = x + pl * g->H * g->W;
                float best = 0.0f;
                int64_t bi = -1;
                for (int64_t kh = 0; kh < 2; kh++)
                    for (int64_t kw = 0; kw < 2; kw++) {
                        const int64_t i = (2 * oh + kh) * g->W + 2 * ow + kw;
                        if (bi < 0 || xp[i] > best || isnan(xp[i])) best = xp[i], bi = i;
                    }
                y[pl * g->OH * g->OW + oh * g->OW + ow] = best;
                idx[pl * g->OH * g->OW + oh * g->OW + ow] = bi;
            }
}

static void test_pool(void) {
    float y[4], gx[16];
    int64_t idx[4];
    nb__conv_geom g = {1, 1, 4, 4, 1, 2, 2, 2, 2, 0, 0, 1, 1, 1, 0, 0, 0, 0};
    nb__conv_geom_finish(&g);
    nb__maxpool2d_fwd(&g, X44, y, idx);
    check(same(y, (float[]){6, 8, 9, 4}, 4) && idx[0] == 5 && idx[1] == 7 && idx[2] == 8 &&
              idx[3] == 14,
          "maxpool 2x2 s2 on 4x4: y (6 8 9 4), idx (5 7 8 14) with the first 9 on a tie");
    fill(gx, 16, 0.5f);
    nb__maxpool2d_bwd(&g, (float[]){1, 2, 3, 4}, idx, gx);
    check(gx[5] == 1.5f && gx[7] == 2.5f && gx[8] == 3.5f && gx[14] == 4.5f && gx[12] == 0.5f &&
              gx[0] == 0.5f,
          "maxpool bwd routes gy to idx and accumulates");
    nb__avgpool2d_fwd(&g, X44, y);
    check(same(y, (float[]){3.75f, 5.25f, 6.0f, 1.5f}, 4), "avgpool 2x2 s2 on 4x4");

    g = (nb__conv_geom){1, 1, 4, 4, 1, 3, 3, 2, 2, 1, 1, 1, 1, 1, 0, 0, 0, 0};
    nb__conv_geom_finish(&g);
    nb__maxpool2d_fwd(&g, X44, y, idx);
    check(g.OH == 2 && same(y, (float[]){6, 8, 9, 8}, 4) && idx[0] == 5 && idx[1] == 7 &&
              idx[2] == 8 && idx[3] == 7,
          "maxpool 3x3 s2 p1 on 4x4: y (6 8 9 8), idx (5 7 8 7)");
    float nx[16];
    for (int i = 0; i < 16; i++) nx[i] = -X44[i];
    nb__maxpool2d_fwd(&g, nx, y, idx);
    check(y[0] == -1.0f && idx[0] == 0, "maxpool pads with -inf, not 0 (all-negative input)");
    nb__avgpool2d_fwd(&g, X44, y);
    check(same(y, (float[]){15 / 9.f, 30 / 9.f, 35 / 9.f, 33 / 9.f}, 4),
          "avgpool 3x3 s2 p1 on 4x4: padded zeros count in the divisor 9");
    fill(gx, 16, 1.0f);
    nb__avgpool2d_bwd(&g, (float[]){9, 18, 27, 36}, gx);
    static const float want[16] = {2, 4, 3, 3, 5, 11, 7, 7, 4, 8, 5, 5, 4, 8, 5, 5};
    check(same(gx, want, 16), "avgpool 3x3 s2 p1 bwd accumulates gy/9 over each window");

    /* Random odd-sized input against the padded brute force. Buffers are sized for the
     * output of the full 7x9 plane, an upper bound for both geometries. */
    g = (nb__conv_geom){2, 3, 7, 9, 3, 3, 2, 2, 1, 1, 1, 2, 1, 1, 0, 0, 0, 0};
    nb__conv_geom_finish(&g);
    const int64_t n = 2 * 3 * 7 * 9, m = 2 * 3 * g.OH * g.OW;
    float *x = rnd(n), *y1 = malloc((size_t)n * sizeof(float)), *y2 = malloc((size_t)n * 4);
    int64_t *i1 = malloc((size_t)m * sizeof(int64_t)), *i2 = malloc((size_t)m * sizeof(int64_t));
    nb__maxpool2d_fwd(&g, x, y1, i1);
    pool_ref(&g, x, y2, i2, 1);
    check(memcmp(y1, y2, (size_t)m * 4) == 0 && memcmp(i1, i2, (size_t)m * 8) == 0,
          "maxpool k3x2 s2,1 p1 d2,1 on 2x3x7x9 equals brute force");
    g.DH = 1;
    nb__conv_geom_finish(&g);
    const int64_t m2 = 2 * 3 * g.OH * g.OW;
    nb__avgpool2d_fwd(&g, x, y1);
    pool_ref(&g, x, y2, NULL, 0);
    check(same(y1, y2, m2), "avgpool k3x2 s2,1 p1 on 2x3x7x9 equals brute force");
    /* The unrolled 2x2 stride-2 path, on odd sizes (the last row and column are dropped), with
     * a three-way tie, against the brute force; then NaN, which propagates as in the generic
     * loop (a later NaN in the window takes over). */
    g = (nb__conv_geom){2, 3, 7, 9, 3, 2, 2, 2, 2, 0, 0, 1, 1, 1, 0, 0, 0, 0};
    nb__conv_geom_finish(&g);
    const int64_t m3 = 2 * 3 * g.OH * g.OW;
    x[10] = x[11] = x[19] = 5.0f;
    nb__maxpool2d_fwd(&g, x, y1, i1);
    pool_ref(&g, x, y2, i2, 1);
    check(g.OH == 3 && g.OW == 4 && memcmp(y1, y2, (size_t)m3 * 4) == 0 && memcmp(i1, i2, (size_t)m3 * 8) == 0,
          "maxpool 2x2 s2 on 2x3x7x9 equals brute force");
    g = (nb__conv_geom){1, 1, 2, 2, 1, 2, 2, 2, 2, 0, 0, 1, 1, 1, 0, 0, 0, 0};
    nb__conv_geom_finish(&g);
    nb__maxpool2d_fwd(&g, (float[]){NAN, 5, NAN, 1}, y1, i1);
    check(isnan(y1[0]) && i1[0] == 2, "maxpool 2x2 NaN propagates (idx %lld)", (long long)i1[0]);
    free(x), free(y1), free(y2), free(i1), free(i2);

    /* The vector 2x2 path (8 windows a row at a time, the last 8 again), rows of 8 to 21
     * windows, with ties, NaNs, zeros of both signs: values and indices as the brute force;
     * without indices the same values; relu fused in as relu then pool. */
    for (int64_t Wd = 16; Wd <= 43; Wd += 9) {
        g = (nb__conv_geom){3, 2, 9, Wd, 2, 2, 2, 2, 2, 0, 0, 1, 1, 1, 0, 0, 0, 0};
        nb__conv_geom_finish(&g);
        const int64_t nxv = 3 * 2 * 9 * Wd, ny = 3 * 2 * g.OH * g.OW;
        float *xv = rnd(nxv), *ya = malloc((size_t)nxv * 4), *yb = malloc((size_t)nxv * 4);
        int64_t *ia = malloc((size_t)ny * 8), *ib = malloc((size_t)ny * 8);
        for (int64_t i = 0; i < nxv; i += 7) xv[i] = xv[i + 1 < nxv ? i + 1 : i];
        for (int64_t i = 3; i < nxv; i += 37) xv[i] = NAN;
        for (int64_t i = 5; i < nxv; i += 11) xv[i] = (i & 1) ? -0.0f : 0.0f;
        nb__maxpool2d_fwd(&g, xv, ya, ia);
        pool2x2_ref(&g, xv, yb, ib);
        check(memcmp(ya, yb, (size_t)ny * 4) == 0 && memcmp(ia, ib, (size_t)ny * 8) == 0,
              "maxpool 2x2 s2 vector path on 3x2x9x%lld equals the scalar rule (NaNs, ties)", (long long)Wd);
        nb__maxpool2d_fwd(&g, xv, yb, NULL);
        check(memcmp(ya, yb, (size_t)ny * 4) == 0, "maxpool 2x2 without indices: same values");
        {   /* the stored backward = the added one into zeros, bit for bit (a -0 in gy included) */
            float *gyv = rnd(ny), *g1 = calloc((size_t)nxv, 4), *g2 = malloc((size_t)nxv * 4);
            gyv[0] = -0.0f;
            for (int64_t i = 0; i < nxv; i++) g2[i] = NAN;
            nb__maxpool2d_bwd(&g, gyv, ia, g1);
            nb__maxpool2x2_bwd_store(&g, gyv, ia, g2);
            check(memcmp(g1, g2, (size_t)nxv * 4) == 0, "maxpool 2x2 backward stored = added into zeros (W %lld)",
                  (long long)Wd);
            free(gyv), free(g1), free(g2);
        }
        float *xr = malloc((size_t)nxv * 4);
        for (int64_t i = 0; i < nxv; i++) xr[i] = xv[i] <= 0.0f ? 0.0f : xv[i];
        nb__maxpool2d_fwd(&g, xr, ya, NULL);
        nb__relu_maxpool2x2(xv, yb, 3 * 2, 9, Wd, 1);
        check(memcmp(ya, yb, (size_t)ny * 4) == 0, "relu + maxpool 2x2 fused = relu then maxpool (W %lld)",
              (long long)Wd);
        free(xv), free(ya), free(yb), free(ia), free(ib), free(xr);
    }
}

/* ---- softmax ------------------------------------------------------------------------------- */
/* Double reference of sum(gy * f(x)), for finite differences. */
static double sm_loss(const double *x, const float *gy, int64_t outer, int64_t K, int64_t inner,
                      int lg) {
    double L = 0.0;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            double m = -INFINITY, s = 0.0;
            for (int64_t k = 0; k < K; k++) m = fmax(m, x[(o * K + k) * inner + i]);
            for (int64_t k = 0; k < K; k++) s += exp(x[(o * K + k) * inner + i] - m);
            for (int64_t k = 0; k < K; k++) {
                int64_t e = (o * K + k) * inner + i;
                L += gy[e] * (lg ? x[e] - m - log(s) : exp(x[e] - m) / s);
            }
        }
    return L;
}

/* fastmath.h's erf and erfc against libm's (in double) on a grid of step 1e-4 over [-10, 10] (past
 * +-4 erf is 1 within half a float ulp), and nb_gelu's forward and backward (through erfc)
 * against 0.5 x (1 + erf(x / sqrt 2)) and its derivative in double. The bounds: 1e-7 absolute
 * for erf (1.7 ulp just below 1; measured 8e-8), and for erfc 1e-7 at x >= 0 and 1.5e-7 at
 * x < 0, where its values lie in [1, 2) and one ulp is 1.2e-7 (measured 1.16e-7 there); for
 * GELU's forward 1.5e-7 * max(1, |x|) (the erf bound times |x| / 2, plus rounding of the float
 * products; measured 1.1e-7), for its derivative 2.5e-7 * max(1, |x|) (Phi = y / x adds the
 * forward's error and a division; measured 1.8e-7). NaN in gives NaN out. */
static void test_erf(void) {
    const int64_t n = 200001; /* step 1e-4 (fast enough under the sanitizers) */
    double we = 0, wc = 0, wn = 0, wg = 0, wd = 0, at_e = 0, at_c = 0, at_n = 0, at_g = 0, at_d = 0;
    float *xs = malloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++) xs[i] = (float)(-10.0 + 1e-4 * (double)i);
    for (int64_t i = 0; i < n; i++) {
        const double x = xs[i];
        const double e = fabs((double)nb__erff(xs[i]) - erf(x)), c = fabs((double)nb__erfcf(xs[i]) - erfc(x));
        if (e > we) we = e, at_e = x;
        if (x >= 0 && c > wc) wc = c, at_c = x;
        if (x < 0 && c > wn) wn = c, at_n = x;
    }
    check(we <= 1e-7, "erf: fastmath vs libm over [-10, 10] step 1e-4, worst abs error %.3g at %g (bound 1e-7)", we, at_e);
    check(wc <= 1e-7, "erfc: fastmath vs libm over [0, 10] step 1e-4, worst abs error %.3g at %g (bound 1e-7)", wc, at_c);
    check(wn <= 1.5e-7, "erfc: fastmath vs libm over [-10, 0) step 1e-4, worst abs error %.3g at %g (bound 1.5e-7)", wn,
          at_n);
    /* GELU through the op: forward values and, seeded with ones, the derivative. */
    nb_tensor *x = nb_tensor_from(1, (int64_t[]){n}, xs);
    nb_tensor_set_requires_grad(x, true);
    nb_tensor *y = nb_gelu(x);
    float *ones = malloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++) ones[i] = 1.0f;
    nb_tensor *w = nb_tensor_from(1, (int64_t[]){n}, ones);
    nb_tensor *l = nb_sum(nb_mul(y, w), NB_ALL_AXES, false);
    int ok = l && nb_backward(l) == NB_OK;
    const float *yv = ok ? nb_tensor_data(y) : NULL, *gv = ok ? nb_tensor_grad(x) : NULL;
    for (int64_t i = 0; ok && i < n; i++) {
        const double v = xs[i], m = fabs(v) > 1 ? fabs(v) : 1;
        const double g = fabs(yv[i] - 0.5 * v * (1 + erf(v * 0.70710678118654752440))) / m;
        const double d = fabs(gv[i] - (0.5 * (1 + erf(v * 0.70710678118654752440)) +
                                       v * 0.39894228040143267794 * exp(-0.5 * v * v))) / m;
        if (g > wg) wg = g, at_g = v;
        if (d > wd) wd = d, at_d = v;
    }
    check(ok && wg <= 1.5e-7, "gelu forward vs libm erf in double, worst error / max(1, |x|) %.3g at %g (bound 1.5e-7)", wg,
          at_g);
    check(ok && wd <= 2.5e-7, "gelu backward vs libm in double, worst error / max(1, |x|) %.3g at %g (bound 2.5e-7)", wd,
          at_d);
    nb_step_reset();
    const float inf = INFINITY;
    check(isnan(nb__erff(NAN)) && isnan(nb__erfcf(NAN)) && nb__erff(inf) == 1.0f && nb__erff(-inf) == -1.0f &&
              nb__erfcf(inf) == 0.0f && nb__erfcf(-inf) == 2.0f && nb__erff(0.0f) == 0.0f,
          "erf/erfc: NaN gives NaN, +-inf give the limits, erf(0) = 0");
    nb_tensor_free(x);
    nb_tensor_free(w);
    free(xs);
    free(ones);
}

static void test_softmax(void) {
    static const int64_t shp[][3] = {{5, 10, 1}, {3, 7, 5}, {2, 3, 300}, {1, 1, 1}, {4, 1000, 1}};
    for (size_t c = 0; c < sizeof shp / sizeof shp[0]; c++)
        for (int lg = 0; lg < 2; lg++) {
            const int64_t O = shp[c][0], K = shp[c][1], I = shp[c][2], n = O * K * I;
            float *x = rnd(n), *y1 = malloc((size_t)n * 4), *y2 = malloc((size_t)n * 4);
            for (int64_t i = 0; i < n; i++) x[i] *= (c == 4) ? 1e4f : 5.0f; /* stability */
            nb__softmax_fwd(x, y1, O, K, I, lg);
            nb__softmax_fwd_naive(x, y2, O, K, I, lg);
            double worst = 0.0;
            for (int64_t o = 0; o < O; o++)
                for (int64_t i = 0; i < I; i++) {
                    double s = 0.0;
                    for (int64_t k = 0; k < K; k++) {
                        float v = y1[(o * K + k) * I + i];
                        s += lg ? exp((double)v) : (double)v;
                    }
                    if (fabs(s - 1.0) > worst || s != s) worst = fabs(s - 1.0);
                }
            double e = max_err(y1, y2, n);
            check(e < TOL && worst < 1e-5,
                  "%s (%lld,%lld,%lld): vs naive err %.2e, |sum p - 1| <= %.2e",
                  lg ? "log_softmax" : "softmax", (long long)O, (long long)K, (long long)I, e,
                  worst);
            free(x), free(y1), free(y2);
        }
    for (int lg = 0; lg < 2; lg++) {
        const int64_t O = 2, K = 5, I = 3, n = O * K * I;
        float *x = rnd(n), *gy = rnd(n), *y = malloc((size_t)n * 4), *gx = malloc((size_t)n * 4);
        float *fd = malloc((size_t)n * 4);
        double *xd = malloc((size_t)n * sizeof(double));
        for (int64_t i = 0; i < n; i++) xd[i] = 3.0 * x[i], x[i] = (float)xd[i];
        nb__softmax_fwd(x, y, O, K, I, lg);
        fill(gx, n, 0.25f);
        nb__softmax_bwd(y, gy, gx, O, K, I, lg);
        for (int64_t i = 0; i < n; i++) {
            const double h = 1e-5, x0 = xd[i];
            xd[i] = x0 + h;
            double lp = sm_loss(xd, gy, O, K, I, lg);
            xd[i] = x0 - h;
            double lm = sm_loss(xd, gy, O, K, I, lg);
            xd[i] = x0;
            fd[i] = (float)(0.25 + (lp - lm) / (2 * h));
        }
        check(max_err(gx, fd, n) < TOL, "%s bwd += vs finite differences (2,5,3), err %.2e",
              lg ? "log_softmax" : "softmax", max_err(gx, fd, n));
        free(x), free(gy), free(y), free(gx), free(fd), free(xd);
    }
}

int main(void) {
    test_conv();
    test_pool();
    test_softmax();
    test_erf();
    printf("test_kernels: %d passed, %d failed\n", n_pass, n_fail);
    return n_fail != 0;
}
