#!/usr/bin/python3
"""nabla against PyTorch on the generative models of issue 9, one command, one run, same machine.

    /usr/bin/python3 bench/gen_vs_torch.py [--models autoencoder,gan] [--batches N] [--full]
        [--data mnist|fashion-mnist] [--torch-settings 1t,1t+blas2,2t] [--nabla build/nabla] [--json OUT]
        [--repeat N]

For every model, nabla (`nabla train --epochs 1`, at 1 and 2 threads) and PyTorch
(bench/gen_torch.py: 1 and 2 threads, torch and OpenBLAS alike, and 1 torch thread with 2 OpenBLAS
threads) train one epoch of the protocol (batch 64; Adam 1e-3, GANs Adam 2e-4 betas (0.5, 0.999)),
or the epoch cut to the same number of batches (nabla: --limit-train 64 x N, the first 64 x N
training images; PyTorch: the first N batches of its shuffled epoch). Defaults keep the whole run
to a few minutes on 2 cores: autoencoder a full epoch of Fashion-MNIST (938 batches; its test MSE is
issue 9's target), gan 300 batches of MNIST, conv-autoencoder 200 and vae 300 of Fashion-MNIST,
dcgan 50 of MNIST; --batches N sets every model's cut, --full runs every model's whole epoch. On
2 shared cores PyTorch at 2 threads (its libgomp threads spin) takes most of the time: the default
run took 6 minutes at load average 2-6, 3.4 of them in PyTorch's 2-thread autoencoder epoch;
--torch-settings 1t,1t+blas2 leaves it out. --repeat N runs N rounds per model (nabla 1t, 2t,
then each PyTorch setting) and keeps each setting's fastest round: the same rule on both sides,
against the 10-20% that other work on a shared machine adds to single runs.

nabla's time is the epoch's training seconds from metrics.jsonl, PyTorch's its training loop's
(both without evaluation). Prints seconds per epoch (per batch when cut) for each setting, the
ratio nabla / PyTorch at PyTorch's best setting (nabla at its own best) and at one thread each,
peak RSS (the whole process: data, model, buffers; nabla's from wait4, PyTorch's the child's
ru_maxrss; this script never imports torch itself, which would raise the floor of nabla's figure), then the figures after the epoch of both at one thread (autoencoders: test MSE, over
the whole test set when the epoch is whole, else the first 2,000 test images; vae: test -ELBO,
its terms and MSE; GANs: the training means of d_loss, g_loss, d_real, d_fake), and the
autoencoder's test MSE against issue 9's target, 0.0168 ("one epoch on Fashion-MNIST with Adam lr
1e-3 batch 64"), when it ran a whole epoch of Fashion-MNIST.

Needs Debian's python3-torch (run with /usr/bin/python3); says so and times nabla alone when torch
is missing. nabla runs in the repository root (data in ./data) with OMP_WAIT_POLICY as found (the
CLI sets passive itself).
"""
import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

BATCH = 64
TRAIN = 60000
FULL = -(-TRAIN // BATCH)  # 938 batches, the last of 32 images
MODELS = ("autoencoder", "conv-autoencoder", "vae", "gan", "dcgan")
DATA = {"autoencoder": "fashion-mnist", "conv-autoencoder": "fashion-mnist", "vae": "fashion-mnist", "gan": "mnist",
        "dcgan": "mnist"}
DEFAULT_BATCHES = {"autoencoder": FULL, "conv-autoencoder": 200, "vae": 300, "gan": 300, "dcgan": 50}
LR = {"autoencoder": "1e-3", "conv-autoencoder": "1e-3", "vae": "1e-3", "gan": "2e-4", "dcgan": "2e-4"}
CUT_TEST = 2000  # test images evaluated after a cut epoch (evaluation is not timed)
TARGET_MSE = 0.0168


def run_rusage(cmd, cwd=None):
    """Runs cmd; returns (exit status, stdout, stderr, peak RSS in MB of that process) (wait4's ru_maxrss)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        p = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=cwd)
        _, status, ru = os.wait4(p.pid, 0)
        out.seek(0)
        err.seek(0)
        return (os.waitstatus_to_exitcode(status), out.read().decode(errors="replace"),
                err.read().decode(errors="replace"), ru.ru_maxrss / 1024.0)


def torch_python():
    """An interpreter that has torch: this one, else Debian's /usr/bin/python3; None without. torch is
    never imported here: a child's ru_maxrss starts at its parent's peak RSS (Linux carries the
    high-water mark of the memory a child had before its exec), and torch would put ~220 MB under
    every nabla figure."""
    import importlib.util
    if importlib.util.find_spec("torch") is not None:
        return sys.executable
    if os.path.exists("/usr/bin/python3") and \
            subprocess.run(["/usr/bin/python3", "-c", "import torch"], capture_output=True).returncode == 0:
        return "/usr/bin/python3"
    return None


def nabla_run(nabla, model, data, batches, threads):
    """One (possibly cut) epoch of nabla train: (metrics of the epoch, peak RSS MB)."""
    full = batches >= FULL
    with tempfile.TemporaryDirectory() as out:
        cmd = [nabla, "train", "--model", model, "--data", data, "--epochs", "1", "--batch", str(BATCH),
               "--lr", LR[model], "--threads", str(threads), "--quiet", "--out", out]
        if not full:
            cmd += ["--limit-train", str(BATCH * batches), "--limit-test", str(CUT_TEST)]
        rc, _, err, rss = run_rusage(cmd, cwd=ROOT)
        if rc != 0:
            raise SystemExit(f"nabla {model} ({threads}t) failed: {err.strip()}\n  {' '.join(cmd)}")
        with open(os.path.join(out, "metrics.jsonl")) as f:
            m = json.loads(f.readline())
    m["batches"] = FULL if full else batches
    return m, rss


TORCH_SETTINGS = {"1t": (1, 1), "1t+blas2": (1, 2), "2t": (2, 2)}  # (torch threads, OpenBLAS threads)


def torch_runs(py, model, data, batches, settings):
    """bench/gen_torch.py, one (possibly cut) epoch per setting: 1t and 2t (torch and OpenBLAS alike),
    1t+blas2 (1 torch thread with 2 OpenBLAS threads: Debian's torch runs its GEMMs in the system
    OpenBLAS, whose own threads torch.set_num_threads does not limit): {setting: (epoch record, peak RSS MB)}."""
    res = {}
    full = batches >= FULL
    for key in settings:
        threads, blas = TORCH_SETTINGS[key]
        with tempfile.NamedTemporaryFile(suffix=".json") as js:
            cmd = [py, os.path.join(HERE, "gen_torch.py"), "--models", model, "--data", data, "--threads",
                   str(threads), "--blas-threads", str(blas), "--epochs", "1", "--json", js.name]
            if not full:
                cmd += ["--batches", str(batches), "--limit-test", str(CUT_TEST)]
            p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
            if p.returncode != 0:
                raise SystemExit(f"PyTorch {model} ({key}) failed: {p.stderr.strip()[-2000:]}")
            with open(js.name) as f:
                r = json.load(f)["runs"][0]
        res[key] = (r["epochs"][0], r["peak_rss_mb"])
    return res


def figures(model, e):
    """The figures after the epoch, in words."""
    if model in ("gan", "dcgan"):
        return " ".join(f"{k} {e[k]:.3f}" for k in ("d_loss", "g_loss", "d_real", "d_fake"))
    if model == "vae":
        return f"-ELBO {e['test_loss']:.2f} = {e['test_recon']:.2f} + {e['test_kl']:.2f}, mse {e['test_mse']:.5f}"
    return f"test mse {e['test_mse']:.5f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default="autoencoder,gan", help=f"comma-separated, of {', '.join(MODELS)}")
    ap.add_argument("--batches", type=int, default=0,
                    help=f"batches per model (default: autoencoder the whole epoch, {FULL}; gan 300, "
                    "conv-autoencoder 200, vae 300, dcgan 50)")
    ap.add_argument("--full", action="store_true", help="every model's whole epoch")
    ap.add_argument("--data", choices=("mnist", "fashion-mnist"),
                    help="every model's data (default: autoencoders and vae fashion-mnist, GANs mnist)")
    ap.add_argument("--torch-settings", default="1t,1t+blas2,2t",
                    help="PyTorch's thread settings, of 1t, 1t+blas2, 2t (2t, spinning libgomp threads, is by far "
                    "the slowest on a loaded machine: the autoencoder's epoch took 205 s there against 6 s at 1t)")
    ap.add_argument("--nabla", default=os.path.join(ROOT, "build", "nabla"))
    ap.add_argument("--json", help="write the figures to this file")
    ap.add_argument("--repeat", type=int, default=1,
                    help="rounds per model (nabla 1t, 2t, then each PyTorch setting, in turn); each setting's "
                    "fastest round is kept, the same rule for both (default 1)")
    a = ap.parse_args()
    if a.repeat < 1:
        raise SystemExit("--repeat must be >= 1")
    models = a.models.split(",")
    for m in models:
        if m not in MODELS:
            raise SystemExit(f"unknown model {m} (one of {', '.join(MODELS)})")
    settings = a.torch_settings.split(",")
    for k in settings:
        if k not in TORCH_SETTINGS:
            raise SystemExit(f"unknown PyTorch setting {k} (one of {', '.join(TORCH_SETTINGS)})")
    nabla = os.path.abspath(a.nabla)
    py = torch_python()
    if not py:
        print("PyTorch is missing (apt-get install -y python3-torch; run with /usr/bin/python3): nabla alone\n")
    speed, figs, target, out = [], [], [], []
    load0 = os.getloadavg()[0]
    for model in models:
        data = a.data or DATA[model]
        nb = FULL if a.full else min(a.batches or DEFAULT_BATCHES[model], FULL)
        full = nb >= FULL
        n, p = {}, {}
        for _ in range(a.repeat):  # rounds alternate the engines; each setting keeps its fastest round
            for t in (1, 2):
                r = nabla_run(nabla, model, data, nb, t)
                if t not in n or r[0]["seconds"] < n[t][0]["seconds"]:
                    n[t] = r
            for k, r in (torch_runs(py, model, data, nb, settings) if py else {}).items():
                if k not in p or r[0]["seconds"] < p[k][0]["seconds"]:
                    p[k] = r
        out.append({"model": model, "data": data, "batches": nb, "batch": BATCH, "full_epoch": full,
                    "nabla": {f"{t}t": {"metrics": m, "peak_rss_mb": r} for t, (m, r) in n.items()},
                    "torch": {k: {"metrics": e, "peak_rss_mb": r} for k, (e, r) in p.items()}})
        # seconds per epoch for a whole one, else per batch
        div = 1 if full else nb
        ns = {t: m["seconds"] / div for t, (m, _) in n.items()}
        ps = {k: e["seconds"] / div for k, (e, _) in p.items()}
        fmt = "{:.2f}" if full else "{:.4f}"
        nbest = min(ns, key=ns.get)
        size = f"{data}, {'epoch' if full else 'cut'}: {nb} x {BATCH}"
        if p:
            pbest = min(ps, key=ps.get)
            cells = " | ".join(fmt.format(ps[k]) if k in ps else "-" for k in ("1t", "1t+blas2", "2t"))
            one = f"{ns[1] / ps['1t']:.2f}" if "1t" in ps else "-"
            speed.append(f"| {model} | {size} | {fmt.format(ns[1])} | {fmt.format(ns[2])} | {cells} | "
                         f"**{ns[nbest] / ps[pbest]:.2f}** ({nbest}t vs {pbest}) | {one} | "
                         f"{n[nbest][1]:.0f} / {p[pbest][1]:.0f} |")
        else:
            speed.append(f"| {model} | {size} | {fmt.format(ns[1])} | {fmt.format(ns[2])} | - | - | - | - | - | "
                         f"{n[nbest][1]:.0f} / - |")
        figs.append(f"| {model} | {size} | {figures(model, n[1][0])} | {figures(model, p['1t'][0]) if '1t' in p else '-'} |")
        if model == "autoencoder" and full and data == "fashion-mnist":
            mse = {f"nabla {t}t": m["test_mse"] for t, (m, _) in n.items()}
            mse.update({f"PyTorch {k}": e["test_mse"] for k, (e, _) in p.items()})
            out[-1]["target_test_mse"] = TARGET_MSE
            out[-1]["target_met"] = {k: v <= TARGET_MSE for k, v in mse.items()}
            target.append(f"autoencoder, one epoch of Fashion-MNIST, test MSE (issue 9's target <= {TARGET_MSE}): " +
                        ", ".join(f"{k} {v:.5f} ({'met' if v <= TARGET_MSE else 'MISSED'})" for k, v in mse.items()))
    load1 = os.getloadavg()[0]
    unit = "seconds per epoch (whole epochs) or per batch (cut epochs)"
    best = f", each setting's fastest of {a.repeat} alternated rounds" if a.repeat > 1 else ""
    print(f"training seconds, {unit}{best}; load average {load0:.1f} -> {load1:.1f}")
    print()
    print("| model | data, batches | nabla 1t | nabla 2t | PyTorch 1t | PyTorch 1t + OpenBLAS 2t | PyTorch 2t | "
          "nabla/PyTorch, best vs best | 1t vs 1t | peak RSS MB nabla / PyTorch (best settings) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in speed:
        print(r)
    print()
    print("after the epoch, at 1 thread (a cut epoch's figures are not the protocol's; its test set is the first "
          f"{CUT_TEST} images)")
    print()
    print("| model | data, batches | nabla | PyTorch |")
    print("|---|---|---|---|")
    for r in figs:
        print(r)
    for r in target:
        print()
        print(r)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"date": datetime.date.today().isoformat(), "load_average": [load0, load1],
                       "command": " ".join(sys.argv), "torch": py is not None, "figures": out}, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
