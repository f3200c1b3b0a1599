#!/usr/bin/python3
"""The sotu protocols of issue 12 (docs/text-data.md, "sotu"), rule by rule, in plain Python (no
torch, no numpy): the State of the Union addresses cut into sentences and cased word tokens, the
BIO tags of the named-entity task (`ner`), the held-out names, the NER train/test split, the
masked-LM corpus (`mlm`) and the shared vocabulary. nabla's C loaders (src/data/sotu*.c) implement
the same rules; tests/test_sotu.c compares the digests this prints with theirs.

    python3 bench/ner_data.py [--data data/sotu] [--moby-dick data/moby-dick/data.txt]
                              [--show N] [--noise N]

Prints the counts, the tag distribution, the held-out keys, the vocabulary's size and, for each
split, an FNV-1a 64 digest: per sentence its ids then -1 (NER: then its tag ids then -1), and of
the serialized vocabulary's bytes. --show N prints the first N test sentences with their tags;
--noise N prints N random PER entities (seed 1) with their context, to judge the labelling.
A PyTorch script imports this module: `load_ner(dir)` and `load_mlm(dir, moby)`.
"""
import argparse
import collections
import os
import random
import sys

MASK = (1 << 64) - 1

TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-DATE", "I-DATE"]
SPECIALS = ["<pad>", "<unk>", "<mask>", "<unk:Xx>", "<unk:x>", "<unk:X>", "<unk:d>", "<unk:p>"]
MIN_TOKENS, MAX_TOKENS = 3, 64
NER_PLAIN = 16000       # sentences without an entity in the NER training split, at most
VOCAB_MIN_COUNT, VOCAB_MAX = 3, 16000
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]
ABBREV = set("Mr Mrs Ms Messrs Dr St Mt Ft Gen Col Maj Capt Lieut Lt Gov Hon Rev Sen Rep Jr Sr No Nos Co Bros "
             "vs Jan Feb Mar Apr Aug Sep Sept Oct Nov Dec".split())
CLOSERS = {'"', "'", "\u201d", "\u2019", ")", "]"}
# Entries of the name lists that in these speeches name places, titles or things far more often
# than people (measured: "North Carolina", "Al Qaida", "Costa Rica", "Sergeant ...", ...).
NOT_NAMES = set("North South East West Al El La Van Costa Vera Rocky Sergeant King Prince Mayor Sioux Philippine "
                "Roman Red Easter Christian Asia Dallas Monroe Stanford".split())


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
    for i in range(len(items) - 1, 0, -1):
        j = rng.next() % (i + 1)
        items[i], items[j] = items[j], items[i]


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


def is_space(c):
    o = ord(c)
    return o <= 0x20 or o == 0x7F or o == 0xA0


def is_digit(c):
    return "0" <= c <= "9"


def is_cap(c):
    return is_letter(c) and lower(c) != c


def tokenize(s):
    """Cased word tokens of s as (token, start) pairs (start in code points)."""
    out, i, n = [], 0, len(s)
    while i < n:
        c = s[i]
        if is_space(c):
            i += 1
            continue
        j = i + 1
        if is_letter(c):
            while j < n and is_letter(s[j]):
                j += 1
        elif is_digit(c):
            while j < n and (is_digit(s[j]) or (s[j] in ".," and j + 1 < n and is_digit(s[j + 1]))):
                j += 1
        out.append((s[i:j], i))
        i = j
    return out


def sentences(toks):
    """A paragraph's tokens cut into sentences (lists of tokens)."""
    out, start, i, n = [], 0, 0, len(toks)
    while i < n:
        t = toks[i]
        if t in (".", "?", "!") and not (t == "." and i > 0 and (
                (len(toks[i - 1]) == 1 and is_letter(toks[i - 1])) or toks[i - 1] in ABBREV)):
            j = i + 1
            while j < n and toks[j] in CLOSERS:
                j += 1
            if j < n and is_cap(toks[j][0]):
                out.append(toks[start:j])
                start = i = j
                continue
        i += 1
    if start < n:
        out.append(toks[start:])
    return out


def text_sentences(text):
    out = []
    for para in text.split("\n\n"):
        out += sentences([t for t, _ in tokenize(para)])
    return out


def shape(tok):
    c = tok[0]
    if is_digit(c):
        return "<unk:d>"
    if is_letter(c):
        if len(tok) >= 2 and all(is_cap(x) for x in tok):
            return "<unk:X>"
        return "<unk:Xx>" if is_cap(c) else "<unk:x>"
    return "<unk:p>"


def read_lines(path):
    with open(path, "rb") as f:
        return [l for l in f.read().decode("utf-8").split("\n") if l]


class Labeller:
    def __init__(self, counts, first, states):
        def common(w):
            low = counts["".join(lower(c) for c in w)]
            return low > 0 and low >= counts[w]
        self.common = common
        self.first = {w for w in first if w not in NOT_NAMES and w not in MONTHS and not common(w)}
        self.states = {}  # first token -> [(tokens, name)], longest first
        for s in states:
            st = [t for t, _ in tokenize(s)]
            self.states.setdefault(st[0], []).append((st, s))
        for v in self.states.values():
            v.sort(key=lambda e: -len(e[0]))

    def surname(self, t):
        return (len(t) >= 2 and is_cap(t[0]) and all(is_letter(c) for c in t) and t not in MONTHS
                and not self.common(t))

    def label(self, toks):
        """(tags, entities): tags index TAGS; entities (type, key, start, end)."""
        n = len(toks)
        tags, ents, i = [0] * n, [], 0
        g = lambda k: toks[k] if k < n else ""
        while i < n:
            t, j = toks[i], i
            if t in MONTHS:
                j = i + 1
                if 1 <= len(g(j)) <= 2 and all(is_digit(c) for c in g(j)) and 1 <= int(g(j)) <= 31:
                    j += 1
                    if g(j) in ("st", "nd", "rd", "th"):
                        j += 1
                year = lambda x: len(x) == 4 and all(is_digit(c) for c in x)
                if year(g(j)):
                    j += 1
                elif g(j) == "," and year(g(j + 1)):
                    j += 2
                if j == i + 1 and t == "May" and i == 0:
                    j = i
                typ, key = "DATE", t
            if j == i:
                for st, name in self.states.get(t, []):
                    if toks[i:i + len(st)] == st:
                        j, typ, key = i + len(st), "LOC", name
                        break
            if j == i and t in self.first:
                k = i + 1
                while len(g(k)) == 1 and is_cap(g(k)) and g(k + 1) == ".":
                    k += 2
                if self.surname(g(k)):
                    k += 1
                    while g(k - 1) in self.first and self.surname(g(k)):
                        k += 1
                    j, typ, key = k, "PER", t
            if j > i:
                b = TAGS.index("B-" + typ)
                tags[i:j] = [b] + [b + 1] * (j - i - 1)
                ents.append((typ, key, i, j))
                i = j
            else:
                i += 1
        return tags, ents


def fnv(h, v):
    return ((h ^ (v & MASK)) * 0x100000001B3) & MASK


def digest(rows):
    h = 0xCBF29CE484222325
    for row in rows:
        for part in row:
            for v in part:
                h = fnv(h, v)
            h = fnv(h, -1)
    return h


class Sotu:
    """Everything both tasks need: the sentences, tags, split and vocabulary."""

    def __init__(self, folder):
        files = sorted(f for f in os.listdir(f"{folder}/speeches") if f.endswith(".txt"))
        sents, counts = [], collections.Counter()
        for f in files:
            with open(f"{folder}/speeches/{f}", "rb") as fh:
                for s in text_sentences(fh.read().decode("utf-8")):
                    counts.update(s)
                    sents.append(s)
        first = set(read_lines(f"{folder}/male.txt")) | set(read_lines(f"{folder}/female.txt"))
        self.lab = Labeller(counts, first, read_lines(f"{folder}/states.txt"))
        self.n_files, self.n_all = len(files), len(sents)
        self.sents = [s for s in sents if MIN_TOKENS <= len(s) <= MAX_TOKENS]
        labelled = [self.lab.label(s) for s in self.sents]
        self.tags = [t for t, _ in labelled]
        self.ents = [e for _, e in labelled]
        rng = SplitMix64(0)
        self.held = {}
        for typ in ("PER", "LOC", "DATE"):
            keys = sorted({e[1] for es in self.ents for e in es if e[0] == typ})
            shuffle(keys, rng)
            self.held[typ] = sorted(keys[:len(keys) // 5])
        words = set(self.held["PER"]) | set(self.held["DATE"])
        seqs = [[t for t, _ in tokenize(s)] for s in self.held["LOC"]]
        def held(s):
            return any(t in words for t in s) or any(s[i:i + len(q)] == q for q in seqs for i in range(len(s)))
        test = [k for k, s in enumerate(self.sents) if held(s)]
        self.n_held = len(test)
        pool = [k for k in range(len(self.sents)) if not held(self.sents[k])]
        shuffle(pool, rng)
        nt = nv = len(pool) // 20
        test += pool[:nt]
        self.mlm_valid = sorted(pool[nt:nt + nv])
        self.mlm_train = sorted(pool[nt + nv:])
        plain = [k for k in pool[nt + nv:] if not self.ents[k]][:NER_PLAIN]
        self.ner_train = sorted([k for k in pool[nt + nv:] if self.ents[k]] + plain)
        self.ner_test = sorted(test)
        counts = collections.Counter(t for k in self.mlm_train for t in self.sents[k])
        words = sorted((w for w in counts if counts[w] >= VOCAB_MIN_COUNT), key=lambda w: (-counts[w], w.encode()))
        self.vocab = SPECIALS + words[:VOCAB_MAX - len(SPECIALS)]
        self.ids = {w: i for i, w in enumerate(self.vocab)}

    def encode(self, toks):
        return [self.ids.get(t, self.ids.get(shape(t))) for t in toks]

    def serialized(self):
        def esc(t):
            out = []
            for b in t.encode():
                if b == 0x5C:
                    out.append(b"\\\\")
                elif b == 0x0A:
                    out.append(b"\\n")
                elif b < 0x20 or b == 0x7F:
                    out.append(b"\\x%02X" % b)
                else:
                    out.append(bytes([b]))
            return b"".join(out)
        words = self.vocab[len(SPECIALS):]
        return (f"nabla-vocab 1 cased-words specials {len(words)}\n".encode()
                + b"".join(esc(w) + b"\n" for w in words))


def moby_sentences(path):
    with open(path, "rb") as f:
        return [s for s in text_sentences(f.read().decode("utf-8")) if MIN_TOKENS <= len(s) <= MAX_TOKENS]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="data/sotu")
    ap.add_argument("--moby-dick", default=None)
    ap.add_argument("--show", type=int, default=0)
    ap.add_argument("--noise", type=int, default=0)
    a = ap.parse_args()
    s = Sotu(a.data)
    print(f"speeches {s.n_files}; sentences {s.n_all}, kept ({MIN_TOKENS}..{MAX_TOKENS} tokens) {len(s.sents)}")
    ents = collections.Counter(e[0] for es in s.ents for e in es)
    print(f"entities PER {ents['PER']} LOC {ents['LOC']} DATE {ents['DATE']}; distinct keys "
          + " ".join(f"{t} {len({e[1] for es in s.ents for e in es if e[0] == t})}" for t in ("PER", "LOC", "DATE")))
    for t in ("PER", "LOC", "DATE"):
        print(f"held-out {t} ({len(s.held[t])}): {', '.join(s.held[t])}")
    print(f"sentences with a held-out key: {s.n_held}")
    print(f"vocabulary: {len(s.vocab)} ids; first words {s.vocab[len(SPECIALS):len(SPECIALS) + 8]}")
    h = 0xCBF29CE484222325
    for b in s.serialized():
        h = fnv(h, b)
    print(f"vocabulary: {len(s.serialized())} bytes serialized, digest {h:016x}")
    for name, part in (("ner train", s.ner_train), ("ner test", s.ner_test)):
        tc = collections.Counter(t for k in part for t in s.tags[k])
        held_ents = sum(1 for k in part for e in s.ents[k] if e[1] in s.held[e[0]])
        print(f"{name}: n {len(part)} tokens {sum(len(s.sents[k]) for k in part)} with entity "
              f"{sum(1 for k in part if s.ents[k])} held-out-key entities {held_ents} digest "
              f"{digest((s.encode(s.sents[k]), s.tags[k]) for k in part):016x}")
        print("   tags " + " ".join(f"{TAGS[i]} {tc[i]}" for i in range(len(TAGS))))
    for name, part in (("mlm train", s.mlm_train), ("mlm valid", s.mlm_valid)):
        print(f"{name}: n {len(part)} tokens {sum(len(s.sents[k]) for k in part)} digest "
              f"{digest((s.encode(s.sents[k]),) for k in part):016x}")
    if a.moby_dick:
        m = moby_sentences(a.moby_dick)
        print(f"moby-dick: n {len(m)} tokens {sum(map(len, m))} digest {digest((s.encode(x),) for x in m):016x}")
        rows = [(s.encode(s.sents[k]),) for k in s.mlm_train] + [(s.encode(x),) for x in m]
        print(f"mlm train + moby-dick: n {len(rows)} digest {digest(rows):016x}")
    for k in s.ner_test[:a.show]:
        print(" ".join(t if s.tags[k][i] == 0 else f"{t}/{TAGS[s.tags[k][i]]}" for i, t in enumerate(s.sents[k])))
    if a.noise:
        per = [(k, e) for k in range(len(s.sents)) for e in s.ents[k] if e[0] == "PER"]
        for k, e in random.Random(1).sample(per, min(a.noise, len(per))):
            toks = s.sents[k]
            print(f"  {' '.join(toks[max(0, e[2] - 4):e[2]])} [{' '.join(toks[e[2]:e[3]])}] "
                  f"{' '.join(toks[e[3]:e[3] + 3])}")


if __name__ == "__main__":
    sys.exit(main())
