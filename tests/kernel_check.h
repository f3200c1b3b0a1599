/* nabla: what the kernel tests share (tests/test_kernels.c, tests/test_gemm.c): the PASS/FAIL
 * line of each check and its counts, a seedable xorshift generator, random and copied arrays, and
 * the error measure the fast kernels are held to against their naive twins. */
#ifndef NB_TESTS_KERNEL_CHECK_H
#define NB_TESTS_KERNEL_CHECK_H

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int n_pass, n_fail;

static inline void check(int ok, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    printf("%s ", ok ? "PASS" : "FAIL");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    if (ok) n_pass++; else n_fail++;
}

/* xorshift64: small, seedable, identical on every platform. */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static inline float frand(void) { /* uniform in [-1, 1) */
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (float)((double)(rng_state >> 40) / (double)(1ull << 23)) - 1.0f;
}
static inline float *rnd(int64_t n) {
    float *p = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    for (int64_t i = 0; i < n; i++) p[i] = frand();
    return p;
}
static inline float *dup(const float *a, int64_t n) {
    float *p = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    memcpy(p, a, (size_t)n * sizeof(float));
    return p;
}
static inline void fill(float *p, int64_t n, float v) { for (int64_t i = 0; i < n; i++) p[i] = v; }

/* Largest |a - b| / (|b| + 1): relative for large values, absolute near zero (the data are
 * O(1)). NaN anywhere makes the result NaN, which fails every "err < tol" test. */
static inline double max_err(const float *a, const float *b, int64_t n) {
    double e = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]) / (fabs((double)b[i]) + 1.0);
        if (d > e || d != d) e = d;
    }
    return e;
}
static inline double dot(const float *a, const float *b, int64_t n) {
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) s += (double)a[i] * (double)b[i];
    return s;
}
#define TOL 1e-4

#endif
