/* PNG input and output of 8-bit grayscale images through libpng's simplified API. Every
 * picture is written to "<path>.tmp.<pid>", flushed to disk and renamed over the target
 * (nb__tmp_path / nb__commit_file in core/atomic.c), so a failed write leaves the old file. */
#define _POSIX_C_SOURCE 200809L
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <png.h>
#include <unistd.h>

/* Largest side accepted, far beyond any picture nabla reads or writes. */
#define NB_PNG_MAX_SIDE (1 << 16)

static nb_status check_args(const char *fn, const char *path, int h, int w, const void *px) {
    if (!path) return nb__err(NB_ERR_ARG, "%s: path is NULL", fn);
    if (!px) return nb__err(NB_ERR_ARG, "%s: %s: the pixel buffer is NULL", fn, path);
    if (h <= 0 || w <= 0 || h > NB_PNG_MAX_SIDE || w > NB_PNG_MAX_SIDE)
        return nb__err(NB_ERR_ARG, "%s: %s: size %d x %d (height x width) is outside 1..%d", fn,
                       path, h, w, NB_PNG_MAX_SIDE);
    return NB_OK;
}

nb_status nb_png_read_gray(const char *path, int h, int w, uint8_t *out) {
    nb_status st = check_args("nb_png_read_gray", path, h, w, out);
    if (st) return st;
    FILE *f = fopen(path, "rb");
    if (!f) return nb__err(NB_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_stdio(&img, f)) {
        st = nb__err(NB_ERR_FORMAT, "%s: not a readable PNG file (%s)", path, img.message);
        png_image_free(&img);
        fclose(f);
        return st;
    }
    if (img.height != (png_uint_32)h || img.width != (png_uint_32)w) {
        st = nb__err(NB_ERR_SHAPE,
                     "%s: the image is %u x %u pixels (height x width) but %d x %d is expected",
                     path, (unsigned)img.height, (unsigned)img.width, h, w);
        png_image_free(&img);
        fclose(f);
        return st;
    }
    /* Any colour type becomes 8-bit sRGB gray; alpha is composited on black. */
    img.format = PNG_FORMAT_GRAY;
    memset(out, 0, (size_t)h * (size_t)w); /* (H, W) */
    png_color black = {0, 0, 0};
    if (!png_image_finish_read(&img, &black, out, 0, NULL)) {
        st = nb__err(NB_ERR_FORMAT, "%s: corrupt PNG data (%s)", path, img.message);
        png_image_free(&img);
        fclose(f);
        return st;
    }
    fclose(f);
    return NB_OK;
}

nb_status nb_png_write_gray(const char *path, int h, int w, const uint8_t *px) {
    nb_status st = check_args("nb_png_write_gray", path, h, w, px);
    if (st) return st;
    char *tmp = nb__tmp_path(path);
    if (!tmp) return NB_ERR_MEM;
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        st = nb__err(NB_ERR_IO, "%s: cannot create the temporary file %s: %s", path, tmp,
                     strerror(errno));
        free(tmp);
        return st;
    }
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    img.width = (png_uint_32)w;
    img.height = (png_uint_32)h;
    img.format = PNG_FORMAT_GRAY;
    int ok = png_image_write_to_stdio(&img, f, 0, px, 0, NULL); /* px (H, W) */
    if (!ok) {
        st = nb__err(NB_ERR_IO, "%s: cannot encode the PNG (%s)", path, img.message);
        png_image_free(&img);
        fclose(f);
        unlink(tmp);
        free(tmp);
        return st;
    }
    if (fflush(f) != 0 || ferror(f)) {
        st = nb__err(NB_ERR_IO, "%s: cannot write %s: %s", path, tmp, strerror(errno));
        fclose(f);
        unlink(tmp);
        free(tmp);
        return st;
    }
    if (fclose(f) != 0) {
        st = nb__err(NB_ERR_IO, "%s: cannot close %s: %s", path, tmp, strerror(errno));
        unlink(tmp);
        free(tmp);
        return st;
    }
    st = nb__commit_file(tmp, path);
    free(tmp);
    return st;
}
