#!/usr/bin/env python3
"""Writes the small slices of the real text sets that tests/cli/test_cli_text.sh trains on (the
CI machine has neither the sets nor a network to fetch them):

  tests/fixtures/langid-small/   WORDS words of each language, drawn from the real Debian word
                                 lists, under the lists' own file names (swedish in ISO-8859-1 as
                                 the real file is, the others UTF-8), one lower-case word a line,
                                 sorted by code point
  tests/fixtures/spam-small/     a few hundred mails of the spam-assassin package in its five
                                 folders under their own file names: the Subject line and the
                                 first BODY bytes of the body (cut at a line end)
  tests/fixtures/moby-small/data.txt
                                 the first MOBY bytes of Moby-Dick, cut at a line end

Each slice's README.md says where it comes from. The picks are seeded (splitmix64 and the split
shuffle of docs/text-data.md, from tests/text_protocols.py, with seeds other than the split's 0),
so rerunning the script on the same data reproduces the committed bytes.

langid: the words are the ones the loader keeps from the real lists (lower case, letters only, at
least 3 characters, in one language only), so each slice list keeps all its words and k = WORDS.

Usage: python3 tests/make_text_slices.py [DATA_DIR [OUT_DIR]]   (defaults: data, tests/fixtures;
install the sets first with bash scripts/data.sh spam langid moby-dick)
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import text_protocols as tp  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LANGID_WORDS = 500           # per language: 400 train / 100 test
LANGID_SEED = 1
SPAM_PICK = [("easy-ham-1", 160), ("easy-ham-2", 120), ("hard-ham-1", 80), ("spam-1", 80), ("spam-2", 120)]
SPAM_SEED = 2
SPAM_BODY = 400              # bytes of each body kept (the loader reads 2,000)
MOBY_BYTES = 40000


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def langid(src, out):
    sets = []
    for _, fname in tp.LANGID:
        with open(f"{src}/{fname}", "rb") as f:
            text = f.read().decode("latin-1" if fname == "swedish" else "utf-8")
        words = set()
        for line in text.split("\n"):
            w = "".join(tp.lower(c) for c in line)
            if len(w) >= 3 and all(tp.is_letter(c) for c in w):
                words.add(w)
        sets.append(words)
    seen = {}
    for s in sets:
        for w in s:
            seen[w] = seen.get(w, 0) + 1
    rng = tp.SplitMix64(LANGID_SEED)
    for (_, fname), s in zip(tp.LANGID, sets):
        words = sorted(w for w in s if seen[w] == 1)
        tp.shuffle(words, rng)
        pick = sorted(words[:LANGID_WORDS])
        text = "".join(w + "\n" for w in pick)
        write(f"{out}/{fname}", text.encode("latin-1" if fname == "swedish" else "utf-8"))
    print(f"langid-small: {LANGID_WORDS} words of each of {len(tp.LANGID)} languages")


def spam(src, out):
    rng = tp.SplitMix64(SPAM_SEED)
    total = 0
    for folder, n in SPAM_PICK:
        names = sorted(f for f in os.listdir(f"{src}/{folder}") if f.endswith(".txt"))
        tp.shuffle(names, rng)
        for name in sorted(names[:n]):
            with open(f"{src}/{folder}/{name}", "rb") as f:
                raw = f.read().replace(b"\r\n", b"\n")
            k = raw.find(b"\n\n")
            head, body = (raw[:k], raw[k + 2:]) if k >= 0 else (raw, b"")
            subject = b"Subject: (none)"
            for line in head.split(b"\n"):
                if line.lower().startswith(b"subject:"):
                    subject = line[:200]
                    break
            if len(body) > SPAM_BODY:
                cut = body.rfind(b"\n", 0, SPAM_BODY)
                body = body[:cut + 1 if cut > 0 else SPAM_BODY]
            data = subject + b"\n\n" + body
            write(f"{out}/{folder}/{name}", data)
            total += len(data)
    print(f"spam-small: {sum(n for _, n in SPAM_PICK)} mails, {total} bytes")


def moby(src, out):
    with open(src, "rb") as f:
        raw = f.read()
    cut = raw.rfind(b"\n", 0, MOBY_BYTES) + 1
    text = raw[:cut]
    text.decode("utf-8")  # a line end never splits a character; checked anyway
    write(f"{out}/data.txt", text)
    print(f"moby-small: {len(text)} bytes, {len(text.decode('utf-8'))} characters")


def main():
    data = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "data")
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "tests", "fixtures")
    for need in ("langid/american-english", "spam/spam-1", "moby-dick/data.txt"):
        if not os.path.exists(f"{data}/{need}"):
            sys.exit(f"{data}/{need}: not found (bash scripts/data.sh spam langid moby-dick)")
    langid(f"{data}/langid", f"{out}/langid-small")
    spam(f"{data}/spam", f"{out}/spam-small")
    moby(f"{data}/moby-dick/data.txt", f"{out}/moby-small")


if __name__ == "__main__":
    main()
