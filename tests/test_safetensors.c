/* safetensors: round trips of F32/I64/U8 tensors (0-d and empty ones too) and metadata, the
 * header's padding and the data offset, one file checked byte by byte, writer argument checks,
 * every malformed header the reader must refuse (with the file named in the message), F16, BF16
 * and F64 widened to float32 from exact bit patterns, PyTorch's own files (tests/fixtures/pt,
 * from tests/gen_pt_weights.py), and atomic writes that leave the old file intact and no
 * temporary behind.
 * NB_ST_KEEP=<path> keeps a copy of the round-trip file there (for tests/st_torch_check.py). */
#define _GNU_SOURCE
#include "check.h"
#include "internal.h"
#include "tmpdir.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static void write_bytes(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        abort();
    }
    if (n) fwrite(p, 1, n, f);
    fclose(f);
}

/* Whole file into a malloc'ed buffer; *n its size. */
static unsigned char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)sz + 1);
    *n = fread(b, 1, (size_t)sz, f);
    fclose(f);
    return b;
}

static bool err_has(const char *s) { return strstr(nb_last_error(), s) != NULL; }

/* ---- round trip --------------------------------------------------------------------------- */

static void test_round_trip(void) {
    float w[2][3] = {{1.5f, -2.0f, 3.25f}, {0.0f, -0.0f, 1e-30f}}; /* (2,3) */
    int64_t idx[4] = {0, -1, INT64_MAX, INT64_MIN};                  /* (4) */
    uint8_t px[5] = {0, 1, 127, 128, 255};                           /* (5): odd size */
    float scalar = 42.5f;                                            /* () */
    int64_t step = 7;                                                /* () */
    nb_st_writer *wr = nb_st_writer_new();
    CHECK(wr != NULL, "writer");
    CHECK(nb_st_add(wr, "fc1.weight", NB_ST_F32, 2, (int64_t[]){2, 3}, w) == NB_OK, "%s",
          nb_last_error());
    CHECK(nb_st_add(wr, "labels", NB_ST_I64, 1, (int64_t[]){4}, idx) == NB_OK, "%s",
          nb_last_error());
    CHECK(nb_st_add(wr, "pixels", NB_ST_U8, 1, (int64_t[]){5}, px) == NB_OK, "%s",
          nb_last_error());
    CHECK(nb_st_add(wr, "scale", NB_ST_F32, 0, NULL, &scalar) == NB_OK, "%s", nb_last_error());
    CHECK(nb_st_add(wr, "empty", NB_ST_F32, 2, (int64_t[]){0, 3}, NULL) == NB_OK, "%s",
          nb_last_error());
    CHECK(nb_st_add(wr, "bn.num_batches_tracked", NB_ST_I64, 0, NULL, &step) == NB_OK, "%s",
          nb_last_error());
    CHECK(nb_st_add(wr, "empty_i", NB_ST_I64, 1, (int64_t[]){0}, NULL) == NB_OK, "%s",
          nb_last_error());
    CHECK(nb_st_meta(wr, "model", "lenet5") == NB_OK, "%s", nb_last_error());
    CHECK(nb_st_meta(wr, "note", "\xc2\xb5 = 0.1307, \"quoted\"") == NB_OK, "%s",
          nb_last_error());
    /* the writer copied the bytes: changing the source now must not change the file */
    w[0][0] = 99.0f;
    char path[128];
    path_in(path, sizeof path, "rt.safetensors");
    CHECK(nb_st_write(wr, path) == NB_OK, "%s", nb_last_error());
    w[0][0] = 1.5f;
    CHECK(temp_files_left() == 0, "a temporary was left behind");
    nb_st_writer_free(wr);

    const char *keep = getenv("NB_ST_KEEP");
    if (keep && *keep) {
        size_t n;
        unsigned char *b = slurp(path, &n);
        write_bytes(keep, b, n);
        free(b);
    }

    nb_st_reader *r = nb_st_open(path);
    CHECK(r != NULL, "open: %s", nb_last_error());
    if (!r) return;
    CHECK(nb_st_count(r) == 7, "count %d", nb_st_count(r));
    const char *names[] = {"fc1.weight", "labels", "pixels", "scale", "empty",
                           "bn.num_batches_tracked", "empty_i"};
    for (int i = 0; i < 7 && i < nb_st_count(r); i++)
        CHECK(strcmp(nb_st_get(r, i)->name, names[i]) == 0, "order %d: %s", i,
              nb_st_get(r, i)->name);
    CHECK(nb_st_get(r, 7) == NULL && nb_st_get(r, -1) == NULL, "get out of range");
    const nb_st_tensor *t = nb_st_find(r, "fc1.weight");
    CHECK(t && t->dtype == NB_ST_F32 && t->ndim == 2 && t->shape[0] == 2 && t->shape[1] == 3 &&
              t->nbytes == sizeof w && memcmp(t->data, w, sizeof w) == 0,
          "fc1.weight");
    t = nb_st_find(r, "labels");
    CHECK(t && t->dtype == NB_ST_I64 && t->ndim == 1 && t->shape[0] == 4 &&
              t->nbytes == sizeof idx && memcmp(t->data, idx, sizeof idx) == 0,
          "labels");
    t = nb_st_find(r, "pixels");
    CHECK(t && t->dtype == NB_ST_U8 && t->nbytes == 5 && memcmp(t->data, px, 5) == 0, "pixels");
    t = nb_st_find(r, "scale");
    CHECK(t && t->ndim == 0 && t->nbytes == 4, "scale");
    t = nb_st_find(r, "empty");
    CHECK(t && t->ndim == 2 && t->shape[0] == 0 && t->shape[1] == 3 && t->nbytes == 0, "empty");
    CHECK(nb_st_find(r, "nope") == NULL, "find absent");

    float w2[2][3] = {{0}};
    CHECK(nb_st_read_into(r, "fc1.weight", NB_ST_F32, 2, (int64_t[]){2, 3}, w2) == NB_OK, "%s",
          nb_last_error());
    CHECK(memcmp(w, w2, sizeof w) == 0, "fc1.weight read_into");
    float s2 = 0;
    CHECK(nb_st_read_into(r, "scale", NB_ST_F32, 0, NULL, &s2) == NB_OK && s2 == 42.5f, "scale");
    int64_t st2 = 0;
    CHECK(nb_st_read_into(r, "bn.num_batches_tracked", NB_ST_I64, 0, NULL, &st2) == NB_OK &&
              st2 == 7,
          "counter");
    CHECK(nb_st_read_into(r, "empty", NB_ST_F32, 2, (int64_t[]){0, 3}, NULL) == NB_OK, "%s",
          nb_last_error());
    uint8_t px2[5];
    CHECK(nb_st_read_into(r, "pixels", NB_ST_U8, 1, (int64_t[]){5}, px2) == NB_OK &&
              memcmp(px, px2, 5) == 0,
          "pixels read_into");

    /* mismatches: exact messages */
    char want[256];
    CHECK(nb_st_read_into(r, "fc2.weight", NB_ST_F32, 1, (int64_t[]){1}, w2) != NB_OK, "absent");
    snprintf(want, sizeof want, "%s: no tensor 'fc2.weight'", path);
    CHECK(strcmp(nb_last_error(), want) == 0, "msg: %s", nb_last_error());
    CHECK(nb_st_read_into(r, "fc1.weight", NB_ST_F32, 2, (int64_t[]){3, 2}, w2) == NB_ERR_SHAPE,
          "shape");
    snprintf(want, sizeof want, "%s: tensor 'fc1.weight' has shape (2,3), expected (3,2)", path);
    CHECK(strcmp(nb_last_error(), want) == 0, "msg: %s", nb_last_error());
    CHECK(nb_st_read_into(r, "fc1.weight", NB_ST_F32, 1, (int64_t[]){6}, w2) == NB_ERR_SHAPE,
          "ndim");
    CHECK(err_has("has shape (2,3), expected (6)"), "msg: %s", nb_last_error());
    CHECK(nb_st_read_into(r, "labels", NB_ST_F32, 1, (int64_t[]){4}, w2) == NB_ERR_DTYPE,
          "dtype");
    CHECK(err_has(path) && err_has("'labels' has dtype I64, expected F32"), "msg: %s",
          nb_last_error());

    CHECK(nb_st_meta_get(r, "model") && strcmp(nb_st_meta_get(r, "model"), "lenet5") == 0,
          "meta model");
    CHECK(nb_st_meta_get(r, "note") &&
              strcmp(nb_st_meta_get(r, "note"), "\xc2\xb5 = 0.1307, \"quoted\"") == 0,
          "meta note");
    CHECK(nb_st_meta_get(r, "absent") == NULL, "meta absent");
    nb_st_close(r);

    /* layout: 8 + N is a multiple of 8, the padding is spaces, the data starts at 8 + N and is
     * the tensors' bytes in insertion order */
    size_t n;
    unsigned char *b = slurp(path, &n);
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = (hl << 8) | b[i];
    CHECK((8 + hl) % 8 == 0, "8+N = %llu", (unsigned long long)(8 + hl));
    CHECK(b[8] == '{', "header starts with {");
    size_t end = 8 + (size_t)hl;
    while (end > 8 && b[end - 1] == ' ') end--;
    CHECK(b[end - 1] == '}' && 8 + hl - end < 8, "padding is < 8 spaces after the JSON");
    size_t data_bytes = sizeof w + sizeof idx + sizeof px + sizeof scalar + sizeof step;
    CHECK(n == 8 + hl + data_bytes, "file size %zu", n);
    if (n == 8 + hl + data_bytes) {
        const unsigned char *d = b + 8 + hl;
        CHECK(memcmp(d, w, sizeof w) == 0, "fc1.weight at the start of the data");
        d += sizeof w;
        CHECK(memcmp(d, idx, sizeof idx) == 0, "labels next");
        d += sizeof idx;
        CHECK(memcmp(d, px, sizeof px) == 0, "pixels next");
        d += sizeof px;
        CHECK(memcmp(d, &scalar, 4) == 0, "scale next (unaligned)");
        d += 4;
        CHECK(memcmp(d, &step, 8) == 0, "counter last");
    }
    free(b);
}

/* One small file against bytes computed by hand. */
static void test_exact_bytes(void) {
    static const char json[] =
        "{\"__metadata__\":{\"k\":\"v\"},\"a\":{\"dtype\":\"F32\",\"shape\":[2],"
        "\"data_offsets\":[0,8]}}";
    /* 79 bytes of JSON + 1 space = N = 80; 8 + 80 = 88 = 11 * 8 */
    unsigned char want[8 + 80 + 8] = {80, 0, 0, 0, 0, 0, 0, 0};
    CHECK(strlen(json) == 79, "json length %zu", strlen(json));
    memcpy(want + 8, json, 79);
    want[8 + 79] = ' ';
    /* 1.0f = 0x3f800000, -2.0f = 0xc0000000, little-endian */
    const unsigned char data[8] = {0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0};
    memcpy(want + 88, data, 8);

    nb_st_writer *wr = nb_st_writer_new();
    CHECK(nb_st_meta(wr, "k", "v") == NB_OK, "meta");
    CHECK(nb_st_add(wr, "a", NB_ST_F32, 1, (int64_t[]){2}, (float[]){1.0f, -2.0f}) == NB_OK,
          "add");
    char path[128];
    path_in(path, sizeof path, "exact.safetensors");
    CHECK(nb_st_write(wr, path) == NB_OK, "%s", nb_last_error());
    nb_st_writer_free(wr);
    size_t n;
    unsigned char *b = slurp(path, &n);
    CHECK(b && n == sizeof want && memcmp(b, want, sizeof want) == 0,
          "bytes differ (%zu bytes): %.*s", n, (int)(b ? n : 0), b ? (char *)b + 8 : "");
    free(b);

    /* and the reader accepts the hand-made bytes */
    path_in(path, sizeof path, "hand.safetensors");
    write_bytes(path, want, sizeof want);
    nb_st_reader *r = nb_st_open(path);
    float v[2] = {0};
    CHECK(r && nb_st_read_into(r, "a", NB_ST_F32, 1, (int64_t[]){2}, v) == NB_OK &&
              v[0] == 1.0f && v[1] == -2.0f,
          "read hand-made: %s", nb_last_error());
    nb_st_close(r);
}

/* ---- writer arguments --------------------------------------------------------------------- */

static void test_writer_args(void) {
    nb_st_writer *w = nb_st_writer_new();
    float x[4] = {0};
    CHECK(nb_st_add(w, "x", NB_ST_F32, 1, (int64_t[]){4}, x) == NB_OK, "first add");
    CHECK(nb_st_add(w, "x", NB_ST_F32, 1, (int64_t[]){4}, x) == NB_ERR_ARG && err_has("'x'"),
          "duplicate: %s", nb_last_error());
    CHECK(nb_st_add(w, "", NB_ST_F32, 1, (int64_t[]){4}, x) == NB_ERR_ARG, "empty name");
    CHECK(nb_st_add(w, NULL, NB_ST_F32, 1, (int64_t[]){4}, x) == NB_ERR_ARG, "NULL name");
    CHECK(nb_st_add(w, "__metadata__", NB_ST_F32, 1, (int64_t[]){4}, x) == NB_ERR_ARG,
          "reserved name");
    CHECK(nb_st_add(w, "bad\xff", NB_ST_F32, 1, (int64_t[]){4}, x) == NB_ERR_ARG, "not UTF-8");
    CHECK(nb_st_add(w, "y", NB_ST_F32, -1, (int64_t[]){4}, x) == NB_ERR_ARG, "ndim -1");
    int64_t nine[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    CHECK(nb_st_add(w, "y", NB_ST_F32, 9, nine, x) == NB_ERR_ARG, "ndim 9");
    CHECK(nb_st_add(w, "y", NB_ST_F32, 8, nine, x) == NB_OK, "ndim 8: %s", nb_last_error());
    CHECK(nb_st_add(w, "z", NB_ST_F32, 2, (int64_t[]){2, -2}, x) == NB_ERR_ARG &&
              err_has("negative"),
          "negative: %s", nb_last_error());
    CHECK(nb_st_add(w, "z", NB_ST_F32, 2, (int64_t[]){INT64_MAX / 2, 3}, x) == NB_ERR_ARG &&
              err_has("overflow"),
          "overflow: %s", nb_last_error());
    CHECK(nb_st_add(w, "z", NB_ST_U8, 1, (int64_t[]){INT64_MAX}, NULL) == NB_ERR_ARG,
          "NULL data with bytes");
    CHECK(nb_st_add(w, "z", NB_ST_F32, 1, NULL, x) == NB_ERR_ARG, "NULL shape");
    CHECK(nb_st_add(w, "z", (nb_st_dtype)7, 1, (int64_t[]){1}, x) == NB_ERR_ARG, "bad dtype");
    CHECK(nb_st_add(w, "z", NB_ST_F32, 2, (int64_t[]){INT64_MAX, 0}, NULL) == NB_OK,
          "empty with a huge size: %s", nb_last_error());
    CHECK(nb_st_meta(w, "k", "v") == NB_OK, "meta");
    CHECK(nb_st_meta(w, "k", "w") == NB_ERR_ARG, "duplicate meta");
    CHECK(nb_st_meta(w, "k2", NULL) == NB_ERR_ARG, "NULL meta value");
    CHECK(nb_st_write(w, NULL) == NB_ERR_ARG, "NULL path");
    nb_st_writer_free(w);
    nb_st_writer_free(NULL);
    nb_st_close(NULL);
}

/* ---- malformed files ---------------------------------------------------------------------- */

/* Writes u64 N, the JSON (N = its length), then data_len bytes of data; opens it and expects
 * NULL with a message naming the file and containing `what`. */
static void bad(const char *tag, const char *json, size_t data_len, const char *what) {
    char path[128];
    path_in(path, sizeof path, tag);
    size_t jl = strlen(json);
    unsigned char *b = calloc(8 + jl + data_len + 1, 1);
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)jl >> (8 * i));
    memcpy(b + 8, json, jl);
    write_bytes(path, b, 8 + jl + data_len);
    free(b);
    nb_st_reader *r = nb_st_open(path);
    CHECK(r == NULL, "%s: accepted", tag);
    CHECK(err_has(path) && err_has(what), "%s: message '%s' lacks the path or '%s'", tag,
          nb_last_error(), what);
    nb_st_close(r);
}

/* Raw bytes, for the cases that break the length prefix itself. */
static void bad_raw(const char *tag, const unsigned char *p, size_t n, const char *what) {
    char path[128];
    path_in(path, sizeof path, tag);
    write_bytes(path, p, n);
    nb_st_reader *r = nb_st_open(path);
    CHECK(r == NULL, "%s: accepted", tag);
    CHECK(err_has(path) && err_has(what), "%s: message '%s' lacks the path or '%s'", tag,
          nb_last_error(), what);
    nb_st_close(r);
}

static void test_malformed(void) {
    bad_raw("empty", (const unsigned char *)"", 0, "shorter than the 8-byte");
    bad_raw("short", (const unsigned char *)"\x02\0\0\0\0", 5, "shorter than the 8-byte");
    const unsigned char toolong[12] = {100, 0, 0, 0, 0, 0, 0, 0, '{', '}', ' ', ' '};
    bad_raw("hlen_past_end", toolong, sizeof toolong, "header length 100 but only 4 bytes");
    const unsigned char absurd[10] = {0, 0, 0, 0, 0, 0, 0, 1, '{', '}'};
    bad_raw("hlen_absurd", absurd, sizeof absurd, "absurd");
    char path[128];
    path_in(path, sizeof path, "does_not_exist.safetensors");
    CHECK(nb_st_open(path) == NULL && err_has(path) && err_has("No such file"), "missing: %s",
          nb_last_error());
    CHECK(nb_st_open(g_dir) == NULL && err_has(g_dir), "a folder: %s", nb_last_error());

    bad("json_syntax", "{\"a\": ", 0, "invalid JSON header");
    bad("json_garbage", "{} xx", 0, "invalid JSON header");
    bad("json_dup", "{\"a\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[0,1]},"
                    "\"a\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[1,2]}}",
        2, "duplicate");
    bad("not_object", "[1,2]", 0, "not an object");
    bad("entry_not_object", "{\"a\":3}", 0, "'a': entry is not an object");
    bad("no_dtype", "{\"a\":{\"shape\":[1],\"data_offsets\":[0,1]}}", 1, "'a': no \"dtype\"");
    bad("no_shape", "{\"a\":{\"dtype\":\"U8\",\"data_offsets\":[0,1]}}", 1, "'a': no \"shape\"");
    bad("no_offsets", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1]}}", 1, "no \"data_offsets\"");
    bad("dtype_type", "{\"a\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,1]}}", 1,
        "dtype is not a string");
    bad("shape_type", "{\"a\":{\"dtype\":\"U8\",\"shape\":\"1\",\"data_offsets\":[0,1]}}", 1,
        "shape is not an array");
    bad("offsets_type", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":{}}}", 1,
        "data_offsets is not [begin, end]");
    bad("offsets_len", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1,2]}}", 1,
        "data_offsets is not [begin, end]");
    bad("offsets_float", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1.0]}}", 1,
        "not non-negative integers");
    bad("offsets_negative", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[-1,0]}}",
        1, "not non-negative integers");
    bad("offsets_reversed", "{\"a\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[1,0]}}",
        1, "end before begin");
    bad("dtype_i32", "{\"w\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
        "tensor 'w': unsupported dtype \"I32\" (nabla reads F32, I64, U8, F16, BF16, F64)");
    bad("dtype_lower", "{\"w\":{\"dtype\":\"f16\",\"shape\":[1],\"data_offsets\":[0,2]}}", 2,
        "unsupported dtype \"f16\"");
    bad("shape_negative", "{\"a\":{\"dtype\":\"U8\",\"shape\":[-1],\"data_offsets\":[0,0]}}", 0,
        "shape[0] is not a non-negative integer");
    bad("shape_float", "{\"a\":{\"dtype\":\"U8\",\"shape\":[2, 1.5],\"data_offsets\":[0,3]}}",
        3, "shape[1] is not a non-negative integer");
    bad("shape_string", "{\"a\":{\"dtype\":\"U8\",\"shape\":[\"2\"],\"data_offsets\":[0,2]}}",
        2, "shape[0] is not");
    bad("shape_9d",
        "{\"a\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,1]}}", 1,
        "9 dimensions");
    bad("size_mismatch", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4,
        "hold 4 bytes, but F32 (2) needs 8");
    bad("size_overflow",
        "{\"a\":{\"dtype\":\"I64\",\"shape\":[4611686018427387904,8],\"data_offsets\":[0,8]}}",
        8, "needs more than");
    bad("out_of_buffer", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4,
        "outside the 4-byte data");
    bad("overlap",
        "{\"a\":{\"dtype\":\"U8\",\"shape\":[8],\"data_offsets\":[0,8]},"
        "\"b\":{\"dtype\":\"U8\",\"shape\":[8],\"data_offsets\":[4,12]}}",
        12, "'a' [0, 8) and 'b' [4, 12) overlap");
    bad("gap",
        "{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]},"
        "\"b\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[8,12]}}",
        12, "data bytes [4, 8) belong to no tensor");
    bad("not_from_zero", "{\"b\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[4,8]}}", 8,
        "data bytes [0, 4) belong to no tensor");
    bad("trailing", "{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]}}", 8,
        "data bytes [4, 8) at the end");
    bad("meta_value", "{\"__metadata__\":{\"k\":1}}", 0, "value of 'k' is not a string");
    bad("meta_type", "{\"__metadata__\":[]}", 0, "__metadata__ is not an object");

    /* edge cases that are valid: empty header object, out-of-order offsets, empty tensors
     * between full ones at the same offset */
    const char *ok[] = {
        "{}",
        "{\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[2,4]},"
        "\"e\":{\"dtype\":\"F32\",\"shape\":[0,5],\"data_offsets\":[2,2]},"
        "\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}  ",
    };
    size_t ok_data[] = {0, 4};
    for (int i = 0; i < 2; i++) {
        path_in(path, sizeof path, "ok.safetensors");
        size_t jl = strlen(ok[i]);
        unsigned char b[512] = {0};
        b[0] = (unsigned char)jl;
        memcpy(b + 8, ok[i], jl);
        write_bytes(path, b, 8 + jl + ok_data[i]);
        nb_st_reader *r = nb_st_open(path);
        CHECK(r != NULL, "valid case %d: %s", i, nb_last_error());
        CHECK(nb_st_count(r) == (i ? 3 : 0), "count %d", nb_st_count(r));
        if (r && i) CHECK(strcmp(nb_st_get(r, 0)->name, "b") == 0, "header order kept");
        nb_st_close(r);
    }
}

/* ---- float dtypes: F16, BF16, F64 widened to float32 --------------------------------------- */

static uint32_t fbits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* Same value, bit for bit (so -0 != +0), or both NaN. */
static bool same_float(float a, float b) { return (isnan(a) && isnan(b)) || fbits(a) == fbits(b); }

/* float32 -> nearest IEEE half (ties to even), as a float: written apart from the library's
 * half -> float, in the float domain. */
static float round_half(float x) {
    if (isnan(x)) return x;
    float a = fabsf(x), r;
    if (a >= 65520.0f) r = INFINITY; /* 65520 is the tie between 65504 (odd) and 2^16: even = inf */
    else if (a < 0x1p-14f) r = rintf(a * 0x1p24f) * 0x1p-24f; /* subnormal: multiples of 2^-24 */
    else {
        uint32_t u = fbits(a); /* keep 10 of the 23 mantissa bits, to nearest even */
        u = (u + 0xFFFu + ((u >> 13) & 1u)) & ~0x1FFFu;
        r = from_bits(u);
    }
    return copysignf(r, x);
}

/* float32 -> nearest bfloat16 (ties to even), as a float. */
static float round_bf16(float x) {
    if (isnan(x)) return x;
    uint32_t u = fbits(x);
    return from_bits((u + 0x7FFFu + ((u >> 16) & 1u)) & 0xFFFF0000u);
}

/* Exact bit patterns written into a file by nabla's writer, read back as float32. */
static void test_float_dtypes(void) {
    static const uint16_t h[] = {0x3C00, 0xC000, 0x7BFF, 0x0001, 0x03FF, 0x0400, 0x8000,
                                 0x7C00, 0xFC00, 0x7E00, 0x3555, 0x8001}; /* (12) */
    const float h_want[] = {1.0f, -2.0f, 65504.0f, 0x1p-24f, 1023 * 0x1p-24f, 0x1p-14f,
                            -0.0f, INFINITY, -INFINITY, NAN, 0x1.554p-2f, -0x1p-24f};
    static const uint16_t b[] = {0x3F80, 0xC2F7, 0x7F7F, 0x0001, 0x8000, 0x7F80,
                                 0xFF80, 0x7FC0, 0x4049, 0x0080}; /* (2,5) */
    const float b_want[] = {1.0f, -123.5f, 0x1.fep127f, 0x1p-133f, -0.0f, INFINITY,
                            -INFINITY, NAN, 3.140625f, 0x1p-126f};
    const double d[] = {0.1, 1.0 + 0x1p-24, 1.0 + 3 * 0x1p-24, 1e300, -1e300,
                        0x1.fffffefffffffp127, 0x1.ffffffp127, -0x1.ffffffp127, 0x1p-150,
                        0x1p-149, 0x1.0000000001p-150, NAN, -0.0, 1e-50, 123456789.0,
                        1.0 / 3}; /* (2,2,4) */
    const float d_want[] = {0.1f, 1.0f, 1.0f + 0x1p-22f, INFINITY, -INFINITY, FLT_MAX,
                            INFINITY, -INFINITY, 0.0f, 0x1p-149f, 0x1p-149f, NAN, -0.0f,
                            0.0f, 123456792.0f, 1.0f / 3};
    const float f[] = {1.5f, -0.0f, 0x1p-149f, FLT_MAX}; /* (4) */
    const int64_t i[] = {3, -4};                         /* (2) */
    const int nh = 12, nb = 10, nd = 16;

    nb_st_writer *w = nb_st_writer_new();
    CHECK(nb_st_meta(w, "format", "pt") == NB_OK, "meta");
    CHECK(nb_st_add(w, "h", NB_ST_F16, 1, (int64_t[]){nh}, h) == NB_OK, "%s", nb_last_error());
    CHECK(nb_st_add(w, "b", NB_ST_BF16, 2, (int64_t[]){2, 5}, b) == NB_OK, "%s", nb_last_error());
    CHECK(nb_st_add(w, "d", NB_ST_F64, 3, (int64_t[]){2, 2, 4}, d) == NB_OK, "%s",
          nb_last_error());
    CHECK(nb_st_add(w, "f", NB_ST_F32, 1, (int64_t[]){4}, f) == NB_OK, "%s", nb_last_error());
    CHECK(nb_st_add(w, "i", NB_ST_I64, 1, (int64_t[]){2}, i) == NB_OK, "%s", nb_last_error());
    CHECK(nb_st_add(w, "d0", NB_ST_F64, 0, NULL, (double[]){-2.5}) == NB_OK, "0-d F64");
    CHECK(nb_st_add(w, "e", NB_ST_F16, 2, (int64_t[]){0, 3}, NULL) == NB_OK, "empty F16");
    char path[128];
    path_in(path, sizeof path, "float_dtypes.safetensors");
    CHECK(nb_st_write(w, path) == NB_OK, "%s", nb_last_error());
    nb_st_writer_free(w);

    /* the names in the header, as PyTorch's files spell them */
    size_t n;
    unsigned char *raw = slurp(path, &n);
    CHECK(raw && strstr((char *)raw + 8, "\"dtype\":\"F16\"") &&
              strstr((char *)raw + 8, "\"dtype\":\"BF16\"") &&
              strstr((char *)raw + 8, "\"dtype\":\"F64\""),
          "dtype names in the header");
    free(raw);

    nb_st_reader *r = nb_st_open(path);
    CHECK(r != NULL, "open: %s", nb_last_error());
    if (!r) return;
    CHECK(strcmp(nb_st_meta_get(r, "format"), "pt") == 0, "format");
    CHECK(nb_st_find(r, "h")->dtype == NB_ST_F16 &&
              nb_st_find(r, "h")->nbytes == 2 * (size_t)nh &&
              nb_st_find(r, "b")->dtype == NB_ST_BF16 && nb_st_find(r, "d")->dtype == NB_ST_F64 &&
              nb_st_find(r, "d")->nbytes == 8 * (size_t)nd,
          "dtypes and sizes");
    CHECK(strcmp(nb_st_dtype_name(NB_ST_BF16), "BF16") == 0 && nb_st_dtype_size(NB_ST_F64) == 8 &&
              nb_st_dtype_size(NB_ST_F16) == 2 &&
              strcmp(nb_st_dtype_name(NB_ST_DTYPE_COUNT), "?") == 0 &&
              nb_st_dtype_size((nb_st_dtype)-1) == 0,
          "dtype name and size");

    float out[16];
    CHECK(nb_st_read_f32(r, "h", 1, (int64_t[]){nh}, out) == NB_OK, "%s", nb_last_error());
    for (int k = 0; k < nh; k++)
        CHECK(same_float(out[k], h_want[k]), "half 0x%04X -> %a, expected %a", h[k], out[k],
              h_want[k]);
    CHECK(nb_st_read_f32(r, "b", 2, (int64_t[]){2, 5}, out) == NB_OK, "%s", nb_last_error());
    for (int k = 0; k < nb; k++)
        CHECK(same_float(out[k], b_want[k]), "bf16 0x%04X -> %a, expected %a", b[k], out[k],
              b_want[k]);
    CHECK(nb_st_read_f32(r, "d", 3, (int64_t[]){2, 2, 4}, out) == NB_OK, "%s", nb_last_error());
    for (int k = 0; k < nd; k++)
        CHECK(same_float(out[k], d_want[k]), "f64 %a -> %a, expected %a", d[k], out[k],
              d_want[k]);
    CHECK(nb_st_read_f32(r, "f", 1, (int64_t[]){4}, out) == NB_OK &&
              memcmp(out, f, sizeof f) == 0,
          "F32 through read_f32: %s", nb_last_error());
    CHECK(nb_st_read_f32(r, "d0", 0, NULL, out) == NB_OK && out[0] == -2.5f, "0-d F64");
    CHECK(nb_st_read_f32(r, "e", 2, (int64_t[]){0, 3}, NULL) == NB_OK, "empty F16, NULL dst");
    /* the independent rounding above agrees with the patterns (a check of the checker) */
    for (int k = 0; k < nh; k++)
        CHECK(same_float(round_half(h_want[k]), h_want[k]), "round_half fixes %a", h_want[k]);
    for (int k = 0; k < nb; k++)
        CHECK(same_float(round_bf16(b_want[k]), b_want[k]), "round_bf16 fixes %a", b_want[k]);
    CHECK(round_half(65519.0f) == 65504.0f && round_half(65520.0f) == INFINITY &&
              round_half(0x1p-25f) == 0.0f && round_half(0x1.8p-24f) == 0x1p-23f &&
              round_bf16(1.0f + 0x1p-8f) == 1.0f && round_bf16(1.0f + 3 * 0x1p-8f) == 1.015625f,
          "rounding ties");

    /* errors: shape (file, tensor and both shapes named), absence, integer dtype, strict read */
    CHECK(nb_st_read_f32(r, "h", 2, (int64_t[]){3, 4}, out) == NB_ERR_SHAPE && err_has(path) &&
              err_has("tensor 'h' has shape (12), expected (3,4)"),
          "shape: %s", nb_last_error());
    CHECK(nb_st_read_f32(r, "b", 2, (int64_t[]){5, 2}, out) == NB_ERR_SHAPE &&
              err_has("tensor 'b' has shape (2,5), expected (5,2)"),
          "shape: %s", nb_last_error());
    CHECK(nb_st_read_f32(r, "d0", 1, (int64_t[]){1}, out) == NB_ERR_SHAPE &&
              err_has("has shape (), expected (1)"),
          "0-d vs (1): %s", nb_last_error());
    CHECK(nb_st_read_f32(r, "zz", 1, (int64_t[]){1}, out) == NB_ERR_FORMAT && err_has(path) &&
              err_has("no tensor 'zz'"),
          "absent: %s", nb_last_error());
    CHECK(nb_st_read_f32(r, "i", 1, (int64_t[]){2}, out) == NB_ERR_DTYPE && err_has(path) &&
              err_has("tensor 'i' has dtype I64"),
          "integer: %s", nb_last_error());
    CHECK(nb_st_read_f32(r, "h", 1, (int64_t[]){nh}, NULL) == NB_ERR_ARG, "NULL dst");
    CHECK(nb_st_read_f32(r, "h", 9, (int64_t[9]){0}, out) == NB_ERR_ARG, "ndim 9");
    CHECK(nb_st_read_f32(NULL, "h", 1, (int64_t[]){nh}, out) == NB_ERR_ARG, "NULL reader");
    CHECK(nb_st_read_into(r, "h", NB_ST_F32, 1, (int64_t[]){nh}, out) == NB_ERR_DTYPE &&
              err_has("tensor 'h' has dtype F16, expected F32"),
          "strict read: %s", nb_last_error());
    uint16_t hb[12];
    CHECK(nb_st_read_into(r, "h", NB_ST_F16, 1, (int64_t[]){nh}, hb) == NB_OK &&
              memcmp(hb, h, sizeof hb) == 0,
          "strict F16 read gives the bits");
    nb_st_close(r);
}

/* ---- PyTorch's files: tests/fixtures/pt (made by tests/gen_pt_weights.py) ------------------ */

#define PT_DIR "fixtures/pt/"

static float parse_value(const char *s) {
    if (!strcmp(s, "nan")) return NAN;
    if (!strcmp(s, "inf")) return INFINITY;
    if (!strcmp(s, "-inf")) return -INFINITY;
    return strtof(s, NULL);
}

/* mixed.safetensors holds tensors of each float dtype stored by torch's own conversions;
 * mixed-expected.txt holds them as torch widens them (Tensor.float()). */
static void test_pt_mixed(void) {
    nb_st_reader *r = nb_st_open(PT_DIR "mixed.safetensors");
    FILE *f = fopen(PT_DIR "mixed-expected.txt", "r");
    CHECK(r && f, "open the mixed fixture: %s", nb_last_error());
    if (!r || !f) {
        nb_st_close(r);
        if (f) fclose(f);
        return;
    }
    CHECK(nb_st_meta_get(r, "format") && !strcmp(nb_st_meta_get(r, "format"), "pt"),
          "format pt");
    /* save_file's order: descending dtype alignment (F64, F32, BF16, F16), then name */
    static const nb_st_dtype order[] = {NB_ST_F64, NB_ST_F64, NB_ST_F32, NB_ST_F32,
                                        NB_ST_BF16, NB_ST_BF16, NB_ST_F16, NB_ST_F16};
    CHECK(nb_st_count(r) == 8, "count %d", nb_st_count(r));
    for (int k = 0; k < nb_st_count(r) && k < 8; k++)
        CHECK(nb_st_get(r, k)->dtype == order[k], "tensor %d (%s) dtype %s", k,
              nb_st_get(r, k)->name, nb_st_dtype_name(nb_st_get(r, k)->dtype));
    char line[4096];
    int lines = 0, values = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || line[0] == '\n') continue;
        char *save, *name = strtok_r(line, " \n", &save), *dt = strtok_r(NULL, " \n", &save);
        int ndim = atoi(strtok_r(NULL, " \n", &save));
        int64_t shape[8], numel = 1;
        for (int d = 0; d < ndim && d < 8; d++)
            numel *= shape[d] = atoll(strtok_r(NULL, " \n", &save));
        CHECK(!strcmp(strtok_r(NULL, " \n", &save), ":"), "%s: line format", name);
        const nb_st_tensor *t = nb_st_find(r, name);
        CHECK(t && !strcmp(nb_st_dtype_name(t->dtype), dt), "%s: dtype %s", name, dt);
        float got[64];
        CHECK(numel <= 64 && nb_st_read_f32(r, name, ndim, shape, got) == NB_OK, "%s: %s", name,
              nb_last_error());
        for (int64_t k = 0; k < numel && k < 64; k++) {
            char *tok = strtok_r(NULL, " \n", &save);
            float want = tok ? parse_value(tok) : -12345.0f;
            CHECK(same_float(got[k], want), "%s[%lld]: nabla %a, torch %a (%s)", name,
                  (long long)k, got[k], want, tok ? tok : "missing");
            values++;
        }
        lines++;
    }
    CHECK(lines == nb_st_count(r), "%d lines for %d tensors", lines, nb_st_count(r));
    CHECK(values > 60, "%d values compared", values);
    fclose(f);
    nb_st_close(r);
}

/* The three LeNet-5 files: every tensor reads at nabla's shapes, the F16 and BF16 files hold
 * exactly the F32 weights rounded to nearest (ties to even), and the metadata says "pt". */
static void test_pt_lenet5(void) {
    static const struct {
        const char *name;
        int ndim;
        int64_t shape[4];
    } ps[] = {
        {"conv1.weight", 4, {6, 1, 5, 5}}, {"conv1.bias", 1, {6}},
        {"conv2.weight", 4, {16, 6, 5, 5}}, {"conv2.bias", 1, {16}},
        {"fc1.weight", 2, {120, 400}}, {"fc1.bias", 1, {120}},
        {"fc2.weight", 2, {84, 120}}, {"fc2.bias", 1, {84}},
        {"fc3.weight", 2, {10, 84}}, {"fc3.bias", 1, {10}},
    };
    static const char *const files[] = {"f32", "f16", "bf16"};
    static const nb_st_dtype dts[] = {NB_ST_F32, NB_ST_F16, NB_ST_BF16};
    nb_st_reader *r[3];
    bool ok = true;
    for (int fi = 0; fi < 3; fi++) {
        char path[128];
        snprintf(path, sizeof path, PT_DIR "lenet5-%s.safetensors", files[fi]);
        r[fi] = nb_st_open(path);
        CHECK(r[fi] != NULL, "open %s: %s", path, nb_last_error());
        ok = ok && r[fi];
        if (!r[fi]) continue;
        const char *fmt = nb_st_meta_get(r[fi], "format");
        CHECK(fmt && !strcmp(fmt, "pt"), "%s: format %s", path, fmt ? fmt : "(none)");
        CHECK(nb_st_count(r[fi]) == 10, "%s: %d tensors", path, nb_st_count(r[fi]));
        for (int k = 0; k < nb_st_count(r[fi]); k++)
            CHECK(nb_st_get(r[fi], k)->dtype == dts[fi], "%s: '%s' is %s", path,
                  nb_st_get(r[fi], k)->name, nb_st_dtype_name(nb_st_get(r[fi], k)->dtype));
    }
    int64_t total = 0, differ16 = 0, differbf = 0;
    for (size_t p = 0; ok && p < sizeof ps / sizeof *ps; p++) {
        int64_t n = 1;
        for (int d = 0; d < ps[p].ndim; d++) n *= ps[p].shape[d];
        float *v[3];
        for (int fi = 0; fi < 3; fi++) {
            v[fi] = malloc((size_t)n * sizeof(float));
            CHECK(nb_st_read_f32(r[fi], ps[p].name, ps[p].ndim, ps[p].shape, v[fi]) == NB_OK,
                  "%s: %s", files[fi], nb_last_error());
        }
        int bad16 = 0, badbf = 0, wild = 0;
        for (int64_t k = 0; k < n; k++) {
            float x = v[0][k], want16 = round_half(x), wantbf = round_bf16(x);
            if (!same_float(v[1][k], want16) && bad16++ < 3)
                CHECK(0, "%s[%lld]: f16 file %a, f32 %a rounds to %a", ps[p].name, (long long)k,
                      v[1][k], x, want16);
            if (!same_float(v[2][k], wantbf) && badbf++ < 3)
                CHECK(0, "%s[%lld]: bf16 file %a, f32 %a rounds to %a", ps[p].name,
                      (long long)k, v[2][k], x, wantbf);
            wild += !(isfinite(x) && fabsf(x) < 10.0f);
            differ16 += v[1][k] != x;
            differbf += v[2][k] != x;
        }
        CHECK(bad16 == 0 && badbf == 0, "%s: %d f16 and %d bf16 values off the rounding",
              ps[p].name, bad16, badbf);
        CHECK(wild == 0, "%s: %d weights not finite or over 10 in size", ps[p].name, wild);
        total += n;
        for (int fi = 0; fi < 3; fi++) free(v[fi]);
    }
    CHECK(!ok || total == 61706, "LeNet-5 has %lld parameters", (long long)total);
    /* the narrow files are not the F32 one in disguise */
    CHECK(!ok || (differ16 > total / 2 && differbf > total / 2), "%lld f16, %lld bf16 differ",
          (long long)differ16, (long long)differbf);
    for (int fi = 0; fi < 3; fi++) nb_st_close(r[fi]);
}

/* ---- atomic writes ------------------------------------------------------------------------ */

static void test_failed_writes(void) {
    uint8_t small[3] = {1, 2, 3};
    char path[128], sub[160], file_in_dir[192];
    nb_st_writer *w = nb_st_writer_new();
    CHECK(nb_st_add(w, "small", NB_ST_U8, 1, (int64_t[]){3}, small) == NB_OK, "add");

    /* an existing file is replaced by a good write */
    path_in(path, sizeof path, "ckpt.safetensors");
    write_bytes(path, "old contents", 12);
    CHECK(nb_st_write(w, path) == NB_OK, "overwrite: %s", nb_last_error());
    nb_st_reader *r = nb_st_open(path);
    CHECK(r && nb_st_find(r, "small"), "overwritten file reads back");
    nb_st_close(r);
    size_t old_n;
    unsigned char *old = slurp(path, &old_n);

    /* 1. the parent of the path is a regular file */
    snprintf(sub, sizeof sub, "%s/x.safetensors", path);
    CHECK(nb_st_write(w, sub) == NB_ERR_IO, "parent is a file");
    CHECK(err_has(sub) && err_has(strerror(ENOTDIR)), "msg: %s", nb_last_error());

    /* 2. the target is a folder (with a file inside that must survive) */
    path_in(sub, sizeof sub, "adir");
    CHECK(mkdir(sub, 0755) == 0, "mkdir");
    snprintf(file_in_dir, sizeof file_in_dir, "%s/keep", sub);
    write_bytes(file_in_dir, "k", 1);
    CHECK(nb_st_write(w, sub) == NB_ERR_IO, "target is a folder");
    CHECK(err_has(sub) && err_has("rename") && err_has(strerror(EISDIR)), "msg: %s",
          nb_last_error());
    struct stat sb;
    CHECK(stat(sub, &sb) == 0 && S_ISDIR(sb.st_mode) && stat(file_in_dir, &sb) == 0,
          "folder untouched");
    CHECK(temp_files_left() == 0, "temporary left after a failed rename");
    remove(file_in_dir);
    rmdir(sub);

    /* 3. the write itself fails half-way (file size limit): the old file stays as it was */
    nb_st_writer *big = nb_st_writer_new();
    static float blob[4096]; /* (4096): 16 KiB, well past the limit below */
    CHECK(nb_st_add(big, "blob", NB_ST_F32, 1, (int64_t[]){4096}, blob) == NB_OK, "add blob");
    struct rlimit saved, lim;
    getrlimit(RLIMIT_FSIZE, &saved);
    lim = saved;
    lim.rlim_cur = 1024;
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN); /* write() then fails with EFBIG */
    if (setrlimit(RLIMIT_FSIZE, &lim) == 0) {
        nb_status st = nb_st_write(big, path);
        setrlimit(RLIMIT_FSIZE, &saved);
        CHECK(st == NB_ERR_IO, "write past the size limit succeeded");
        CHECK(err_has(path) && err_has(strerror(EFBIG)), "msg: %s", nb_last_error());
        size_t n;
        unsigned char *now = slurp(path, &n);
        CHECK(now && n == old_n && memcmp(now, old, n) == 0, "old file changed");
        free(now);
        CHECK(temp_files_left() == 0, "temporary left after a failed write");
    } else {
        CHECK(0, "setrlimit: %s", strerror(errno));
    }
    signal(SIGXFSZ, prev);
    /* the same writer succeeds once the limit is gone */
    CHECK(nb_st_write(big, path) == NB_OK, "%s", nb_last_error());
    r = nb_st_open(path);
    CHECK(r && nb_st_count(r) == 1 && nb_st_find(r, "blob") &&
              nb_st_find(r, "blob")->nbytes == sizeof blob,
          "rewritten");
    nb_st_close(r);
    nb_st_writer_free(big);
    free(old);
    nb_st_writer_free(w);
}

int main(void) {
    if (!tmpdir_make("nb_st")) return 1;
    test_round_trip();
    test_exact_bytes();
    test_writer_args();
    test_malformed();
    test_float_dtypes();
    test_pt_mixed();
    test_pt_lenet5();
    test_failed_writes();
    tmpdir_remove();
    return test_end("test_safetensors");
}
