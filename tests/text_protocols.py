#!/usr/bin/env python3
"""The text datasets' protocols (docs/text-data.md) in plain Python, written from the document,
not from the C code: the splits, vocabularies and ids of spam, langid and the char-LM corpus.
It prints each split's size and a digest of its ids (FNV-1a 64 over label, ids..., -1 per
sample) that tests/test_text_sets.c compares with nabla's loaders, and is the starting point
for a PyTorch script that needs the same data.

    python3 tests/text_protocols.py spam data/spam
    python3 tests/text_protocols.py langid data/langid
    python3 tests/text_protocols.py charlm data/moby-dick/data.txt
"""
import collections
import os
import re
import sys

MASK = (1 << 64) - 1


class SplitMix64:
    def __init__(self, state=0):
        self.state = state

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)


def shuffle(items, rng):
    """Fisher-Yates from the end, j = next() % (i + 1), in place."""
    for i in range(len(items) - 1, 0, -1):
        j = rng.next() % (i + 1)
        items[i], items[j] = items[j], items[i]


def digest(name, samples):
    """samples: (ids, label) pairs."""
    h = 0xCBF29CE484222325
    mix = lambda h, v: ((h ^ (v & MASK)) * 0x100000001B3) & MASK
    for ids, label in samples:
        h = mix(h, label)
        for t in ids:
            h = mix(h, t)
        h = mix(h, -1)
    counts = collections.Counter(label for _, label in samples)
    longest = max((len(ids) for ids, _ in samples), default=0)
    print(f"{name}: n {len(samples)} max_len {longest} digest {h:016x} per class {dict(sorted(counts.items()))}")


# ---- spam ----------------------------------------------------------------------------------
SPAM_CLASSES = [("ham", ["easy-ham-1", "easy-ham-2", "hard-ham-1"]), ("spam", ["spam-1", "spam-2"])]


def spam_body(raw):
    t = raw.replace(b"\r\n", b"\n")
    if t.startswith(b"\n"):
        body = t[1:]
    else:
        k = t.find(b"\n\n")
        body = t[k + 2:] if k >= 0 else b""
    return body[:2000]


def spam(folder):
    rng = SplitMix64(0)
    train, test = [], []
    for label, (_, dirs) in enumerate(SPAM_CLASSES):
        items = sorted(f"{d}/{f}" for d in dirs for f in os.listdir(f"{folder}/{d}") if f.endswith(".txt"))
        shuffle(items, rng)
        n_test = len(items) // 5
        test += [(i, label) for i in items[:n_test]]
        train += [(i, label) for i in items[n_test:]]

    def tokens(item):
        with open(f"{folder}/{item}", "rb") as f:
            return re.findall(rb"[a-z]+", spam_body(f.read()).lower())

    train = [(tokens(i), y) for i, y in train]
    test = [(tokens(i), y) for i, y in test]
    counts = collections.Counter(w for toks, _ in train for w in toks)
    words = sorted(counts, key=lambda w: (-counts[w], w))[:20000]
    ids = {w: k + 2 for k, w in enumerate(words)}  # 0 <pad>, 1 <unk>
    print(f"vocabulary: {len(words) + 2} ids; first words {[w.decode() for w in words[:8]]}")
    encode = lambda toks: [ids.get(w, 1) for w in toks[:200]] or [1]
    digest("train", [(encode(t), y) for t, y in train])
    digest("test", [(encode(t), y) for t, y in test])


# ---- langid --------------------------------------------------------------------------------
LANGID = [("english", "american-english"), ("german", "ngerman"), ("french", "french"), ("spanish", "spanish"),
          ("italian", "italian"), ("portuguese", "portuguese"), ("dutch", "dutch"), ("swedish", "swedish")]


def is_letter(c):
    o = ord(c)
    return "A" <= c <= "Z" or "a" <= c <= "z" or (0xC0 <= o <= 0x17F and o not in (0xD7, 0xF7))


def lower(c):
    o = ord(c)
    if "A" <= c <= "Z" or (0xC0 <= o <= 0xDE and o != 0xD7):
        return chr(o + 32)
    if o == 0x130:
        return "i"
    if o == 0x178:
        return "\u00ff"
    if (0x100 <= o <= 0x137 or 0x14A <= o <= 0x177) and o % 2 == 0:
        return chr(o + 1)
    if (0x139 <= o <= 0x148 or 0x179 <= o <= 0x17E) and o % 2 == 1:
        return chr(o + 1)
    return c


def langid(folder):
    sets = []
    for _, fname in LANGID:
        with open(f"{folder}/{fname}", "rb") as f:
            text = f.read().decode("latin-1" if fname == "swedish" else "utf-8")
        words = set()
        for line in text.split("\n"):
            w = "".join(lower(c) for c in line)
            if len(w) >= 3 and all(is_letter(c) for c in w):
                words.add(w)
        sets.append(words)
    seen = collections.Counter(w for s in sets for w in s)
    lists = [sorted(w for w in s if seen[w] == 1) for s in sets]
    k = min(20000, min(len(words) for words in lists))
    rng = SplitMix64(0)
    train, test = [], []
    for label, words in enumerate(lists):
        shuffle(words, rng)
        test += [(w, label) for w in words[:k // 5]]
        train += [(w, label) for w in words[k // 5:k]]
    chars = sorted(set("".join(w for w, _ in train)))
    ids = {c: i + 2 for i, c in enumerate(chars)}  # 0 <pad>, 1 <unk>
    print(f"vocabulary: {len(chars) + 2} ids; characters {''.join(chars)}")
    digest("train", [([ids.get(c, 1) for c in w], y) for w, y in train])
    digest("test", [([ids.get(c, 1) for c in w], y) for w, y in test])


# ---- charlm --------------------------------------------------------------------------------
def charlm(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    chars = sorted(set(text))
    index = {c: i for i, c in enumerate(chars)}
    n_valid = len(text) // 10
    train = [index[c] for c in text[:len(text) - n_valid]]
    valid = [index[c] for c in text[len(text) - n_valid:]]
    print(f"vocabulary: {len(chars)} characters; train {len(train)}, valid {len(valid)}")
    digest("train", [(train, 0)])
    digest("valid", [(valid, 0)])


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("spam", "langid", "charlm"):
        sys.exit(__doc__)
    {"spam": spam, "langid": langid, "charlm": charlm}[sys.argv[1]](sys.argv[2])
