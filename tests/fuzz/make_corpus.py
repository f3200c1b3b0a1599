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


def text_corpus():
    """fuzz_text: vocabularies, a UTF-8 text, eight word lists cut by NUL bytes, an e-mail."""
    put("text", "vocab-words", b"nabla-vocab 1 words specials 3\nthe\nmoney\nfree\n")
    put("text", "vocab-chars", b"nabla-vocab 1 chars plain 6\n\\n\n\\\\\n\\x09\n \n\xc3\xa9\n\xe2\x80\x9c\n")
    put("text", "vocab-lower", b"nabla-vocab 1 lower-chars specials 3\na\n\xc3\x9f\n\xc5\x93\n")
    put("text", "moby.txt", "Call me Ishmael. Some years ago\u2014never mind how long\u2014I thought I would "
        "sail about.\n\u201cCaf\u00e9?\u201d said he.\n".encode("utf-8"))
    lists = [["apple", "house", "river", "garden", "hello", "Zoo", "ox", "apple's"],
             ["Stra\u00dfe", "M\u00e4dchen", "Haus", "Wasser", "\u00fcber", "Gr\u00f6\u00dfe"],
             ["\u00e9t\u00e9", "gar\u00e7on", "\u00c9cole", "maison", "c\u0153ur", "fen\u00eatre"],
             ["ni\u00f1o", "a\u00f1o", "ma\u00f1ana", "coraz\u00f3n", "agua", "canci\u00f3n"],
             ["citt\u00e0", "perch\u00e9", "acqua", "casa", "per\u00f2", "caff\u00e8"],
             ["cora\u00e7\u00e3o", "\u00e1gua", "n\u00e3o", "ma\u00e7\u00e3", "irm\u00e3o", "p\u00e3o"],
             ["huis", "fiets", "gezellig", "ijsje", "\u00e9\u00e9n", "zee"],
             ["\u00e4rlig", "\u00c5sa", "\u00f6ga", "hus", "vatten", "flicka"]]
    parts = [("\n".join(w) + "\n").encode("latin-1" if i == 7 else "utf-8") for i, w in enumerate(lists)]
    put("text", "langid-lists", b"\x00".join(parts))
    put("text", "mail.txt", b"From: a@example.org\r\nSubject: WIN\r\n\r\nWIN money NOW! Click here.\r\n")


def main():
    make_checkpoint = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        ROOT, "build-fuzz", "tests", "fuzz", "fuzz_make_checkpoint")
    for t in ("idx", "csv", "png", "safetensors", "text"):
        os.makedirs(os.path.join(OUT, t), exist_ok=True)
    idx_corpus()
    csv_corpus()
    png_corpus()
    text_corpus()
    safetensors_corpus(make_checkpoint)


if __name__ == "__main__":
    main()
