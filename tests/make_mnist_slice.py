#!/usr/bin/env python3
"""Writes tests/fixtures/mnist-small/: the first 2000 train and first 500 test MNIST images and
labels as gzipped IDX files under the usual four names, cut from data/mnist (plain or .gz files,
installed by `bash scripts/data.sh`). Standard library only; the output is deterministic (gzip
mtime 0, no file name in the gzip header), so rerunning it reproduces the committed bytes.

It also writes tests/fixtures/digit7.png, the first test image (a 7) as an 8-bit gray PNG, the
input of the command line's predict test.

Usage: python3 tests/make_mnist_slice.py [SRC_DIR [OUT_DIR]]
"""
import gzip
import io
import os
import struct
import sys
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SLICES = [("train", 2000), ("t10k", 500)]


def read(path):
    for p in (path, path + ".gz"):
        if os.path.exists(p):
            with open(p, "rb") as f:
                raw = f.read()
            return gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
    sys.exit(f"{path}: not found (run bash scripts/data.sh first)")


def cut(raw, name, count):
    magic, = struct.unpack(">I", raw[:4])
    ndim = magic & 0xFF
    if magic not in (0x00000803, 0x00000801):
        sys.exit(f"{name}: bad magic 0x{magic:08x}")
    dims = list(struct.unpack(f">{ndim}I", raw[4:4 + 4 * ndim]))
    if dims[0] < count:
        sys.exit(f"{name}: holds {dims[0]} items, need {count}")
    per = 1
    for d in dims[1:]:
        per *= d
    head = 4 + 4 * ndim
    dims[0] = count
    return struct.pack(">I", magic) + struct.pack(f">{ndim}I", *dims) + \
        raw[head:head + count * per]


def write_gz(path, data):
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, compresslevel=9, mtime=0) as g:
        g.write(data)
    with open(path, "wb") as f:
        f.write(buf.getvalue())


def write_png_gray(path, w, h, px):
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + \
            struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    rows = b"".join(b"\x00" + px[r * w:(r + 1) * w] for r in range(h))
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)) + \
        chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(png)


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "data", "mnist")
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "tests", "fixtures",
                                                             "mnist-small")
    os.makedirs(out, exist_ok=True)
    total = 0
    for prefix, count in SLICES:
        for kind in ("images-idx3", "labels-idx1"):
            name = f"{prefix}-{kind}-ubyte"
            data = cut(read(os.path.join(src, name)), name, count)
            dst = os.path.join(out, name + ".gz")
            write_gz(dst, data)
            total += os.path.getsize(dst)
            print(f"{os.path.relpath(dst)}: {count} items, {os.path.getsize(dst)} bytes")
    print(f"total {total} bytes")
    images = read(os.path.join(src, "t10k-images-idx3-ubyte"))
    png = os.path.join(os.path.dirname(out), "digit7.png")
    write_png_gray(png, 28, 28, images[16:16 + 784])
    print(f"{os.path.relpath(png)}: the first test image")


if __name__ == "__main__":
    main()
