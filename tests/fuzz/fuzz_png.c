/* libFuzzer target: PNG input, nb_png_read_gray(path, 28, 28, buf) as prediction calls it, and
 * once more at the size the IHDR chunk states (up to 2^16 pixels), so that inputs of other
 * sizes get past the size check into the decoding. The input is the PNG file as it is
 * (tests/fuzz/corpus/png). libpng itself is Debian's build, not instrumented: coverage counts
 * only nabla's side of the calls. */
#include "fuzz_common.h"

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fz_write(0, "input.png", data, size);
    uint8_t px[28 * 28]; /* (H, W) */
    if (nb_png_read_gray(path, 28, 28, px) != NB_OK) fz_refused();
    else
        fz_accepted("nb_png_read_gray");
    /* The IHDR of a PNG: 8-byte signature, length, "IHDR", width, height. */
    if (size < 24 || memcmp(data + 12, "IHDR", 4) != 0) return 0;
    uint32_t w = be32(data + 16), h = be32(data + 20);
    if (w == 0 || h == 0 || w > (1u << 16) || h > (1u << 16) || (uint64_t)w * h > (1u << 16) ||
        (w == 28 && h == 28))
        return 0;
    uint8_t *buf = malloc((size_t)w * h);
    FZ_CHECK(buf != NULL);
    if (nb_png_read_gray(path, (int)h, (int)w, buf) != NB_OK) fz_refused();
    else
        fz_accepted("nb_png_read_gray");
    free(buf);
    return 0;
}
