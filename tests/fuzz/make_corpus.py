#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets into tests/fuzz/corpus/<target>/ (standard
library only; the nabla checkpoint comes from build-fuzz/tests/fuzz/fuzz_make_checkpoint, so
build build-fuzz first: bash scripts/fuzz.sh 0). Small valid files, a few bytes to a few KB
each, so that the mutations start from the real formats. Rerunning reproduces the bytes."""
import gzip, io, os, shutil, struct, subprocess, sys, zlib

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "fuzz", "corpus")
MNIST = os.path.join(ROOT, "tests", "fixtures", "mnist-small")


def put(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def gz(data):
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, filename="") as f:
        f.write(data)
    return buf.getvalue()


def idx_pair(images, labels):
    """fuzz_idx's input: big-endian length of the images file, the images, the labels."""
    return struct.pack(">I", len(images)) + images + labels


def idx_corpus():
    with gzip.open(os.path.join(MNIST, "t10k-images-idx3-ubyte.gz")) as f:
        img = f.read()
    with gzip.open(os.path.join(MNIST, "t10k-labels-idx1-ubyte.gz")) as f:
        lab = f.read()
    def images(n):
        return struct.pack(">IIII", 0x803, n, 28, 28) + img[16:16 + n * 784]
    def labels(n):
        return struct.pack(">II", 0x801, n) + lab[8:8 + n]
    put("idx", "plain-3", idx_pair(images(3), labels(3)))
    put("idx", "gzip-2", idx_pair(gz(images(2)), gz(labels(2))))
    put("idx", "gzip-images-plain-labels", idx_pair(gz(images(1)), labels(1)))
    put("idx", "images-only", b"\xff\xff\xff\xff" + images(1))
    tiny = struct.pack(">IIII", 0x803, 2, 2, 3) + bytes(range(0, 240, 20))
    put("idx", "tiny-2x3", idx_pair(tiny, struct.pack(">II", 0x801, 2) + b"\x00\x09"))


def csv_corpus():
    put("csv", "iris.csv", b"sepal_length,sepal_width,petal_length,petal_width,label\n"
        b"5.1,3.5,1.4,0.2,0\n7.0,3.2,4.7,1.4,1\n6.3,3.3,6.0,2.5,2\n")
    put("csv", "crlf-blank.csv", b"1,2,0\r\n\r\n-3.5e-2, 4 ,1\r\n  \r\n0x10,7,2\r\n")
    put("csv", "two-columns.csv", b"3,1\n4,1\n5,9\n")
    put("csv", "floats.csv", b"3.4e38,-1e-40,0.5,1\n.5,-0,+7,0\n1.,2E3,-3.25,3\n")


def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png(w, h, color, depth, rows, extra=b""):
    """A PNG of the given IHDR colour type and depth; rows are raw scanlines (filter 0 added)."""
    raw = b"".join(b"\x00" + r for r in rows)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, color, 0, 0, 0))
            + extra + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def png_corpus():
    shutil.copy(os.path.join(ROOT, "tests", "fixtures", "digit7.png"), os.path.join(OUT, "png", "digit7.png"))
    put("png", "gray-28.png", png(28, 28, 0, 8, [bytes((x * y) & 255 for x in range(28)) for y in range(28)]))
    put("png", "rgba-3x2.png", png(3, 2, 6, 8, [bytes(range(12)), bytes(range(100, 112))]))
    put("png", "palette-4x1.png", png(4, 1, 3, 2, [b"\x1b"], chunk(b"PLTE", bytes(range(12)))
                                      + chunk(b"tRNS", b"\x80\xff")))
    put("png", "gray16-2x2.png", png(2, 2, 0, 16, [b"\x00\x01\xff\xff", b"\x80\x00\x12\x34"],
                                     chunk(b"gAMA", struct.pack(">I", 45455))))


def safetensors_corpus(make_checkpoint):
    shutil.copy(os.path.join(ROOT, "tests", "fixtures", "pt", "mixed.safetensors"),
                os.path.join(OUT, "safetensors", "pt-mixed.safetensors"))
    subprocess.run([make_checkpoint, os.path.join(OUT, "safetensors", "nabla-tiny.safetensors")], check=True)
    head = (b'{"__metadata__":{"format":"pt"},"a":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]},'
            b'"b":{"dtype":"U8","shape":[],"data_offsets":[4,5]},"c":{"dtype":"F64","shape":[0,3],'
            b'"data_offsets":[5,5]}}')
    put("safetensors", "hand.safetensors", struct.pack("<Q", len(head)) + head + b"\x80\x3f\x80\xbf\x07")


def main():
    make_checkpoint = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        ROOT, "build-fuzz", "tests", "fuzz", "fuzz_make_checkpoint")
    for t in ("idx", "csv", "png", "safetensors"):
        os.makedirs(os.path.join(OUT, t), exist_ok=True)
    idx_corpus()
    csv_corpus()
    png_corpus()
    safetensors_corpus(make_checkpoint)


if __name__ == "__main__":
    main()
