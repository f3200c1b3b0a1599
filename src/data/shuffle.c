/* The data layer's random orders, all from splitmix64 (Steele, Lea and Flood 2014):
 *  - the splits of the text datasets: a plain Fisher-Yates with j = next() % (i+1), which a
 *    few lines of Python repeat exactly (docs/text-data.md);
 *  - each epoch's order in the loaders, drawn from (seed, epoch) alone with unbiased draws. */
#include "data_impl.h"
#include "nabla/text.h"

uint64_t nb_splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void nb_split_shuffle(int64_t *perm, int64_t n, uint64_t *state) {
    if (!perm || !state) return;
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)(nb_splitmix64(state) % (uint64_t)(i + 1));
        int64_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}

/* Uniform in [0, bound), without modulo bias. */
static uint64_t below(uint64_t *s, uint64_t bound) {
    uint64_t threshold = (0 - bound) % bound;
    for (;;) {
        uint64_t r = nb_splitmix64(s);
        if (r >= threshold) return r % bound;
    }
}

void nb__epoch_order(int64_t *perm, int64_t n, bool shuffle, uint64_t seed, int64_t e) {
    for (int64_t i = 0; i < n; i++) perm[i] = i;
    if (!shuffle) return;
    uint64_t s = seed ^ ((uint64_t)e * 0xd1b54a32d192ed03ull);
    nb_splitmix64(&s); /* one extra step so nearby (seed, epoch) pairs start far apart */
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)below(&s, (uint64_t)i + 1);
        int64_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}
