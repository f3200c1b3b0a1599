#!/usr/bin/python3
"""nabla against PyTorch on the sequence models of issue 8, one command, one run, same machine.

    /usr/bin/python3 bench/seq_vs_torch.py [--models lstm-rows,spam,langid,charlm] [--batches N...]
        [--nabla build/nabla] [--json OUT] [--repeat N]

For every model, nabla (`nabla train`, 1 and 2 threads) and PyTorch (bench/seq_torch.py: 1 and 2
threads, torch and OpenBLAS alike, and 1 torch thread with 2 OpenBLAS threads) train one epoch cut to the same number of batches of the
protocol's size (lstm-rows 64 images, spam 32 mails, langid 64 words, charlm 32 windows of 100
characters), on the same data. nabla's time is the epoch's training seconds from metrics.jsonl,
PyTorch's its training loop's (both without evaluation and data preparation). Prints seconds per
batch for each, the ratio nabla / PyTorch at PyTorch's best thread setting (nabla at its own
best) and at one thread each, and peak RSS (the whole process: data, model, buffers). --repeat N
runs N rounds per model (nabla 1t, 2t, then PyTorch) and keeps each setting's fastest round.

Timing only: the accuracy figures of the full protocols are in the README (nabla) and
bench/README-seq.md (PyTorch). Needs Debian's python3-torch (run with /usr/bin/python3); says so
and times nabla alone when torch is missing. Data: scripts/data.sh spam langid moby-dick (and
mnist).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BATCH = {"lstm-rows": 64, "spam": 32, "langid": 64, "charlm": 32}
DATA = {"lstm-rows": "mnist", "spam": "spam", "langid": "langid", "charlm": "moby-dick"}
DEFAULT_BATCHES = {"lstm-rows": 200, "spam": 40, "langid": 300, "charlm": 50}


def run_rusage(cmd, env=None):
    """Runs cmd; returns (exit status, stdout, peak RSS in MB of that process)."""
    with tempfile.TemporaryFile() as out:
        p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.PIPE, env=env)
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        err = p.stderr.read().decode(errors="replace")
        p.stderr.close()
        out.seek(0)
        return p.returncode, out.read().decode(errors="replace"), err, ru.ru_maxrss / 1024.0


def nabla_run(nabla, model, batches, threads):
    """One limited epoch of nabla train: (seconds per batch, peak RSS MB)."""
    b = BATCH[model]
    # --limit-train in samples (characters for charlm: 32 streams of 100*batches+1 ids)
    limit = b * (100 * batches + 1) if model == "charlm" else b * batches
    with tempfile.TemporaryDirectory() as out:
        cmd = [nabla, "train", "--model", model, "--data", DATA[model], "--epochs", "1", "--batch", str(b),
               "--limit-train", str(limit), "--limit-test", "2000", "--threads", str(threads), "--quiet",
               "--out", out]
        rc, _, err, rss = run_rusage(cmd)
        if rc != 0:
            raise SystemExit(f"nabla {model} ({threads}t) failed: {err.strip()}")
        with open(os.path.join(out, "metrics.jsonl")) as f:
            m = json.loads(f.readline())
    return m["seconds"] / batches, rss


def torch_runs(model, batches):
    """bench/seq_torch.py, one epoch cut to `batches`, at 1 and 2 threads (torch and OpenBLAS alike)
    and at 1 torch thread with 2 OpenBLAS threads (Debian's torch runs its GEMMs in the system
    OpenBLAS, whose own threads torch.set_num_threads does not limit): {setting: (s/batch, RSS)}."""
    res = {}
    for threads, blas in (("1,2", 0), ("1", 2)):
        with tempfile.NamedTemporaryFile(suffix=".json") as js:
            cmd = ["/usr/bin/python3", os.path.join(ROOT, "bench", "seq_torch.py"), "--models", model, "--threads",
                   threads, "--epochs", "1", "--limit-batches", str(batches), "--json", js.name]
            if blas:
                cmd += ["--blas-threads", str(blas)]
            p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
            if p.returncode != 0:
                raise SystemExit(f"PyTorch {model} failed: {p.stderr.strip()[-2000:]}")
            with open(js.name) as f:
                runs = json.load(f)["runs"]
        for r in runs:
            e = r["epochs"][0]
            n = e.get("batches", batches)
            key = f"{r['threads']}t" if not blas else f"{r['threads']}t+blas{blas}"
            res[key] = (e["seconds"] / n, r["peak_rss_mb"])
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default="lstm-rows,spam,langid,charlm")
    ap.add_argument("--batches", type=int, default=0, help="batches per model (default: lstm-rows 200, spam 40, "
                    "langid 300, charlm 50)")
    ap.add_argument("--nabla", default=os.path.join(ROOT, "build", "nabla"))
    ap.add_argument("--json", help="write the figures to this file")
    ap.add_argument("--repeat", type=int, default=1,
                    help="rounds per model (nabla 1t, 2t, then PyTorch's settings, in turn); each setting's "
                    "fastest round is kept, the same rule for both (default 1)")
    a = ap.parse_args()
    if a.repeat < 1:
        raise SystemExit("--repeat must be >= 1")
    # Asked of a child: importing torch here would inflate every child's peak RSS, since Linux
    # carries the parent's resident high-water mark at fork through exec into ru_maxrss.
    have_torch = subprocess.run(["/usr/bin/python3", "-c", "import torch"], capture_output=True).returncode == 0
    if not have_torch:
        print("PyTorch is missing (apt-get install -y python3-torch; run with /usr/bin/python3): nabla alone\n")
    rows, out = [], []
    load0 = os.getloadavg()[0]
    for model in a.models.split(","):
        if model not in BATCH:
            raise SystemExit(f"unknown model {model} (one of {', '.join(BATCH)})")
        nb = a.batches or DEFAULT_BATCHES[model]
        n, p = {}, {}
        for _ in range(a.repeat):  # rounds alternate the engines; each setting keeps its fastest round
            for t in (1, 2):
                r = nabla_run(a.nabla, model, nb, t)
                if t not in n or r[0] < n[t][0]:
                    n[t] = r
            for k, r in (torch_runs(model, nb) if have_torch else {}).items():
                if k not in p or r[0] < p[k][0]:
                    p[k] = r
        fig = {"model": model, "batches": nb, "batch": BATCH[model], "nabla": n, "torch": p}
        out.append(fig)
        nbest = min(n, key=lambda t: n[t][0])
        if p:
            pbest = min(p, key=lambda t: p[t][0])
            rows.append(f"| {model} | {nb} x {BATCH[model]} | {n[1][0]:.4f} | {n[2][0]:.4f} | {p['1t'][0]:.4f} | "
                        f"{p['1t+blas2'][0]:.4f} | {p['2t'][0]:.4f} | **{n[nbest][0] / p[pbest][0]:.2f}** ({nbest}t vs "
                        f"{pbest}) | {n[1][0] / p['1t'][0]:.2f} | {n[nbest][1]:.0f} / {p[pbest][1]:.0f} |")
        else:
            rows.append(f"| {model} | {nb} x {BATCH[model]} | {n[1][0]:.4f} | {n[2][0]:.4f} | - | - | - | - | - | "
                        f"{n[nbest][1]:.0f} / - |")
    load1 = os.getloadavg()[0]
    best = f", each setting's fastest of {a.repeat} alternated rounds" if a.repeat > 1 else ""
    print(f"one epoch cut to the batches shown; seconds per batch of training{best}; "
          f"load average {load0:.1f} -> {load1:.1f}")
    print()
    print("| model | batches | nabla 1t | nabla 2t | PyTorch 1t | PyTorch 1t + OpenBLAS 2t | PyTorch 2t | "
          "nabla/PyTorch, best vs best | 1t vs 1t | peak RSS MB nabla / PyTorch (best settings) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(r)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"load_average": [load0, load1], "figures": out}, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
