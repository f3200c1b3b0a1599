#!/usr/bin/python3
"""Writes tests/fixtures/entities_*.txt: BIO-tagged sentences (gold and predicted tag ids) with
the scores and the exact text of seqeval's classification_report (default mode, digits d)
followed by nabla's token-accuracy line, which tests/test_entities.c rebuilds with
nb_entity_report_* and compares (numbers to 1e-12, text byte for byte).

seqeval is not installed here, so this script carries its own implementation of seqeval 1.2's
rules, written from its source (seqeval/metrics/sequence_labeling.py: get_entities,
end_of_chunk, start_of_chunk, precision_recall_fscore_support through v1's
_precision_recall_fscore_support; seqeval/reporters.py: StringReporter): the sentences are
flattened with an 'O' after each, entities are (type, start, end) triples of the flat sequence
compared as sets, averages through NumPy as seqeval does. It checks itself against the example
of seqeval's docstring before writing anything. It works on strings, the C code on ids, sentence
by sentence: the two are independent.

Positions whose gold id is negative (-100, a sub-word's continuation) are dropped from both
sequences before anything else, as nb_entity_report_add documents.

Run: /usr/bin/python3 tests/gen_entity_fixtures.py

File format (text, one item per line):
    # comment lines
    tags <n>            followed by n lines, one tag name each
    digits <d>
    sentences <s>       followed by s groups of three lines:
                          len <n>
                          gold <n integers>
                          pred <n integers>
    rows <r>            followed by r lines: name<TAB>precision<TAB>recall<TAB>f1<TAB>support
    accuracy <float>
    report <bytes>      followed by exactly that many bytes: the expected text
"""
import os
import random

import numpy as np


# ---- seqeval's rules (suffix=False) ----------------------------------------------------------
def end_of_chunk(prev_tag, tag, prev_type, type_):
    chunk_end = False
    if prev_tag == 'E':
        chunk_end = True
    if prev_tag == 'S':
        chunk_end = True
    if prev_tag == 'B' and tag in ('B', 'S', 'O'):
        chunk_end = True
    if prev_tag == 'I' and tag in ('B', 'S', 'O'):
        chunk_end = True
    if prev_tag != 'O' and prev_tag != '.' and prev_type != type_:
        chunk_end = True
    return chunk_end


def start_of_chunk(prev_tag, tag, prev_type, type_):
    chunk_start = False
    if tag in ('B', 'S'):
        chunk_start = True
    if prev_tag in ('E', 'S') and tag in ('E', 'I'):
        chunk_start = True
    if prev_tag == 'O' and tag in ('E', 'I'):
        chunk_start = True
    if tag != 'O' and tag != '.' and prev_type != type_:
        chunk_start = True
    return chunk_start


def get_entities(seq):
    """seq: a list of sentences (lists of tag strings)."""
    flat = [item for sentence in seq for item in sentence + ['O']]
    prev_tag, prev_type, begin, chunks = 'O', '', 0, []
    for i, chunk in enumerate(flat + ['O']):
        tag = chunk[0]
        type_ = chunk[1:].split('-', maxsplit=1)[-1] or '_'
        if end_of_chunk(prev_tag, tag, prev_type, type_):
            chunks.append((prev_type, begin, i - 1))
        if start_of_chunk(prev_tag, tag, prev_type, type_):
            begin = i
        prev_tag, prev_type = tag, type_
    return chunks


def prf_divide(num, den):
    den = den.astype(np.float64)
    mask = den == 0.0
    den[mask] = 1
    res = num / den
    res[mask] = 0.0
    return res


def prfs(y_true, y_pred, average):
    ent_true, ent_pred = {}, {}
    for t, s, e in get_entities(y_true):
        ent_true.setdefault(t, set()).add((s, e))
    for t, s, e in get_entities(y_pred):
        ent_pred.setdefault(t, set()).add((s, e))
    names = sorted(set(ent_true) | set(ent_pred))
    tp = np.array([len(ent_true.get(n, set()) & ent_pred.get(n, set())) for n in names], dtype=np.int32)
    pred = np.array([len(ent_pred.get(n, set())) for n in names], dtype=np.int32)
    true = np.array([len(ent_true.get(n, set())) for n in names], dtype=np.int32)
    if average == 'micro':
        tp, pred, true = np.array([tp.sum()]), np.array([pred.sum()]), np.array([true.sum()])
    precision = prf_divide(tp, pred)
    recall = prf_divide(tp, true)
    denom = 1.0 * precision + recall
    denom[denom == 0.] = 1
    f = (1 + 1.0) * precision * recall / denom
    if average is None:
        return names, precision, recall, f, true
    weights = None
    if average == 'weighted':
        weights = true
        if weights.sum() == 0:
            return 0.0, 0.0, 0.0, int(sum(true))
    return (float(np.average(precision, weights=weights)), float(np.average(recall, weights=weights)),
            float(np.average(f, weights=weights)), int(sum(true)))


def report(y_true, y_pred, digits):
    """seqeval.metrics.classification_report(y_true, y_pred, digits=digits) and its rows."""
    names, p, r, f, s = prfs(y_true, y_pred, None)
    width = max(max(map(len, names)), len('weighted avg'), digits)
    row_fmt = '{:>{width}s} ' + ' {:>9.{digits}f}' * 3 + ' {:>9}'
    buf, rows = [], []
    for row in zip(names, p, r, f, s):
        buf.append(row_fmt.format(*row, width=width, digits=digits))
        rows.append((row[0], float(row[1]), float(row[2]), float(row[3]), int(row[4])))
    buf.append('')
    for average in ('micro', 'macro', 'weighted'):
        ap, ar, af, sup = prfs(y_true, y_pred, average)
        name = '{} avg'.format(average)
        buf.append(row_fmt.format(name, ap, ar, af, sup, width=width, digits=digits))
        rows.append((name, ap, ar, af, sup))
    buf.append('')
    head = ('{:>{width}s} ' + ' {:>9}' * 4).format('', 'precision', 'recall', 'f1-score', 'support', width=width)
    return head + '\n\n' + '\n'.join(buf), rows


def self_check():
    """The example of seqeval's classification_report docstring."""
    y_true = [['O', 'O', 'O', 'B-MISC', 'I-MISC', 'I-MISC', 'O'], ['B-PER', 'I-PER', 'O']]
    y_pred = [['O', 'O', 'B-MISC', 'I-MISC', 'I-MISC', 'I-MISC', 'O'], ['B-PER', 'I-PER', 'O']]
    expected = ('              precision    recall  f1-score   support\n\n'
                '        MISC       0.00      0.00      0.00         1\n'
                '         PER       1.00      1.00      1.00         1\n\n'
                '   micro avg       0.50      0.50      0.50         2\n'
                '   macro avg       0.50      0.50      0.50         2\n'
                'weighted avg       0.50      0.50      0.50         2\n')
    got, _ = report(y_true, y_pred, 2)
    assert got == expected, got
    # get_entities' own docstring, and conlleval's reading of stray I- tags.
    assert get_entities([['B-PER', 'I-PER', 'O', 'B-LOC']]) == [('PER', 0, 1), ('LOC', 3, 3)]
    assert get_entities([['I-PER', 'I-PER', 'I-LOC', 'B-LOC', 'I-PER']]) == [('PER', 0, 1), ('LOC', 2, 2),
                                                                         ('LOC', 3, 3), ('PER', 4, 4)]


# ---- cases -----------------------------------------------------------------------------------
CONLL = ['O', 'B-PER', 'I-PER', 'B-LOC', 'I-LOC', 'B-ORG', 'I-ORG', 'B-MISC', 'I-MISC']


def case_docstring():
    tags = ['O', 'B-MISC', 'I-MISC', 'B-PER', 'I-PER']
    ix = {t: i for i, t in enumerate(tags)}
    gold = [['O', 'O', 'O', 'B-MISC', 'I-MISC', 'I-MISC', 'O'], ['B-PER', 'I-PER', 'O']]
    pred = [['O', 'O', 'B-MISC', 'I-MISC', 'I-MISC', 'I-MISC', 'O'], ['B-PER', 'I-PER', 'O']]
    return tags, 2, [([ix[t] for t in g], [ix[t] for t in p]) for g, p in zip(gold, pred)]


def case_corners():
    """Stray I- at a sentence's start and after O, I- of another type, B- after B-, an entity
    at a sentence's end followed by one that starts the next sentence with I- (two entities:
    sentences are never joined), types holding '-', and sub-word positions (-100)."""
    tags = ['O', 'B-PER', 'I-PER', 'B-LOC', 'I-LOC', 'B-ORG-X', 'I-ORG-X']
    ix = {t: i for i, t in enumerate(tags)}
    ix['-'] = -100
    sents = [
        ('I-PER I-PER O I-LOC', 'B-PER I-PER O B-LOC'),
        ('B-PER I-LOC I-LOC O B-PER B-PER', 'B-PER B-LOC I-LOC O B-PER I-PER'),
        ('O O B-LOC I-LOC', 'O O B-LOC I-LOC'),
        ('I-LOC O B-ORG-X I-ORG-X', 'I-LOC O I-ORG-X I-ORG-X'),
        ('B-PER - I-PER O - B-LOC', 'B-PER - I-PER O - B-LOC'),
        ('B-ORG-X - - I-ORG-X I-PER', 'B-ORG-X - - O I-PER'),
        ('O', 'I-PER'),
        ('', ''),
    ]
    out = []
    for g, p in sents:
        gi, pi = [ix[t] for t in g.split()], [ix[t] for t in p.split()]
        pi = [v if v >= 0 else 0 for v in pi]  # the prediction at a dropped position is ignored
        out.append((gi, pi))
    return tags, 4, out


def walk(rng, n, tags):
    """A plausible BIO sequence of tag ids (with some stray I- tags)."""
    types = sorted({t[2:] for t in tags if t != 'O'})
    ix = {t: i for i, t in enumerate(tags)}
    seq, cur = [], None
    for _ in range(n):
        u = rng.random()
        if cur and u < 0.5:
            seq.append(ix['I-' + cur])
        elif u < 0.7:
            cur = None
            seq.append(ix['O'])
        elif u < 0.95:
            cur = rng.choice(types)
            seq.append(ix['B-' + cur])
        else:
            cur = rng.choice(types)
            seq.append(ix['I-' + cur])
    return seq


def noisy(rng, gold, k, p_right):
    return [g if rng.random() < p_right else rng.randrange(k) for g in gold]


def case_random_conll():
    rng = random.Random(12)
    sents = []
    for _ in range(300):
        g = walk(rng, rng.randrange(1, 25), CONLL)
        p = noisy(rng, g, len(CONLL), 0.85)
        for i in range(len(g)):
            if rng.random() < 0.1:
                g[i] = -100  # a sub-word continuation
                p[i] = rng.choice([-1, rng.randrange(len(CONLL))])
        sents.append((g, p))
    return CONLL, 4, sents


def case_wide_types():
    """A long type name widens the first column; DATE is only predicted (support 0); MONEY is
    never seen (not listed); digits 3."""
    tags = ['O', 'B-a_rather_long_entity_type', 'I-a_rather_long_entity_type', 'B-LOC', 'I-LOC', 'B-DATE', 'I-DATE',
            'B-MONEY', 'I-MONEY']
    rng = random.Random(7)
    sents = []
    for _ in range(60):
        g = walk(rng, rng.randrange(3, 15), tags[:5])
        p = noisy(rng, g, 5, 0.8)
        if rng.random() < 0.2:
            p[rng.randrange(len(p))] = 5  # B-DATE
        sents.append((g, p))
    return tags, 3, sents


def case_digits0():
    rng = random.Random(3)
    tags = ['O', 'B-X', 'I-X', 'B-Y', 'I-Y']
    sents = []
    for _ in range(40):
        g = walk(rng, rng.randrange(2, 10), tags)
        sents.append((g, noisy(rng, g, len(tags), 0.7)))
    return tags, 0, sents


CASES = {
    "docstring": case_docstring,
    "corners": case_corners,
    "random_conll": case_random_conll,
    "wide_types": case_wide_types,
    "digits0": case_digits0,
}


def expected(tags, digits, sents):
    y_true, y_pred, right, total = [], [], 0, 0
    for g, p in sents:
        keep = [i for i in range(len(g)) if g[i] >= 0]
        gt = [tags[g[i]] for i in keep]
        pt = [tags[p[i]] for i in keep]
        y_true.append(gt)
        y_pred.append(pt)
        right += sum(a == b for a, b in zip(gt, pt))
        total += len(keep)
    text, rows = report(y_true, y_pred, digits)
    acc = right / total if total else 0.0
    text += '\ntoken accuracy: {:.{d}f} ({} of {} tokens)\n'.format(acc, right, total, d=digits)
    return text, rows, acc


def write_case(folder, name, tags, digits, sents):
    text, rows, acc = expected(tags, digits, sents)
    data = text.encode('utf-8')
    head = ["# nabla entity report fixture '%s', written by tests/gen_entity_fixtures.py" % name,
            "tags %d" % len(tags)] + tags + ["digits %d" % digits, "sentences %d" % len(sents)]
    for g, p in sents:
        head += ["len %d" % len(g), " ".join(["gold"] + [str(v) for v in g]), " ".join(["pred"] + [str(v) for v in p])]
    head.append("rows %d" % len(rows))
    head += ["%s\t%.17g\t%.17g\t%.17g\t%d" % r for r in rows]
    head.append("accuracy %.17g" % acc)
    head.append("report %d" % len(data))
    with open(os.path.join(folder, "entities_%s.txt" % name), "wb") as f:
        f.write(("\n".join(head) + "\n").encode("utf-8"))
        f.write(data)


def main():
    self_check()
    folder = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
    os.makedirs(folder, exist_ok=True)
    for name, make in CASES.items():
        tags, digits, sents = make()
        write_case(folder, name, tags, digits, sents)
        print("wrote entities_%s.txt" % name)


if __name__ == "__main__":
    main()
