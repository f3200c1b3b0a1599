#!/usr/bin/python3
"""Writes tests/fixtures/report_*.txt: labelled (y_true, y_pred) cases with the exact text of
sklearn.metrics.classification_report(y_true, y_pred, target_names=names, digits=d,
zero_division=0), which tests/test_metrics.c rebuilds with nb_classification_report and
compares byte for byte.

Run with Debian's Python (it has scikit-learn): /usr/bin/python3 tests/gen_report_fixtures.py

File format (text, one item per line):
    # comment lines
    k <classes>
    digits <d>
    names <k>          followed by k lines, one name each   (or: "names none")
    n <samples>
    y_true <n integers>
    y_pred <n integers>
    report <bytes>     followed by exactly that many bytes: sklearn's report
"""
import os
import random

import sklearn
from sklearn.metrics import classification_report

FASHION = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
           "Bag", "Ankle boot"]


def noisy(y_true, k, p_right, rng, never=()):
    """Predictions that are right with probability p_right, never equal to a class in never."""
    out = []
    for t in y_true:
        p = t if rng.random() < p_right else rng.randrange(k)
        while p in never:
            p = (p + 1) % k
        out.append(p)
    return out


def case_fashion10():
    rng = random.Random(1)
    y = [rng.randrange(10) for _ in range(500)]
    return FASHION, 4, y, noisy(y, 10, 0.8, rng)


def case_never_predicted():
    # "bird" (2) is never predicted: its precision is 0/0 -> 0 with zero_division=0.
    rng = random.Random(2)
    y = [rng.randrange(4) for _ in range(60)]
    return ["cat", "dog", "bird", "fish"], 4, y, noisy(y, 4, 0.7, rng, never=(2,))


def case_absent_true():
    # Class 3 never occurs in y_true (support 0) but is predicted a few times.
    rng = random.Random(3)
    y = [rng.choice([0, 1, 2, 4]) for _ in range(40)]
    p = noisy(y, 5, 0.75, rng)
    for i in (5, 17, 30):
        p[i] = 3
    return ["alpha", "beta", "gamma", "delta", "epsilon"], 2, y, p


def case_numbers_digits2():
    # No target names: sklearn prints the labels; nabla is given names = NULL.
    rng = random.Random(4)
    y = [rng.randrange(3) for _ in range(33)]
    return None, 2, y, noisy(y, 3, 0.6, rng)


def case_long_names():
    # A name longer than "weighted avg" widens the first column; digits=3.
    rng = random.Random(5)
    y = [rng.randrange(3) for _ in range(250)]
    names = ["short", "a rather long class name", "mid-size name"]
    return names, 3, y, noisy(y, 3, 0.9, rng)


def case_perfect():
    y = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] * 3
    return [str(i) for i in range(10)], 4, y, list(y)


CASES = {
    "fashion10": case_fashion10,
    "never_predicted": case_never_predicted,
    "absent_true": case_absent_true,
    "numbers_digits2": case_numbers_digits2,
    "long_names": case_long_names,
    "perfect": case_perfect,
}


def write_case(folder, name, names, digits, y, p):
    k = len(names) if names is not None else max(max(y), max(p)) + 1
    # sklearn takes its labels from y_true and y_pred: every class must occur in one of them,
    # which is what nabla's k-class confusion matrix assumes too.
    assert sorted(set(y) | set(p)) == list(range(k)), name
    report = classification_report(y, p, target_names=names, digits=digits, zero_division=0)
    data = report.encode("utf-8")
    with open(os.path.join(folder, "report_%s.txt" % name), "wb") as f:
        head = ["# nabla classification report fixture '%s', written by "
                "tests/gen_report_fixtures.py" % name,
                "# with scikit-learn %s" % sklearn.__version__,
                "k %d" % k, "digits %d" % digits]
        if names is None:
            head.append("names none")
        else:
            head.append("names %d" % len(names))
            head.extend(names)
        head.append("n %d" % len(y))
        head.append("y_true " + " ".join(str(v) for v in y))
        head.append("y_pred " + " ".join(str(v) for v in p))
        head.append("report %d" % len(data))
        f.write(("\n".join(head) + "\n").encode("utf-8"))
        f.write(data)


def main():
    folder = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
    os.makedirs(folder, exist_ok=True)
    for name, make in CASES.items():
        names, digits, y, p = make()
        write_case(folder, name, names, digits, y, p)
        print("wrote report_%s.txt" % name)


if __name__ == "__main__":
    main()
