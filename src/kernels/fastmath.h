/* exp, expm1, sigmoid, tanh and erf for float, branch-free so that loops over them vectorize
 * (libm's expf/tanhf are calls, one element at a time: they were 40% of an LSTM's training time).
 * Cephes' expf scheme: x = n ln2 + r with |r| <= ln2/2, e^r by a degree-6 polynomial, 2^n put in
 * the exponent bits. Error within 2 ulp over the clamped range; expm1 keeps full relative accuracy
 * near 0 (no 1 + ... - 1 cancellation when n = 0), so tanh is accurate for small x too. A NaN in
 * gives a NaN out. Round-to-nearest (the default mode) is assumed. GCC vectorizes loops over
 * these only with -fno-trapping-math, which lets it if-convert the selects: the files that use
 * them are compiled with it (CMakeLists.txt). */
#ifndef NB_FASTMATH_H
#define NB_FASTMATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

/* e^x - 1 with the 2^n scale returned apart: e^x = scale * (m + 1). A NaN is clamped like
 * -inf (the callers put the NaN back), so that n stays an integer in range: converting and
 * shifting a NaN's n would be undefined behaviour. */
static inline float nb__exp_parts(float x, float *scale) {
    float c = x > -87.0f ? (x < 88.0f ? x : 88.0f) : -87.0f;
    float n = (c * 1.44269504088896341f + 12582912.0f) - 12582912.0f; /* round(c / ln2) */
    float r = c - n * 0.693145751953125f - n * 1.428606765330187045e-6f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    int32_t bits = ((int32_t)n + 127) << 23;
    memcpy(scale, &bits, sizeof bits);
    return p * r * r + r; /* e^r - 1 */
}

static inline float nb__expf(float x) {
    float s, m = nb__exp_parts(x, &s);
    float y = s * m + s;
    return x != x ? x : y;
}

static inline float nb__expm1f(float x) {
    float s, m = nb__exp_parts(x, &s);
    float y = s * m + (s - 1.0f);
    return x != x ? x : y;
}

static inline float nb__sigmoidf(float x) { return 1.0f / (1.0f + nb__expf(-x)); }

static inline float nb__tanhf(float x) {
    float e = nb__expm1f(2.0f * x);
    return e / (e + 2.0f);
}

/* erf and erfc (libm's erf was 9% of a GELU Transformer's training time). Two pieces, both
 * computed and one selected, so that loops stay branch-free:
 *   |x| < 1:  erf(u) = u + u Q(u^2), Q of degree 6;
 *   |x| >= 1: erfc(u) = t P(t) e^(-u^2) with t = 1 / (1 + u/2), P of degree 9 (the form of
 *             Numerical Recipes' erfcc, refitted).
 * The fits (least squares on Chebyshev nodes in mpmath: scripts/fit_erf.py) are within 6e-10 (Q)
 * and 3e-9 relative (P); in float, with nb__expf, erf and erfc are within 1e-7 absolute of libm's
 * erf/erfc in double over the whole line (tests/test_kernels.c checks [-10, 10]). erfc keeps a
 * relative accuracy of about 1e-5 in the far tail (e^(-u^2) of a rounded u^2), so that
 * 1 + erf(x) = erfc(-x) is accurate for negative x, where 1 + erf would cancel. A NaN in gives
 * a NaN out. */
static inline float nb__erf_small(float u) { /* erf(u) for 0 <= u < 1 */
    const float z = u * u;
    float p = 7.6406573398e-5f;
    p = p * z - 7.9402570674e-4f;
    p = p * z + 5.179487202e-3f;
    p = p * z - 2.6848433952e-2f;
    p = p * z + 1.1283425531e-1f;
    p = p * z - 3.7612605412e-1f;
    p = p * z + 1.2837915821e-1f; /* 2/sqrt(pi) - 1 */
    return u + u * p;
}

static inline float nb__erfc_large(float u) { /* erfc(u) for u >= 1 (any u >= 0 works, less well) */
    const float t = 1.0f / (1.0f + 0.5f * u);
    float p = -7.8492617614e-2f;
    p = p * t + 2.5356973606e-1f;
    p = p * t - 2.5087712092e-1f;
    p = p * t + 2.7569322604e-2f;
    p = p * t - 2.6142108284e-2f;
    p = p * t + 8.7130370404e-2f;
    p = p * t + 1.7600747253e-1f;
    p = p * t + 2.4684659076e-1f;
    p = p * t + 2.8209455295e-1f;
    p = p * t + 2.8209479246e-1f;
    return t * p * nb__expf(-u * u);
}

static inline float nb__erff(float x) {
    const float u = fabsf(x);
    const float e = u < 1.0f ? nb__erf_small(u) : 1.0f - nb__erfc_large(u);
    return copysignf(e, x);
}

static inline float nb__erfcf(float x) {
    const float u = fabsf(x);
    const float l = nb__erfc_large(u); /* erfc(|x|) */
    return u < 1.0f ? 1.0f - copysignf(nb__erf_small(u), x) : x < 0.0f ? 2.0f - l : l;
}

#endif
