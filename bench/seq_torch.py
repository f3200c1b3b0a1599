#!/usr/bin/python3
"""PyTorch side of issue 8's sequence protocols: lstm-rows, spam, langid, charlm, one command.

    /usr/bin/python3 bench/seq_torch.py [--models lstm-rows,spam,langid,charlm] [--threads 1|2|1,2]
        [--epochs N] [--limit-batches N] [--json OUT] [--data-dir data] [--mnist-dir D]
        [--spam-dir D] [--langid-dir D] [--moby-dick FILE]

Needs Debian's python3-torch (1.13; run with /usr/bin/python3) and numpy; nothing from the network.
The data are prepared by bench/seq_data.py (its doc lists every rule; `seq_data.py --dump` prints
what nabla's loaders must reproduce). Default paths: DATA_DIR/mnist, DATA_DIR/spam (the folders
easy-ham-1 ... spam-2), DATA_DIR/langid (falling back to /usr/share/dict per word list),
DATA_DIR/moby-dick/data.txt.

Each (model, thread count) trains in its own child process (torch.set_num_threads(T) and
OMP_NUM_THREADS = OPENBLAS_NUM_THREADS = T: Debian's torch does its matrix products in the system
OpenBLAS (BLAS_INFO=generic), whose threads torch.set_num_threads does not limit, so that without
them "1 thread" runs GEMMs on every core; the child checks openblas_get_num_threads() == T;
torch.manual_seed(0) (--seed) before the model is built; the training order is torch.randperm each epoch),
so peak RSS (the child's ru_maxrss, torch and the data included) and threads are clean. Seconds
are the training loop alone (batches assembled from in-memory arrays; evaluation and data
preparation excluded).

Models and protocols (issue 8):
  lstm-rows  MNIST, x/255 normalized (0.1307, 0.3081), 28 steps of 28; lstm = nn.LSTM(28, 128,
             batch_first=True), fc = nn.Linear(128, 10) on the last step; Adam 1e-3, batch 64,
             5 epochs; test accuracy per epoch.
  spam       embedding = nn.Embedding(20002, 64, padding_idx=0), lstm = nn.LSTM(64, 128), fc =
             nn.Linear(128, 2) on the last real step (pack_padded_sequence, enforce_sorted=False;
             batches padded to their longest document); Adam 1e-3, batch 32, 3 epochs; accuracy,
             spam F1, classification report (ham, spam).
  langid     embedding = nn.Embedding(V, 32, padding_idx=0), gru = nn.GRU(32, 128), fc =
             nn.Linear(128, 8) on the last real step (packed likewise); Adam 1e-3, batch 64,
             5 epochs; accuracy and per-language recall (and the report).
  charlm     embedding = nn.Embedding(V, 64) (no padding index; V = 83 for Moby-Dick), lstm =
             nn.LSTM(64, 256, num_layers=2, batch_first=True, no dropout), fc = nn.Linear(256, V);
             32 streams, windows of 100, truncated BPTT (state carried across batches, detached;
             zero at the start of each epoch), mean cross-entropy over the 3,200 targets, Adam 2e-3,
             clip_grad_norm_ 5; validation bits per character (non-overlapping windows of 100, zero
             state) after batch 500 and after each epoch (default 2 epochs of 334 batches);
             seconds per batch; 200 characters after the prime "The ", greedy and at temperature
             0.8 (torch.Generator seeded 0, multinomial).

Prints each epoch as it goes (stderr) and a markdown summary (stdout); --json writes every figure.
--limit-batches N stops each epoch after N batches (for timing thread settings; metrics then are
not the protocol's).
"""
import argparse
import datetime
import json
import math
import os
import platform
import resource
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import seq_data as sd  # noqa: E402

MODELS = ("lstm-rows", "spam", "langid", "charlm")
DEFAULT_EPOCHS = {"lstm-rows": 5, "spam": 3, "langid": 5, "charlm": 2}
CHARLM_EMBED, CHARLM_HIDDEN, CHARLM_LAYERS = 64, 256, 2
CHARLM_EVAL_AT = 500


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ---- metrics ------------------------------------------------------------------------------------


def report(y_true, y_pred, names):
    """(accuracy, per-class dicts precision/recall/f1/support, sklearn-style text report)."""
    k = len(names)
    per = []
    for c in range(k):
        tp = sum(1 for t, p in zip(y_true, y_pred) if t == c and p == c)
        npred = sum(1 for p in y_pred if p == c)
        ntrue = sum(1 for t in y_true if t == c)
        prec = tp / npred if npred else 0.0
        rec = tp / ntrue if ntrue else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        per.append({"precision": prec, "recall": rec, "f1": f1, "support": ntrue})
    n = len(y_true)
    acc = sum(1 for t, p in zip(y_true, y_pred) if t == p) / n
    w = max(12, max(len(s) for s in names))
    lines = [f"{'':>{w}s} {'precision':>9s} {'recall':>9s} {'f1-score':>9s} {'support':>9s}", ""]
    for s, m in zip(names, per):
        lines.append(f"{s:>{w}s} {m['precision']:9.4f} {m['recall']:9.4f} {m['f1']:9.4f} {m['support']:9d}")
    lines.append("")
    lines.append(f"{'accuracy':>{w}s} {'':9s} {'':9s} {acc:9.4f} {n:9d}")
    for label, wts in (("macro avg", [1] * k), ("weighted avg", [m["support"] for m in per])):
        tot = sum(wts)
        avg = [sum(m[key] * x for m, x in zip(per, wts)) / tot for key in ("precision", "recall", "f1")]
        lines.append(f"{label:>{w}s} {avg[0]:9.4f} {avg[1]:9.4f} {avg[2]:9.4f} {n:9d}")
    return acc, per, "\n".join(lines)


# ---- the models ---------------------------------------------------------------------------------


def build_models():
    from torch import nn
    from torch.nn.utils.rnn import pack_padded_sequence

    class LstmRows(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(28, 128, batch_first=True)
            self.fc = nn.Linear(128, 10)

        def forward(self, x):
            out, _ = self.lstm(x)
            return self.fc(out[:, -1])

    class SeqClassifier(nn.Module):
        """Embedding -> LSTM/GRU -> Linear on the last real step of each sequence."""

        def __init__(self, cell, vocab, embed, hidden, classes):
            super().__init__()
            self.cell = cell
            self.embedding = nn.Embedding(vocab, embed, padding_idx=0)
            setattr(self, cell, (nn.LSTM if cell == "lstm" else nn.GRU)(embed, hidden, batch_first=True))
            self.fc = nn.Linear(hidden, classes)

        def forward(self, x, lengths):
            e = self.embedding(x)
            packed = pack_padded_sequence(e, lengths, batch_first=True, enforce_sorted=False)
            _, h = getattr(self, self.cell)(packed)
            if isinstance(h, tuple):
                h = h[0]
            return self.fc(h[-1])  # h_n is in the original batch order, at each sequence's last real step

    class CharLM(nn.Module):
        def __init__(self, vocab):
            super().__init__()
            self.embedding = nn.Embedding(vocab, CHARLM_EMBED)
            self.lstm = nn.LSTM(CHARLM_EMBED, CHARLM_HIDDEN, num_layers=CHARLM_LAYERS, batch_first=True)
            self.fc = nn.Linear(CHARLM_HIDDEN, vocab)

        def forward(self, x, state=None):
            out, state = self.lstm(self.embedding(x), state)
            return self.fc(out), state

    return LstmRows, SeqClassifier, CharLM


# ---- training loops (in the child) --------------------------------------------------------------


def pad(seqs):
    """List of id lists -> (int64 tensor N x max length, zero-padded; int64 lengths)."""
    import numpy as np
    import torch
    lengths = np.array([len(s) for s in seqs], dtype=np.int64)
    out = np.zeros((len(seqs), int(lengths.max())), dtype=np.int64)
    for i, s in enumerate(seqs):
        out[i, :len(s)] = s
    return torch.from_numpy(out), torch.from_numpy(lengths)


def train_classifier(a, name, model, opt, batch, epochs, train_x, train_len, train_y, test_x, test_len, test_y,
                     classes, forward):
    """Shared loop for lstm-rows, spam, langid: returns the epoch records."""
    import torch
    import torch.nn.functional as F
    n = len(train_y)
    recs = []
    for ep in range(1, epochs + 1):
        model.train()
        perm = torch.randperm(n)
        tot, nb = 0.0, 0
        t0, c0 = time.perf_counter(), time.process_time()
        for s in range(0, n, batch):
            if a.limit_batches and nb >= a.limit_batches:
                break
            idx = perm[s:s + batch]
            logits = forward(train_x, train_len, idx)
            loss = F.cross_entropy(logits, train_y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            tot += loss.item()
            nb += 1
        secs, cpu = time.perf_counter() - t0, time.process_time() - c0
        model.eval()
        preds = []
        with torch.no_grad():
            for s in range(0, len(test_y), 256):
                idx = torch.arange(s, min(s + 256, len(test_y)))
                preds.append(forward(test_x, test_len, idx).argmax(1))
        pred = torch.cat(preds).tolist()
        acc, per, text = report(test_y.tolist(), pred, classes)
        rec = {"epoch": ep, "seconds": secs, "cpu_seconds": cpu, "batches": nb, "seconds_per_batch": secs / nb,
               "load_average": os.getloadavg()[0], "train_loss": tot / nb, "test_accuracy": acc,
               "per_class": {c: m for c, m in zip(classes, per)}, "report": text}
        msg = f"{name} {torch.get_num_threads()}t epoch {ep}/{epochs}  {secs:.1f} s  train loss {tot / nb:.4f}  " \
              f"test acc {acc:.4f}"
        if name == "spam":
            rec["spam_f1"] = per[1]["f1"]
            msg += f"  spam F1 {per[1]['f1']:.4f}"
        if name == "langid":
            msg += "  recall " + " ".join(f"{c[:2]} {m['recall']:.3f}" for c, m in zip(classes, per))
        log(msg)
        recs.append(rec)
    if name in ("spam", "langid"):
        log(recs[-1]["report"])
    return recs


def run_lstm_rows(a, epochs):
    import torch
    LstmRows, _, _ = build_models()
    d = sd.load_mnist(a.mnist_dir)
    xtr, ytr = torch.from_numpy(d["train"][0].copy()), torch.from_numpy(d["train"][1])
    xte, yte = torch.from_numpy(d["test"][0].copy()), torch.from_numpy(d["test"][1])
    torch.manual_seed(a.seed)
    model = LstmRows()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def forward(x, _lengths, idx):  # bytes -> normalized floats per batch
        return model(x[idx].float().div_(255.0).sub_(sd.MNIST_MEAN).div_(sd.MNIST_STD))

    recs = train_classifier(a, "lstm-rows", model, opt, 64, epochs, xtr, None, ytr, xte, None, yte,
                            [str(i) for i in range(10)], forward)
    for r in recs:
        del r["per_class"], r["report"]
    return {"epochs": recs, "final": {"test_accuracy": recs[-1]["test_accuracy"]}}


def run_text_classifier(a, name, epochs):
    import torch
    _, SeqClassifier, _ = build_models()
    t0 = time.perf_counter()
    if name == "spam":
        d = sd.load_spam(a.spam_dir)
        cell, embed, batch = "lstm", 64, 32
    else:
        d = sd.load_langid(a.langid_dir)
        cell, embed, batch = "gru", 32, 64
    prep = time.perf_counter() - t0
    xtr, ltr = pad(d["train_ids"])
    xte, lte = pad(d["test_ids"])
    ytr = torch.tensor([c for _, c in d["train"]], dtype=torch.int64)
    yte = torch.tensor([c for _, c in d["test"]], dtype=torch.int64)
    log(f"{name}: {len(ytr)} train / {len(yte)} test, V {d['V']}, data prepared in {prep:.1f} s")
    torch.manual_seed(a.seed)
    model = SeqClassifier(cell, d["V"], embed, 128, len(d["classes"]))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def forward(x, lengths, idx):
        ln = lengths[idx]
        return model(x[idx, :int(ln.max())], ln)

    recs = train_classifier(a, name, model, opt, batch, epochs, xtr, ltr, ytr, xte, lte, yte, d["classes"], forward)
    last = recs[-1]
    final = {"test_accuracy": last["test_accuracy"],
             "recall": {c: m["recall"] for c, m in last["per_class"].items()}}
    if name == "spam":
        final["spam_f1"] = last["spam_f1"]
    out = {"epochs": recs, "final": final, "report": last["report"], "V": d["V"],
           "train": len(ytr), "test": len(yte), "data_seconds": prep}
    if name == "langid":
        out["N_per_language"] = d["N"]
    return out


def run_charlm(a, epochs):
    import torch
    import torch.nn.functional as F
    _, _, CharLM = build_models()
    d = sd.load_charlm(a.moby_dick)
    V = d["V"]
    streams = torch.from_numpy(sd.batchify(d["train"]))
    nb_epoch = sd.charlm_batches_per_epoch(streams.shape[1])
    vx, vy = (torch.from_numpy(t) for t in sd.charlm_valid_windows(d["valid"]))
    log(f"charlm: {d['n']} characters, V {V}, train {len(d['train'])} as {streams.shape[0]} streams of "
        f"{streams.shape[1]}, {nb_epoch} batches per epoch, {len(vx)} validation windows")
    torch.manual_seed(a.seed)
    model = CharLM(V)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)

    def valid_bpc():
        model.eval()
        tot = 0.0
        with torch.no_grad():
            for s in range(0, len(vx), 256):
                logits, _ = model(vx[s:s + 256])
                tot += F.cross_entropy(logits.reshape(-1, V), vy[s:s + 256].reshape(-1), reduction="sum").item()
        model.train()
        return tot / vy.numel() / math.log(2)

    recs, at500, step = [], None, 0
    W = sd.CHARLM_WINDOW
    for ep in range(1, epochs + 1):
        model.train()
        state = None
        tot, nb, secs, cpu = 0.0, 0, 0.0, 0.0
        t0, c0 = time.perf_counter(), time.process_time()
        for k in range(nb_epoch):
            if a.limit_batches and nb >= a.limit_batches:
                break
            x = streams[:, k * W:(k + 1) * W]
            y = streams[:, k * W + 1:(k + 1) * W + 1]
            logits, state = model(x, state)
            state = tuple(s.detach() for s in state)
            loss = F.cross_entropy(logits.reshape(-1, V), y.reshape(-1))
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            tot += loss.item()
            nb += 1
            step += 1
            if step % 50 == 0:
                log(f"charlm {torch.get_num_threads()}t batch {step}  loss {loss.item():.4f}  "
                    f"{(secs + time.perf_counter() - t0) / nb:.3f} s/batch")
            if step == CHARLM_EVAL_AT:
                secs += time.perf_counter() - t0
                cpu += time.process_time() - c0
                bpc = valid_bpc()
                at500 = {"batch": step, "valid_bpc": bpc, "train_loss_recent": loss.item()}
                log(f"charlm after {step} batches: valid bpc {bpc:.4f}")
                t0, c0 = time.perf_counter(), time.process_time()
        secs += time.perf_counter() - t0
        cpu += time.process_time() - c0
        bpc = valid_bpc()
        rec = {"epoch": ep, "seconds": secs, "cpu_seconds": cpu, "batches": nb, "seconds_per_batch": secs / nb,
               "load_average": os.getloadavg()[0],
               "train_loss": tot / nb, "train_bpc": tot / nb / math.log(2), "valid_bpc": bpc}
        log(f"charlm {torch.get_num_threads()}t epoch {ep}/{epochs}  {secs:.1f} s  {secs / nb:.3f} s/batch  "
            f"train bpc {rec['train_bpc']:.4f}  valid bpc {bpc:.4f}")
        recs.append(rec)
    samples = {}
    model.eval()
    index = {ch: i for i, ch in enumerate(d["vocab"])}
    prime = torch.tensor([[index[ch] for ch in "The "]])
    for label, temp in (("greedy", 0.0), ("temperature_0.8", 0.8)):
        g = torch.Generator().manual_seed(0)
        with torch.no_grad():
            logits, state = model(prime)
            out = []
            for _ in range(200):
                last = logits[0, -1]
                if temp == 0.0:
                    nxt = int(last.argmax())
                else:
                    nxt = int(torch.multinomial(torch.softmax(last / temp, 0), 1, generator=g))
                out.append(d["vocab"][nxt])
                logits, state = model(torch.tensor([[nxt]]), state)
        samples[label] = "The " + "".join(out)
        log(f"charlm sample ({label}):\n{samples[label]}\n")
    return {"epochs": recs, "after_500": at500, "samples": samples, "V": V, "batches_per_epoch": nb_epoch,
            "final": {"valid_bpc": recs[-1]["valid_bpc"],
                      "valid_bpc_after_500": at500["valid_bpc"] if at500 else None,
                      "seconds_per_batch": sum(r["seconds"] for r in recs) / sum(r["batches"] for r in recs)}}


def blas_threads():
    """(OpenBLAS library loaded by torch, its thread count) or (paths, None) when not OpenBLAS."""
    import ctypes
    import re
    with open("/proc/self/maps") as f:
        libs = sorted({ln.split()[-1] for ln in f if re.search(r"openblas", ln.split()[-1])})
    for p in libs:
        try:
            return p, ctypes.CDLL(p).openblas_get_num_threads()
        except (OSError, AttributeError):
            continue
    return ", ".join(libs) or "no OpenBLAS loaded", None


def child_main(argv):
    import torch
    a = argparse.Namespace(**json.loads(argv[0]))
    torch.set_num_threads(a.threads)
    torch.matmul(torch.ones(64, 64), torch.ones(64, 64))  # BLAS loaded
    blas, nblas = blas_threads()
    if nblas is not None and nblas != a.blas_threads:
        raise SystemExit(f"OpenBLAS runs {nblas} threads, not {a.blas_threads} ({blas})")
    epochs = a.epochs or DEFAULT_EPOCHS[a.model]
    t0 = time.perf_counter()
    if a.model == "lstm-rows":
        r = run_lstm_rows(a, epochs)
    elif a.model in ("spam", "langid"):
        r = run_text_classifier(a, a.model, epochs)
    else:
        r = run_charlm(a, epochs)
    r.update({"model": a.model, "threads": torch.get_num_threads(), "interop_threads": torch.get_num_interop_threads(),
              "blas": blas, "blas_threads": nblas, "epochs_run": epochs, "seed": a.seed,
              "limit_batches": a.limit_batches, "wall_seconds": time.perf_counter() - t0,
              "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0})
    print(json.dumps(r))


# ---- the parent ---------------------------------------------------------------------------------


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def summary_row(r):
    e = r["epochs"]
    secs = sum(x["seconds"] for x in e) / len(e)
    cpu = sum(x["cpu_seconds"] for x in e) / len(e)
    load = max(x["load_average"] for x in e)
    if r["model"] == "charlm":
        f = r["final"]
        nb = sum(x["batches"] for x in e)
        speed = f"{f['seconds_per_batch']:.3f} s/batch (CPU {sum(x['cpu_seconds'] for x in e) / nb:.3f})"
        m = "valid bpc " + " / ".join(f"{x['valid_bpc']:.3f}" for x in e)
        if f["valid_bpc_after_500"] is not None:
            m += f" (after 500 batches {f['valid_bpc_after_500']:.3f})"
    else:
        speed = f"{secs:.1f} s/epoch (CPU {cpu:.1f})"
        m = "test acc " + " / ".join(f"{x['test_accuracy']:.4f}" for x in e)
        if r["model"] == "spam":
            m += "; spam F1 " + " / ".join(f"{x['spam_f1']:.4f}" for x in e)
        if r["model"] == "langid":
            m += "; recall " + ", ".join(f"{c} {v:.3f}" for c, v in r["final"]["recall"].items())
    th = str(r["threads"])
    if r["blas_threads"] not in (None, r["threads"]):
        th += f" (BLAS {r['blas_threads']})"
    return f"| {r['model']} | {th} | {r['epochs_run']} | {speed} | {m} | {r['peak_rss_mb']:.0f} | {load:.1f} |"


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        return child_main(sys.argv[2:])
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--threads", default="1", help="1, 2, or a list (1,2): torch.set_num_threads")
    ap.add_argument("--epochs", type=int, default=0,
                    help="epochs for every model (default: the protocol's, lstm-rows 5, spam 3, langid 5, charlm 2)")
    ap.add_argument("--blas-threads", type=int, default=0,
                    help="OpenBLAS threads (OPENBLAS_NUM_THREADS; default: the same as --threads)")
    ap.add_argument("--seed", type=int, default=0,
                    help="torch.manual_seed (default 0); the data splits are fixed by the protocol (splitmix64 seed 0)")
    ap.add_argument("--limit-batches", type=int, default=0, help="stop each epoch after N batches (timing only)")
    ap.add_argument("--json", help="write every figure to this file")
    sd.add_path_args(ap, ROOT)
    a = sd.resolve_paths(ap.parse_args())
    models = a.models.split(",")
    for m in models:
        if m not in MODELS:
            raise SystemExit(f"unknown model {m} (one of {', '.join(MODELS)})")
    threads = [int(t) for t in a.threads.split(",")]
    sd.check_splitmix()
    try:
        import torch
        tv = torch.__version__
    except ImportError:
        raise SystemExit("no torch: run with Debian's /usr/bin/python3 (apt-get install -y python3-torch)")
    load0 = os.getloadavg()[0]
    runs = []
    for m in models:
        for t in threads:
            cfg = {"model": m, "threads": t, "epochs": a.epochs, "limit_batches": a.limit_batches, "seed": a.seed,
                   "mnist_dir": a.mnist_dir, "spam_dir": a.spam_dir, "langid_dir": a.langid_dir,
                   "moby_dick": a.moby_dick}
            bt = a.blas_threads or t
            cfg["blas_threads"] = bt
            env = dict(os.environ, OMP_NUM_THREADS=str(t), OPENBLAS_NUM_THREADS=str(bt))
            p = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", json.dumps(cfg)],
                               stdout=subprocess.PIPE, text=True, env=env)
            if p.returncode != 0:
                raise SystemExit(f"{m} at {t} thread(s) failed (exit {p.returncode})")
            runs.append(json.loads(p.stdout.strip().splitlines()[-1]))
    load1 = os.getloadavg()[0]
    cmd = "/usr/bin/python3 bench/seq_torch.py " + " ".join(sys.argv[1:])
    info = {"date": datetime.date.today().isoformat(), "machine": f"{cpu_model()}, {os.cpu_count()} cores",
            "torch": tv, "load_average": [load0, load1], "command": cmd.strip(),
            "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"), "runs": runs}
    print(f"PyTorch {tv}, {info['machine']}, {info['date']}, load average {load0:.1f} -> {load1:.1f}; "
          f"`{info['command']}`")
    if a.limit_batches:
        print(f"(each epoch stopped after {a.limit_batches} batches: timing only, metrics are not the protocol's)")
    print()
    print("| model | threads | epochs | speed: wall (CPU) of the training loop | metric after each epoch | "
          "peak RSS (MB) | load avg (max) |")
    print("|---|---:|---:|---:|---|---:|---:|")
    for r in runs:
        print(summary_row(r))
    for r in runs:
        if r["model"] == "charlm" and r.get("samples"):
            print(f"\ncharlm ({r['threads']}t) samples from \"The \":")
            for k, s in r["samples"].items():
                print(f"  {k}: {json.dumps(s, ensure_ascii=False)}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(info, f, indent=1, ensure_ascii=False)


if __name__ == "__main__":
    main()
