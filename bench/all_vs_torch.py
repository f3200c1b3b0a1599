#!/usr/bin/python3
"""Every zoo model against PyTorch in one run: the speed issue's table.

    /usr/bin/python3 bench/all_vs_torch.py [--quick] [--repeat N] [--out DIR]

Runs, one after the other on the same machine, the four side-by-side benchmarks and prints each
one's own output, then one summary table of nabla's time over PyTorch's per model, each at its
best thread setting and at one thread each (below 1 nabla is faster), against the issue's
targets (<= 0.5 best vs best, <= 0.7 at one thread):

  - bench/train_vs_torch.py: mlp, lenet5, seedcnn (one MNIST epoch; lenet5 inference, FMA peak)
  - bench/seq_vs_torch.py:   lstm-rows, spam, langid, charlm (epochs cut to a few hundred batches)
  - bench/gen_vs_torch.py:   autoencoder (one epoch), conv-autoencoder, vae, gan, dcgan (cut)
  - bench/ner_speed.sh:      the ner Transformer (2,000 sentences)

--repeat N (default 2) gives every script N alternated rounds per model, each setting keeping its
fastest (the same rule for nabla and PyTorch; single runs on a shared 2-core machine move by
10-20%); the whole run then takes about N times 20 minutes. --quick is --repeat 1.
Every script and its children, nabla's and PyTorch's alike, run with glibc's MALLOC_MMAP_THRESHOLD_
and MALLOC_TRIM_THRESHOLD_ at 1 GiB unless the environment sets them (bench/train_vs_torch.py
says why: without them PyTorch's steps pay page faults for memory glibc hands back to the kernel,
3-5x its mlp and seedcnn epochs on the Zen 5 VM of 2026-12-02).
Each script's output is also written to DIR (default a new /tmp directory). Without PyTorch the
scripts say so and time nabla alone; the summary then has no ratios.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = "/usr/bin/python3"


MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": str(1 << 30), "MALLOC_TRIM_THRESHOLD_": str(1 << 30)}


def run(name, cmd, out_dir):
    print(f"==== {' '.join(cmd)}", flush=True)
    env = dict(os.environ, **{k: os.environ.get(k, v) for k, v in MALLOC_ENV.items()})
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env)
    text = r.stdout + (f"\n[stderr]\n{r.stderr}" if r.returncode else "")
    with open(os.path.join(out_dir, name + ".txt"), "w") as f:
        f.write(text)
    print(text, flush=True)
    if r.returncode:
        print(f"{name}: exit status {r.returncode}", flush=True)
    return r.stdout


def num(cell):
    m = re.search(r"[0-9]+\.[0-9]+", cell)
    return float(m.group(0)) if m else None


def table_ratios(text, best_col, one_col):
    """(model, best vs best, 1t vs 1t) from a script's markdown rows."""
    rows = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.startswith("| ") or len(cells) <= one_col or cells[0] in ("model",) or cells[0].startswith("-"):
            continue
        b, o = num(cells[best_col]), num(cells[one_col])
        if b is not None and ("**" in cells[best_col] or "(" in cells[best_col]):
            rows.append((cells[0], b, o))
    return rows


def openblas_kernels():
    """The kernel set OpenBLAS picks here (its DYNAMIC_ARCH choice, or OPENBLAS_CORETYPE's), as PyTorch's
    Linear products (and nabla's in a NABLA_GEMM=cblas build) get it; PyTorch's convolutions and
    nabla's products (oneDNN, the default build) pick their own instructions."""
    env = os.environ.get("OPENBLAS_CORETYPE")
    name = "unknown"
    try:
        import ctypes
        for lib in ("/usr/lib/x86_64-linux-gnu/openblas-openmp/libopenblas.so.0", "libopenblas.so.0"):
            try:
                f = ctypes.CDLL(lib).openblas_get_corename
                f.restype = ctypes.c_char_p
                name = f().decode()
                break
            except OSError:
                continue
    except Exception:
        pass
    return f"OpenBLAS kernels: {name} (OPENBLAS_CORETYPE{'=' + env + ' in the environment' if env else ' unset'})"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="one round of everything (--repeat 1)")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--out")
    a = ap.parse_args()
    out = a.out or tempfile.mkdtemp(prefix="nabla_all_vs_torch_")
    os.makedirs(out, exist_ok=True)
    load0 = os.getloadavg()[0]
    summary = []
    rep = "1" if a.quick else str(max(1, a.repeat))
    t = run("train_vs_torch", [PY, "bench/train_vs_torch.py", "--repeat", rep, "--timeout", "60"], out)
    summary += table_ratios(t, 6, 7)
    s = run("seq_vs_torch", [PY, "bench/seq_vs_torch.py", "--repeat", rep], out)
    summary += table_ratios(s, 7, 8)
    g = run("gen_vs_torch", [PY, "bench/gen_vs_torch.py", "--models", "autoencoder,conv-autoencoder,vae,gan,dcgan",
                             "--repeat", rep], out)
    summary += table_ratios(g, 7, 8)
    n = run("ner_speed", ["bash", "bench/ner_speed.sh", "build/nabla", "2000", rep], out)
    for line in n.splitlines():
        f = line.split()
        if f and f[0] == "ner" and len(f) >= 8:
            summary.append(("ner", float(f[6]), float(f[7])))
    load1 = os.getloadavg()[0]
    print(f"==== summary: nabla's time / PyTorch's (below 1 nabla is faster), each setting's fastest of {rep} "
          f"round{'s' if rep != '1' else ''}; load average {load0:.1f} -> {load1:.1f}")
    print(openblas_kernels())
    print("| model | best vs best (target <= 0.5) | 1 thread vs 1 thread (target <= 0.7) |")
    print("|---|---:|---:|")
    met = 0
    for m, b, o in summary:
        ok = b is not None and o is not None and b <= 0.5 and o <= 0.7
        met += ok
        print(f"| {m} | {b:.2f}{'' if b <= 0.5 else ' (missed)'} | "
              f"{'-' if o is None else f'{o:.2f}'}{'' if o is None or o <= 0.7 else ' (missed)'} |")
    print(f"{met} of {len(summary)} models meet both targets; outputs in {out}")


if __name__ == "__main__":
    sys.exit(main())
