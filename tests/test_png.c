/* Reading and writing gray PNGs (nb_png_read_gray, nb_png_write_gray) in a temporary folder: the
 * gray round trip is exact; colour PNGs read as gray (RGBA composited on black); and the errors
 * name the file: wrong size, not a PNG, truncated, missing, a 41-byte file whose tEXt chunk claims
 * 2 GB (refused without the allocation: issue 10), a PNG without IEND. (Writing pictures, and
 * writes that fail: test_plot.c.) */
#define _POSIX_C_SOURCE 200809L
#include <png.h>
#include <stdint.h>
#include <sys/resource.h>

#include "check.h"
#include "nabla/nabla.h"
#include "tmpdir.h"

static bool write_rgb(const char *path, int h, int w, const uint8_t *px, int format) {
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    im.width = (png_uint_32)w;
    im.height = (png_uint_32)h;
    im.format = (png_uint_32)format;
    return png_image_write_to_file(&im, path, 0, px, 0, NULL) != 0;
}

static void check_png(void) {
    char path[128], other[128];
    uint8_t px[28 * 28], back[28 * 28];
    for (int i = 0; i < 28 * 28; i++) px[i] = (uint8_t)(i * 37 + i / 28);
    path_in(path, sizeof path, "digit.png");
    CHECK(nb_png_write_gray(path, 28, 28, px) == NB_OK, "write: %s", nb_last_error());
    memset(back, 1, sizeof back);
    CHECK(nb_png_read_gray(path, 28, 28, back) == NB_OK, "read: %s", nb_last_error());
    CHECK(memcmp(px, back, sizeof px) == 0, "gray round trip is exact");

    /* RGB reads as gray: gray colours keep their value, white and black their ends. */
    uint8_t rgb[2 * 3 * 3] = {0, 0, 0, 255, 255, 255, 128, 128, 128,
                              77, 77, 77, 200, 200, 200, 255, 0, 0};
    path_in(other, sizeof other, "colour.png");
    CHECK(write_rgb(other, 2, 3, rgb, PNG_FORMAT_RGB), "libpng wrote %s", other);
    uint8_t g[6];
    CHECK(nb_png_read_gray(other, 2, 3, g) == NB_OK, "read RGB: %s", nb_last_error());
    CHECK(g[0] == 0 && g[1] == 255 && abs(g[2] - 128) <= 1 && abs(g[3] - 77) <= 1 &&
              abs(g[4] - 200) <= 1,
          "RGB as gray: %d %d %d %d %d", g[0], g[1], g[2], g[3], g[4]);
    CHECK(g[5] > 20 && g[5] < 140, "pure red is a dark gray: %d", g[5]);
    /* RGBA: transparent white is composited on black. */
    uint8_t rgba[4 * 2] = {255, 255, 255, 0, 255, 255, 255, 255};
    CHECK(write_rgb(other, 1, 2, rgba, PNG_FORMAT_RGBA), "libpng wrote RGBA");
    CHECK(nb_png_read_gray(other, 1, 2, g) == NB_OK, "read RGBA: %s", nb_last_error());
    CHECK(g[0] == 0 && g[1] == 255, "alpha on black: %d %d", g[0], g[1]);

    /* Errors name the file. */
    nb_status st = nb_png_read_gray(path, 32, 32, back);
    CHECK(st == NB_ERR_SHAPE && strstr(nb_last_error(), path) &&
              strstr(nb_last_error(), "28 x 28") && strstr(nb_last_error(), "32 x 32"),
          "wrong size (%d): %s", st, nb_last_error());
    path_in(other, sizeof other, "not.png");
    FILE *f = fopen(other, "w");
    fputs("this is not a PNG file\n", f);
    fclose(f);
    st = nb_png_read_gray(other, 28, 28, back);
    CHECK(st == NB_ERR_FORMAT && strstr(nb_last_error(), other), "not a PNG (%d): %s", st,
          nb_last_error());
    unsigned char *data;
    long n;
    CHECK(file_bytes(path, &data, &n), "read %s", path);
    path_in(other, sizeof other, "cut.png");
    f = fopen(other, "wb");
    fwrite(data, 1, (size_t)n / 2, f);
    fclose(f);
    free(data);
    st = nb_png_read_gray(other, 28, 28, back);
    CHECK(st == NB_ERR_FORMAT && strstr(nb_last_error(), other), "truncated PNG (%d): %s", st,
          nb_last_error());
    path_in(other, sizeof other, "missing.png");
    st = nb_png_read_gray(other, 28, 28, back);
    CHECK(st == NB_ERR_IO && strstr(nb_last_error(), other), "missing (%d): %s", st,
          nb_last_error());
    CHECK(nb_png_read_gray(path, 0, 28, back) == NB_ERR_ARG, "h = 0");

    /* Issue 10: a 41-byte file, the signature, a 28x28 IHDR and the header of a tEXt chunk
     * declaring 0x7fffffff bytes, made libpng allocate 2 GB. It must fail at once, naming the
     * file and the chunk, with the process's peak memory unchanged (well under 100 MB). */
    static const unsigned char evil[41] = {
        0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n',
        0, 0, 0, 13, 'I', 'H', 'D', 'R', 0, 0, 0, 28, 0, 0, 0, 28, 8, 0, 0, 0, 0,
        0x57, 0x66, 0x80, 0x48, /* CRC of IHDR */
        0x7f, 0xff, 0xff, 0xff, 't', 'E', 'X', 't'};
    path_in(other, sizeof other, "text2g.png");
    f = fopen(other, "wb");
    fwrite(evil, 1, sizeof evil, f);
    fclose(f);
    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    st = nb_png_read_gray(other, 28, 28, back);
    getrusage(RUSAGE_SELF, &ru1);
    CHECK(st == NB_ERR_FORMAT && strstr(nb_last_error(), other) && strstr(nb_last_error(), "tEXt"),
          "2 GB tEXt (%d): %s", st, nb_last_error());
    CHECK(ru1.ru_maxrss - ru0.ru_maxrss < 100 * 1024, "the 41-byte PNG raised the peak memory by %ld KB",
          ru1.ru_maxrss - ru0.ru_maxrss);

    /* A PNG without IEND (the last 12 bytes cut) was accepted. */
    CHECK(file_bytes(path, &data, &n), "read %s", path);
    path_in(other, sizeof other, "noiend.png");
    f = fopen(other, "wb");
    fwrite(data, 1, (size_t)n - 12, f);
    fclose(f);
    free(data);
    st = nb_png_read_gray(other, 28, 28, back);
    CHECK(st == NB_ERR_FORMAT && strstr(nb_last_error(), other) && strstr(nb_last_error(), "IEND"),
          "no IEND (%d): %s", st, nb_last_error());
}

int main(void) {
    if (!tmpdir_make("nabla_png")) return 1;
    check_png();
    tmpdir_remove();
    return test_end("test_png");
}
