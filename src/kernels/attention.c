/* nabla: fused scaled dot-product attention, one (n, h) block at a time:
 *   S = scale * Q K^T (Tq, Tk), P = softmax(S + mask) by rows, O = (P * dropout) V (Tq, Dh).
 * The mask of query row i is a prefix: keys j < lim(i) = min(len, causal ? i + 1 : Tk) are seen,
 * the rest get a probability of exactly 0. Keys at and past the sample's length are not even
 * read: the two products run over the first len keys only, so whatever the padding holds (even
 * NaN) changes nothing and gets no gradient.
 *
 * Backward, per block, from dO:
 *   dV = Pd^T dO,  dPd = dO V^T,  dP = dPd * dropout,  dS = P * (dP - rowsum(dP * P)),
 *   dQ = scale * dS K,  dK = scale * dS^T Q       (Pd = P * dropout: what multiplied V)
 * The products are GEMMs (kernels/gemm.c); the row loops (softmax, its Jacobian) are vector
 * loops with the branch-free exp of fastmath.h and double row sums.
 *
 * Blocks are independent and each is computed by one thread in a fixed order, so the results
 * do not depend on the thread count. Threads split the blocks (GEMMs inside the region run
 * single-threaded in OpenBLAS); one block, or a small problem, runs outside any region and lets
 * OpenBLAS thread its products. */
#include "kernels/kernels.h"
#include "kernels/fastmath.h"

#include <omp.h>

/* Below this many multiply-adds (B * Tq * Tk * Dh) the OpenMP team costs more than it saves. */
#define NB_ATTN_PAR_MIN 32768

size_t nb__attn_workspace(const nb__attn_dims *d) {
    const int64_t T = d->threads > 1 ? d->threads : 1;
    return (size_t)(T * 2 * d->Tq * d->Tk) + 1;
}

static int64_t keys_of(const nb__attn_dims *d, int64_t b) { return d->len ? d->len[b / d->H] : d->Tk; }
static int64_t lim_of(const nb__attn_dims *d, int64_t L, int64_t i) {
    return d->causal && i + 1 < L ? i + 1 : L;
}
static bool parallel(const nb__attn_dims *d) {
    return d->threads > 1 && d->B > 1 && d->B * d->Tq * d->Tk * d->Dh >= NB_ATTN_PAR_MIN;
}

/* row[0..lim) <- softmax(row[0..lim)), row[lim..L) <- 0. */
static void softmax_row(float *restrict row, int64_t lim, int64_t L) {
    float m = row[0];
    for (int64_t j = 1; j < lim; j++) m = row[j] > m ? row[j] : m;
    double s = 0.0;
#pragma omp simd reduction(+ : s)
    for (int64_t j = 0; j < lim; j++) {
        const float e = nb__expf(row[j] - m);
        row[j] = e;
        s += (double)e;
    }
    const double inv = 1.0 / s;
#pragma omp simd
    for (int64_t j = 0; j < lim; j++) row[j] = (float)((double)row[j] * inv);
    for (int64_t j = lim; j < L; j++) row[j] = 0.0f;
}

/* pd (Tq, ld Tk) <- p * keep * keep_scale over the first L columns of block b. */
static void apply_dropout(const nb__attn_dims *d, int64_t b, int64_t L, const float *p, float *pd) {
    const uint8_t *kb = d->keep + b * d->Tq * d->Tk;
    for (int64_t i = 0; i < d->Tq; i++) {
        const float *restrict pr = p + i * d->Tk;
        const uint8_t *restrict kr = kb + i * d->Tk;
        float *restrict r = pd + i * d->Tk;
        const float ks = d->keep_scale;
#pragma omp simd
        for (int64_t j = 0; j < L; j++) r[j] = kr[j] ? pr[j] * ks : 0.0f;
    }
}

static void fwd_block(const nb__attn_dims *d, int64_t b, const float *q, const float *k,
                      const float *v, float *p, float *out, float *ws) {
    const int64_t Tq = d->Tq, Tk = d->Tk, Dh = d->Dh, L = keys_of(d, b);
    const float *qb = q + b * Tq * Dh, *kb = k + b * Tk * Dh, *vb = v + b * Tk * Dh; /* (T, Dh) */
    float *pb = p ? p + b * Tq * Tk : ws; /* (Tq, Tk): scores, then probabilities */
    float *pd = ws + Tq * Tk;             /* (Tq, Tk): probabilities after dropout */
    nb__gemm(0, 1, Tq, L, Dh, d->scale, qb, Dh, kb, Dh, 0.0f, pb, Tk);
    for (int64_t i = 0; i < Tq; i++) {
        softmax_row(pb + i * Tk, lim_of(d, L, i), L);
        /* Columns past L are not read by the products; zero them so that the saved p is the
         * full probability matrix. */
        for (int64_t j = L; j < Tk; j++) pb[i * Tk + j] = 0.0f;
    }
    if (d->keep) apply_dropout(d, b, L, pb, pd);
    nb__gemm(0, 0, Tq, Dh, L, 1.0f, d->keep ? pd : pb, Tk, vb, Dh, 0.0f, out + b * Tq * Dh, Dh);
}

void nb__attn_fwd(const nb__attn_dims *d, const float *q, const float *k, const float *v, float *p,
                  float *out, float *ws) {
    const int64_t per = 2 * d->Tq * d->Tk;
    if (parallel(d)) {
#pragma omp parallel for schedule(static) num_threads(d->threads)
        for (int64_t b = 0; b < d->B; b++)
            fwd_block(d, b, q, k, v, p, out, ws + omp_get_thread_num() * per);
    } else {
        for (int64_t b = 0; b < d->B; b++) fwd_block(d, b, q, k, v, p, out, ws);
    }
}

static void bwd_block(const nb__attn_dims *d, int64_t b, const float *q, const float *k,
                      const float *v, const float *p, const float *gout, float *gq, float *gk,
                      float *gv, float *ws) {
    const int64_t Tq = d->Tq, Tk = d->Tk, Dh = d->Dh, L = keys_of(d, b);
    const int64_t qo = b * Tq * Dh, ko = b * Tk * Dh;
    const float *pb = p + b * Tq * Tk, *gob = gout + qo; /* (Tq, Tk), (Tq, Dh) */
    float *pd = ws, *ds = ws + Tq * Tk;                    /* (Tq, Tk) each, first L columns */
    /* An unset gradient is stored (GEMM beta 0: the same sums as adding to zeros); the padded
     * keys' rows, which no product reaches, get their zeros here. */
    const float bq = d->store & 1u ? 0.0f : 1.0f, bk = d->store & 2u ? 0.0f : 1.0f, bv = d->store & 4u ? 0.0f : 1.0f;
    if (gk && bk == 0.0f) memset(gk + ko + L * Dh, 0, (size_t)((Tk - L) * Dh) * sizeof(float));
    if (gv && bv == 0.0f) memset(gv + ko + L * Dh, 0, (size_t)((Tk - L) * Dh) * sizeof(float));
    if (gv) {
        if (d->keep) apply_dropout(d, b, L, pb, pd);
        nb__gemm(1, 0, L, Dh, Tq, 1.0f, d->keep ? pd : pb, Tk, gob, Dh, bv, gv + ko, Dh);
    }
    if (!gq && !gk) return;
    nb__gemm(0, 1, Tq, L, Dh, 1.0f, gob, Dh, v + ko, Dh, 0.0f, ds, Tk); /* dPd = dO V^T */
    const uint8_t *kb = d->keep ? d->keep + b * Tq * Tk : NULL;
    const float ks = d->keep_scale;
    for (int64_t i = 0; i < Tq; i++) {
        const int64_t lim = lim_of(d, L, i);
        const float *restrict pr = pb + i * Tk;
        float *restrict r = ds + i * Tk;
        if (kb) {
            const uint8_t *restrict kr = kb + i * Tk;
#pragma omp simd
            for (int64_t j = 0; j < lim; j++) r[j] = kr[j] ? r[j] * ks : 0.0f;
        }
        double s = 0.0;
#pragma omp simd reduction(+ : s)
        for (int64_t j = 0; j < lim; j++) s += (double)r[j] * (double)pr[j];
        const float sf = (float)s;
#pragma omp simd
        for (int64_t j = 0; j < lim; j++) r[j] = pr[j] * (r[j] - sf);
        for (int64_t j = lim; j < L; j++) r[j] = 0.0f; /* masked: exactly no contribution */
    }
    if (gq) nb__gemm(0, 0, Tq, Dh, L, d->scale, ds, Tk, k + ko, Dh, bq, gq + qo, Dh);
    if (gk) nb__gemm(1, 0, L, Dh, Tq, d->scale, ds, Tk, q + qo, Dh, bk, gk + ko, Dh);
}

void nb__attn_bwd(const nb__attn_dims *d, const float *q, const float *k, const float *v,
                  const float *p, const float *gout, float *gq, float *gk, float *gv, float *ws) {
    const int64_t per = 2 * d->Tq * d->Tk;
    if (parallel(d)) {
#pragma omp parallel for schedule(static) num_threads(d->threads)
        for (int64_t b = 0; b < d->B; b++)
            bwd_block(d, b, q, k, v, p, gout, gq, gk, gv, ws + omp_get_thread_num() * per);
    } else {
        for (int64_t b = 0; b < d->B; b++) bwd_block(d, b, q, k, v, p, gout, gq, gk, gv, ws);
    }
}
