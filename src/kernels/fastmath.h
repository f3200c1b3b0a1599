/* exp, expm1, sigmoid and tanh for float, branch-free so that loops over them vectorize (libm's
 * expf/tanhf are calls, one element at a time: they were 40% of an LSTM's training time).
 * Cephes' expf scheme: x = n ln2 + r with |r| <= ln2/2, e^r by a degree-6 polynomial, 2^n put in
 * the exponent bits. Error within 2 ulp over the clamped range; expm1 keeps full relative accuracy
 * near 0 (no 1 + ... - 1 cancellation when n = 0), so tanh is accurate for small x too. A NaN in
 * gives a NaN out. Round-to-nearest (the default mode) is assumed. */
#ifndef NB_FASTMATH_H
#define NB_FASTMATH_H

#include <stdint.h>
#include <string.h>

/* e^x - 1 with the 2^n scale returned apart: e^x = scale * (m + 1). */
static inline float nb__exp_parts(float x, float *scale) {
    float c = x < -87.0f ? -87.0f : x > 88.0f ? 88.0f : x;
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

#endif
