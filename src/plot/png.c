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

/* Limits for pictures read: far beyond the 28x28 inputs, and small enough that a file
 * declaring a huge chunk or image is refused before anything is allocated for it. */
#define NB_PNG_READ_MAX_SIDE 4096
#define NB_PNG_READ_MAX_CHUNK (1u << 20)  /* bytes of any one chunk libpng keeps */
#define NB_PNG_READ_MAX_CHUNKS 128        /* ancillary chunks kept (text, sPLT, unknown) */

typedef struct png_src {
    FILE *f;
    bool short_read;
    char msg[200];
} png_src;

static void png_src_read(png_structp png, png_bytep buf, size_t n) {
    png_src *s = png_get_io_ptr(png);
    if (fread(buf, 1, n, s->f) != n) {
        s->short_read = true;
        png_error(png, "the file ends early");
    }
}
static void png_src_error(png_structp png, png_const_charp msg) {
    png_src *s = png_get_error_ptr(png);
    snprintf(s->msg, sizeof s->msg, "%s", msg);
    png_longjmp(png, 1);
}
static void png_src_warning(png_structp png, png_const_charp msg) { (void)png, (void)msg; }

/* Walks the chunks by their headers (without reading their data) up to IEND. libpng 1.6.39
 * allocates a text chunk's declared length before reading it, whatever png_set_chunk_malloc_max
 * says, so a 41-byte file declaring a 2 GB tEXt chunk would take 2 GB: every chunk but IDAT
 * (whose data libpng streams) must fit NB_PNG_READ_MAX_CHUNK. */
static nb_status png_walk(const char *path, FILE *f) {
    unsigned char h[8];
    if (fread(h, 1, 8, f) != 8 || memcmp(h, "\x89PNG\r\n\x1a\n", 8) != 0)
        return nb__err(NB_ERR_FORMAT, "%s: not a PNG file (no PNG signature)", path);
    for (long off = 8;;) {
        if (fread(h, 1, 8, f) != 8)
            return nb__err(NB_ERR_FORMAT, "%s: the PNG file is cut short at byte %ld: it must end with an IEND chunk",
                           path, off);
        uint32_t len = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
        char type[5] = {(char)h[4], (char)h[5], (char)h[6], (char)h[7], 0};
        for (int i = 0; i < 4; i++)
            if (!((type[i] >= 'A' && type[i] <= 'Z') || (type[i] >= 'a' && type[i] <= 'z')))
                return nb__err(NB_ERR_FORMAT, "%s: byte %ld: not a PNG chunk type", path, off + 4);
        if (len > 0x7fffffffu || (len > NB_PNG_READ_MAX_CHUNK && strcmp(type, "IDAT") != 0))
            return nb__err(NB_ERR_FORMAT, "%s: byte %ld: the %s chunk declares %lu bytes, more than the %u read",
                           path, off, type, (unsigned long)len, NB_PNG_READ_MAX_CHUNK);
        if (strcmp(type, "IEND") == 0) return NB_OK;
        if (fseek(f, (long)len + 4, SEEK_CUR) != 0)
            return nb__err(NB_ERR_IO, "%s: cannot seek past the %s chunk at byte %ld", path, type, off);
        off += 12 + (long)len;
    }
}

/* Reads the whole file once through libpng's full interface under the limits above, the pixels
 * into one row of scratch, up to and including IEND. Only a file that passes is decoded by the
 * simplified interface (which converts any colour type to gray but takes no limits and stops
 * before IEND). */
static nb_status png_check(const char *path, FILE *f, int h, int w) {
    png_src s = {f, false, ""};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &s, png_src_error, png_src_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    png_bytep volatile row = NULL;
    nb_status volatile st = NB_OK;
    if (!info) {
        png_destroy_read_struct(png ? &png : NULL, NULL, NULL);
        return nb__err(NB_ERR_MEM, "%s: out of memory for the PNG reader", path);
    }
    if (setjmp(png_jmpbuf(png))) {
        if (!st) {
            if (s.short_read)
                st = nb__err(NB_ERR_FORMAT, "%s: the PNG file is cut short (%s): it must end with an IEND chunk",
                             path, s.msg);
            else
                st = nb__err(NB_ERR_FORMAT, "%s: not a readable PNG file (%s; pictures up to %dx%d with chunks "
                             "up to %u bytes are read)", path, s.msg, NB_PNG_READ_MAX_SIDE,
                             NB_PNG_READ_MAX_SIDE, NB_PNG_READ_MAX_CHUNK);
        }
        free(row);
        png_destroy_read_struct(&png, &info, NULL);
        return st;
    }
    png_set_read_fn(png, &s, png_src_read);
    png_set_user_limits(png, NB_PNG_READ_MAX_SIDE, NB_PNG_READ_MAX_SIDE);
    png_set_chunk_malloc_max(png, NB_PNG_READ_MAX_CHUNK);
    png_set_chunk_cache_max(png, NB_PNG_READ_MAX_CHUNKS);
    png_read_info(png, info);
    png_uint_32 ih = png_get_image_height(png, info), iw = png_get_image_width(png, info);
    if (ih != (png_uint_32)h || iw != (png_uint_32)w) {
        st = nb__err(NB_ERR_SHAPE,
                     "%s: the image is %u x %u pixels (height x width) but %d x %d is expected",
                     path, (unsigned)ih, (unsigned)iw, h, w);
        png_longjmp(png, 1);
    }
    int passes = png_set_interlace_handling(png);
    png_read_update_info(png, info);
    row = malloc(png_get_rowbytes(png, info));
    if (!row) {
        st = nb__err(NB_ERR_MEM, "%s: out of memory for a %zu-byte PNG row", path,
                     (size_t)png_get_rowbytes(png, info));
        png_longjmp(png, 1);
    }
    for (int p = 0; p < passes; p++)
        for (png_uint_32 y = 0; y < ih; y++) png_read_row(png, row, NULL);
    png_read_end(png, NULL);
    free(row);
    png_destroy_read_struct(&png, &info, NULL);
    return NB_OK;
}

nb_status nb_png_read_gray(const char *path, int h, int w, uint8_t *out) {
    nb_status st = check_args("nb_png_read_gray", path, h, w, out);
    if (st) return st;
    FILE *f = fopen(path, "rb");
    if (!f) return nb__err(NB_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if ((st = png_walk(path, f)) != NB_OK || (rewind(f), st = png_check(path, f, h, w)) != NB_OK) {
        fclose(f);
        return st;
    }
    rewind(f);
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
