/* Thread count and the library's seeded RNG (xoshiro256**, seeded through splitmix64). */
#include "internal.h"

#include <math.h>
#include <omp.h>

/* OpenBLAS's own thread setting; declared here so only this file knows about it. */
void openblas_set_num_threads(int num_threads);

static int g_threads = 0;

void nb_set_threads(int n) {
    if (n < 1) n = 1;
    g_threads = n;
    omp_set_num_threads(n);
    openblas_set_num_threads(n);
}

int nb_get_threads(void) { return nb__threads(); }

int nb__threads(void) {
    if (g_threads == 0) g_threads = omp_get_max_threads();
    return g_threads;
}

static uint64_t g_rng[4] = {0x9e3779b97f4a7c15ull, 0xbf58476d1ce4e5b9ull, 0x94d049bb133111ebull,
                            0x2545f4914f6cdd1dull};

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void nb_seed(uint64_t seed) {
    for (int i = 0; i < 4; i++) g_rng[i] = splitmix64(&seed);
}

/* The generator's whole state is these four words: nb_rng_normal keeps no spare draw. */
void nb_rng_get_state(uint64_t state[4]) {
    if (!state) {
        nb__err(NB_ERR_ARG, "nb_rng_get_state: state is NULL");
        return;
    }
    memcpy(state, g_rng, sizeof g_rng);
}

void nb_rng_set_state(const uint64_t state[4]) {
    if (!state || (state[0] | state[1] | state[2] | state[3]) == 0) {
        /* xoshiro256** stays at zero forever from the all-zero state. */
        nb__err(NB_ERR_ARG, "nb_rng_set_state: %s (state kept)",
                state ? "the all-zero state is not a valid generator state" : "state is NULL");
        return;
    }
    memcpy(g_rng, state, sizeof g_rng);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t nb_rng_next(void) {
    uint64_t *s = g_rng;
    uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return r;
}

float nb_rng_uniform(void) { return (float)(nb_rng_next() >> 40) * (1.0f / 16777216.0f); }

void nb__rng_uniforms(float *u, int64_t n) {
    uint64_t s0 = g_rng[0], s1 = g_rng[1], s2 = g_rng[2], s3 = g_rng[3];
    for (int64_t i = 0; i < n; i++) { /* nb_rng_next, then nb_rng_uniform's scaling */
        const uint64_t r = rotl(s1 * 5, 7) * 9, t = s1 << 17;
        s2 ^= s0;
        s3 ^= s1;
        s1 ^= s2;
        s0 ^= s3;
        s2 ^= t;
        s3 = rotl(s3, 45);
        u[i] = (float)(r >> 40) * (1.0f / 16777216.0f);
    }
    g_rng[0] = s0, g_rng[1] = s1, g_rng[2] = s2, g_rng[3] = s3;
}

float nb_rng_normal(void) {
    /* Box-Muller in double, using only the cosine branch: no spare value is cached, so the
     * four state words are the whole state. u1 is kept away from 0 so log is finite. */
    double u1 = ((double)(nb_rng_next() >> 11) + 1.0) * (1.0 / 9007199254740993.0);
    double u2 = (double)(nb_rng_next() >> 11) * (1.0 / 9007199254740992.0);
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}
