#!/usr/bin/python3
"""nabla against PyTorch on the CPU, in one run: training time, GFLOP/s, peak memory, inference.

    /usr/bin/python3 bench/train_vs_torch.py [--models mlp,lenet5,seedcnn] [--repeat 3]
                                             [--samples 60000] [--no-passive] [--build build]

Prints the README's "Benchmarks" table (markdown). Build first (cmake ... && cmake --build build):
it runs build/nabla, build/bench/fma_peak and build/bench/bench_infer.

Training: each model trains one epoch on the first --samples MNIST training images (all 60,000 by
default), batch 64, Adam lr 1e-3, the same architecture (tests/torch_check_model.py `zoo`),
in nabla at 1 and 2 threads and in PyTorch at 1 and 2 threads. Every run is its own process,
so thread settings and peak RSS are clean: nabla through its CLI (`nabla train ... --quiet`,
seconds = metrics.jsonl "seconds", the epoch's training loop with data loading, evaluation
excluded; peak RSS = wait4's ru_maxrss of the child), PyTorch through the same loop in a child
Python (torch.set_num_threads(T); images kept in memory as bytes and converted per batch, as
nabla's loader does, shuffled each epoch; the loop alone is timed; peak RSS = getrusage of that
child, the imported torch included). The configurations alternate within each repetition, their
order rotating between repetitions; the best (lowest) seconds of each is kept.

Ratios are nabla / PyTorch seconds: below 1 nabla is faster. "best" compares each framework at
its better thread count.

GFLOP/s: training FLOPs per sample are counted analytically from the layers' matrix products
(see train_flops_per_sample: forward 2 x MACs, weight gradient 2 x MACs, input gradient 2 x MACs
except for the first layer, whose input needs no gradient; bias, ReLU, pooling, the loss and the
optimizer are not counted), times the samples, over nabla's seconds at 1 and at 2 threads. The
share of peak divides by bench/fma_peak's fp32 FMA figure at the same thread count (the peak of
the cores used).

Inference: lenet5 on the 10,000 test images, batch 256, images/s, best of --repeat alternated
runs (each itself best of 3 passes after a warm-up): nabla's bench/bench_infer (nb_model_forward
under nb_no_grad) and PyTorch in eval mode under torch.no_grad, at 1 and 2 threads.

glibc's malloc: every child, PyTorch's and nabla's, runs with MALLOC_MMAP_THRESHOLD_ and
MALLOC_TRIM_THRESHOLD_ at 1 GiB unless the environment sets them (the README's figures since
2026-12-02 are with them). Without them glibc hands the memory of each step's large tensors back to
the kernel and faults it in again at the next step; on the Zen 5 VM of 2026-12-02, where a page
fault is costly (25% of PyTorch's mlp samples were in the kernel), that made PyTorch's 1-thread
mlp epoch 3.2x and seedcnn's 4.7x slower (20,000 images: 2.98 -> 0.93 s, 5.53 -> 1.17 s). nabla
reuses its step's memory (the arena) and is not affected; the generative models' PyTorch steps
moved by up to 11% (60 batches each).

OPENBLAS_CORETYPE and OMP_WAIT_POLICY are reported, never changed, except that with the default
--passive nabla's 2-thread training also runs with OMP_WAIT_POLICY=passive, reported apart.
Without PyTorch (Debian's python3-torch) only nabla's figures are printed, and it says so."""
import argparse
import datetime
import json
import os
import platform
import re
import resource
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MEAN, STD = 0.1307, 0.3081  # MNIST's, as nabla's CLI normalizes it

# ---- FLOPs ---------------------------------------------------------------------------------
# Per sample, one multiply-add (MAC) = 2 FLOPs:
#   Linear(in, out):                     MACs = in * out
#   Conv2d(cin, cout, k, stride s, pad p) on an h x w input, output ho x wo with
#     ho = (h + 2p - k) // s + 1, wo likewise: MACs = cout * ho * wo * cin * k * k
# Training = forward (2 MACs) + weight gradient (2 MACs) + input gradient (2 MACs, not for the
# first layer, whose input is the data). Elementwise ops, pooling and the optimizer are left out.


def layer_macs(name, c=1, h=28, w=28, k=10):
    """(layer, MACs per sample) of the zoo model's Linear and Conv2d layers, in order."""
    out = []

    def conv(label, cin, cout, ks, s, p):
        nonlocal h, w
        h, w = (h + 2 * p - ks) // s + 1, (w + 2 * p - ks) // s + 1
        out.append((label, cout * h * w * cin * ks * ks))

    def pool():
        nonlocal h, w
        h, w = h // 2, w // 2

    if name == "mlp":
        out += [("fc1", c * h * w * 512), ("fc2", 512 * 256), ("fc3", 256 * k)]
    elif name == "lenet5":
        conv("conv1", c, 6, 5, 1, 2), pool(), conv("conv2", 6, 16, 5, 1, 0), pool()
        out += [("fc1", 16 * h * w * 120), ("fc2", 120 * 84), ("fc3", 84 * k)]
    elif name == "seedcnn":
        conv("conv1", c, 32, 5, 2, 2), pool()
        out += [("fc1", 32 * h * w * 128), ("fc2", 128 * k)]
    else:
        raise SystemExit(f"no FLOP count for model {name}")
    return out


def train_flops_per_sample(name):
    macs = [m for _, m in layer_macs(name)]
    return 6 * sum(macs) - 2 * macs[0]


# ---- children: PyTorch runs in its own process ----------------------------------------------


def child_main(argv):
    import numpy as np
    import torch
    import torch.nn.functional as F
    sys.path.insert(0, os.path.join(ROOT, "tests"))
    from torch_check_model import read_idx, zoo

    mode = argv[0]
    if mode == "info":
        torch.matmul(torch.ones(64, 64), torch.ones(64, 64))  # BLAS loaded
        print(json.dumps({"torch": torch.__version__, "blas": blas_info(loaded_blas_libs())}))
        return
    threads = int(argv[1])
    torch.set_num_threads(threads)
    data = argv[2]
    if mode == "train":
        model_name, samples, batch, lr = argv[3], int(argv[4]), int(argv[5]), float(argv[6])
        xs = read_idx(os.path.join(data, "train-images-idx3-ubyte"))[:samples]
        ys = read_idx(os.path.join(data, "train-labels-idx1-ubyte"))[:samples]
        x = torch.from_numpy(xs.reshape(-1, 1, 28, 28).copy())  # bytes, as nabla keeps them
        y = torch.from_numpy(ys.astype(np.int64))
        torch.manual_seed(0)
        model = zoo(model_name, 1, 28, 28, 10)
        model.train()
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        n = len(y)
        t0 = time.perf_counter()
        perm = torch.randperm(n)
        for s in range(0, n, batch):
            idx = perm[s:s + batch]
            xb = x[idx].float().div_(255.0).sub_(MEAN).div_(STD)
            opt.zero_grad()
            loss = F.cross_entropy(model(xb), y[idx])
            loss.backward()
            opt.step()
        seconds = time.perf_counter() - t0
        print(json.dumps({"seconds": seconds, "loss": float(loss),
                          "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                          "threads": torch.get_num_threads()}))
    elif mode == "infer":
        batch, reps = int(argv[3]), int(argv[4])
        xs = read_idx(os.path.join(data, "t10k-images-idx3-ubyte"))
        x = torch.from_numpy(xs.reshape(-1, 1, 28, 28).copy())
        torch.manual_seed(0)
        model = zoo("lenet5", 1, 28, 28, 10)
        model.eval()
        best = 1e30
        with torch.no_grad():
            for rep in range(reps + 1):  # rep 0 warms up
                t0 = time.perf_counter()
                for s in range(0, len(x), batch):
                    model(x[s:s + batch].float().div_(255.0).sub_(MEAN).div_(STD))
                if rep:
                    best = min(best, time.perf_counter() - t0)
        print(json.dumps({"images_per_s": len(x) / best}))


def loaded_blas_libs():
    libs = []
    with open("/proc/self/maps") as f:
        for line in f:
            p = line.split()[-1]
            if re.search(r"lib(open)?blas", os.path.basename(p)) and p not in libs:
                libs.append(p)
    return libs


def blas_info(paths):
    """'OpenBLAS 0.3.21 ... core Zen' of the first of paths that is OpenBLAS, else the paths."""
    import ctypes
    for p in paths:
        try:
            lib = ctypes.CDLL(p)
            lib.openblas_get_corename.restype = ctypes.c_char_p
            lib.openblas_get_config.restype = ctypes.c_char_p
            return (f"{lib.openblas_get_config().decode().strip()}, core "
                    f"{lib.openblas_get_corename().decode()} ({os.path.realpath(p)})")
        except (OSError, AttributeError):
            continue
    return "not OpenBLAS: " + (", ".join(paths) or "no BLAS library found")


# ---- the parent ----------------------------------------------------------------------------


# glibc's malloc keeps freed memory instead of returning it to the kernel (see the doc string)
MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": str(1 << 30), "MALLOC_TRIM_THRESHOLD_": str(1 << 30)}


def malloc_env():
    """The malloc settings of every child: MALLOC_ENV, where the environment does not set them."""
    return {k: os.environ.get(k, v) for k, v in MALLOC_ENV.items()}


def torch_env(threads, blas_threads):
    """The environment of a PyTorch child: torch's and OpenBLAS's thread counts."""
    return dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(blas_threads),
                MKL_NUM_THREADS=str(threads), **malloc_env())


def run_child(args, env=None, timeout=None):
    try:
        r = subprocess.run([sys.executable, os.path.abspath(__file__), "--child"] + [str(a) for a in args],
                           capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"seconds": None}
    if r.returncode != 0:
        raise RuntimeError(f"PyTorch child {args} failed:\n{r.stderr[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def nabla_train(a, model, threads, env):
    with tempfile.TemporaryDirectory() as out, tempfile.TemporaryFile() as err:
        p = subprocess.Popen([a.nabla, "train", "--model", model, "--data", "mnist", "--data-dir", a.data_dir,
                              "--epochs", "1", "--batch", str(a.batch), "--lr", str(a.lr), "--optimizer", "adam",
                              "--threads", str(threads), "--limit-train", str(a.samples), "--limit-test", "100",
                              "--quiet", "--out", out, "--overwrite"],
                             stdout=subprocess.DEVNULL, stderr=err, env=env)
        deadline = time.monotonic() + a.timeout if a.timeout else None
        while True:
            pid, status, ru = os.wait4(p.pid, os.WNOHANG if deadline else 0)
            if pid:
                break
            if time.monotonic() > deadline:
                p.kill()
                os.wait4(p.pid, 0)
                return {"seconds": None}
            time.sleep(0.05)
        p.returncode = os.waitstatus_to_exitcode(status)
        if p.returncode != 0:
            err.seek(0)
            raise RuntimeError(f"nabla train {model} --threads {threads} failed:\n{err.read().decode()[-2000:]}")
        with open(os.path.join(out, "metrics.jsonl")) as f:
            m = json.loads(f.readline())
        return {"seconds": m["seconds"], "maxrss_kb": ru.ru_maxrss}


def nabla_infer(a, threads):
    out = subprocess.run([a.bench_infer, a.data_dir, str(threads), "256", "3", "lenet5"], capture_output=True,
                         env=dict(os.environ, **malloc_env()),
                         text=True, check=True).stdout
    return float(re.search(r"([0-9.]+) images/s", out).group(1))


def fma_peak(a):
    out = subprocess.run([a.fma_peak, "1", "2"], capture_output=True, text=True, check=True).stdout
    peak = {int(t): float(g) for t, g in re.findall(r"threads (\d+): ([0-9.]+) GFLOP/s", out)}
    isa = re.search(r"\((\w+), \d+ floats", out).group(1)
    return peak, isa


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def nabla_blas(a):
    try:
        ldd = subprocess.run(["ldd", a.nabla], capture_output=True, text=True).stdout
    except OSError:
        return "unknown (no ldd)"
    paths = re.findall(r"=>\s*(\S*blas\S*)", ldd)
    if not paths:
        return "no shared BLAS library (statically linked?)"
    r = subprocess.run([sys.executable, "-c", "import sys; sys.path.insert(0, sys.argv[1]); import train_vs_torch as t; "
                        "print(t.blas_info(sys.argv[2:]))", os.path.dirname(os.path.abspath(__file__))] + paths,
                       capture_output=True, text=True)
    blas = r.stdout.strip() or r.stderr.strip()[-300:]
    # nabla's products run in oneDNN when the binary links it (docs/architecture.md, "GEMM")
    dnnl = re.findall(r"=>\s*(\S*libdnnl\S*)", ldd)
    return (f"GEMMs in oneDNN's sgemm ({os.path.realpath(dnnl[0])}); OpenBLAS linked too: {blas}" if dnnl
            else f"GEMMs in {blas}")


def fmt_s(v, timeout=0):
    return f"{v:.2f}" if v is not None else f">{timeout:g}" if timeout else "-"


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        return child_main(sys.argv[2:])
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default="mlp,lenet5,seedcnn")
    ap.add_argument("--samples", type=int, default=60000)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-passive", dest="passive", action="store_false",
                    help="skip nabla's extra 2-thread run with OMP_WAIT_POLICY=passive")
    ap.add_argument("--timeout", type=float, default=0,
                    help="stop a training run after this many seconds, shown as '>N' (default: no limit)")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--data-dir", default=os.path.join(ROOT, "data", "mnist"))
    a = ap.parse_args()
    a.nabla = os.path.join(a.build, "nabla")
    a.fma_peak = os.path.join(a.build, "bench", "fma_peak")
    a.bench_infer = os.path.join(a.build, "bench", "bench_infer")
    for p in (a.nabla, a.fma_peak, a.bench_infer):
        if not os.access(p, os.X_OK):
            raise SystemExit(f"{p}: not built (cmake -S . -B build -DCMAKE_BUILD_TYPE=Release && "
                             f"cmake --build build)")
    models = a.models.split(",")
    flops = {m: train_flops_per_sample(m) for m in models}
    load0 = os.getloadavg()[0]

    try:
        info = run_child(["info"])
        have_torch = True
    except (RuntimeError, ValueError, IndexError) as e:
        have_torch = False
        torch_missing = str(e).strip().splitlines()[-1]
    peak, isa = fma_peak(a)

    default_env = dict(os.environ, **malloc_env())
    passive_env = dict(default_env, OMP_WAIT_POLICY="passive")
    # PyTorch's children get their thread counts in the environment too: Debian's torch runs its
    # GEMMs in the system OpenBLAS, which torch.set_num_threads does not limit (without this,
    # "1 thread" ran the GEMMs on 2 OpenBLAS threads). "torchb2" is 1 torch thread with 2
    # OpenBLAS threads, what the earlier runs measured as "1 thread".
    configs = [("nabla", 1), ("torch", 1), ("nabla", 2), ("torch", 2), ("torchb2", 1)]
    if a.passive:
        configs.append(("passive", 2))
    if not have_torch:
        configs = [c for c in configs if not c[0].startswith("torch")]
    best = {}  # (model, engine, threads) -> result with the lowest seconds
    for r in range(a.repeat):
        for m in models:
            k = r % len(configs)
            for engine, t in configs[k:] + configs[:k]:
                if engine in ("torch", "torchb2"):
                    res = run_child(["train", t, a.data_dir, m, a.samples, a.batch, a.lr], timeout=a.timeout or None,
                                    env=torch_env(t, 2 if engine == "torchb2" else t))
                else:
                    res = nabla_train(a, m, t, passive_env if engine == "passive" else default_env)
                key = (m, engine, t)
                if res["seconds"] is not None and (key not in best or res["seconds"] < best[key]["seconds"]):
                    best[key] = res
                print(f"  [{r + 1}/{a.repeat}] {m:8s} {engine:7s} {t}t {fmt_s(res['seconds'], a.timeout):>7s} s",
                      file=sys.stderr)
    infer = {}
    for r in range(a.repeat):
        for t in (1, 2):
            infer[("nabla", t)] = max(infer.get(("nabla", t), 0.0), nabla_infer(a, t))
            if have_torch:
                res = run_child(["infer", t, a.data_dir, 256, 3], env=torch_env(t, t))
                infer[("torch", t)] = max(infer.get(("torch", t), 0.0), res["images_per_s"])
    load1 = os.getloadavg()[0]

    # ---- the report ----
    print(f"One training epoch of each zoo model on {a.samples:,} MNIST images, batch {a.batch}, Adam lr {a.lr:g}; "
          f"seconds, best of {a.repeat} alternated runs.")
    print()
    print(f"- date: {datetime.date.today().isoformat()}; machine: {cpu_model()}, {os.cpu_count()} cores, "
          f"{platform.system()} {platform.machine()}; load average {load0:.1f} at start, {load1:.1f} at end")
    print(f"- fp32 FMA peak (build/bench/fma_peak, {isa}): {peak.get(1, 0):.1f} GFLOP/s on 1 thread, "
          f"{peak.get(2, 0):.1f} on 2")
    print(f"- OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}; "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '(unset)')}; "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '(unset)')}; every child: "
          + " ".join(f"{k}={v}" for k, v in malloc_env().items()))
    print(f"- nabla: `nabla train --threads T`; {nabla_blas(a)}")
    if have_torch:
        print(f"- PyTorch {info['torch']} (`torch.set_num_threads(T)` with OMP_NUM_THREADS=T and "
              f"OPENBLAS_NUM_THREADS=T, and 1 torch thread with OPENBLAS_NUM_THREADS=2); its BLAS: {info['blas']}")
    else:
        print(f"- PyTorch missing ({torch_missing}): nabla's figures only")
    print(f"- command: `/usr/bin/python3 bench/train_vs_torch.py"
          f"{'' if a.repeat == 3 else f' --repeat {a.repeat}'}"
          f"{'' if a.models == 'mlp,lenet5,seedcnn' else f' --models {a.models}'}"
          f"{'' if a.samples == 60000 else f' --samples {a.samples}'}{'' if a.passive else ' --no-passive'}"
          f"{f' --timeout {a.timeout:g}' if a.timeout else ''}`")
    print()
    print("| model | nabla 1t (s) | nabla 2t (s) | PyTorch 1t (s) | PyTorch 1t + OpenBLAS 2t (s) | PyTorch 2t (s) | "
          "nabla/PyTorch best | nabla/PyTorch 1t | nabla GFLOP/s (% of peak), 1t / 2t | peak RSS nabla / PyTorch (MB) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    passive_notes = []
    for m in models:
        def s(e, t):
            return best[(m, e, t)]["seconds"] if (m, e, t) in best else None

        def faster(e):  # the thread count with the lower seconds; a stopped run counts as slowest
            return min((1, 2), key=lambda t: s(e, t) if s(e, t) is not None else 1e30)

        def torch_best():  # PyTorch's fastest setting among 1t, 2t and 1t + OpenBLAS 2t
            cands = [(e, t) for e, t in (("torch", 1), ("torch", 2), ("torchb2", 1)) if s(e, t) is not None]
            return min(cands, key=lambda c: s(*c)) if cands else ("torch", faster("torch"))

        def ratio(x, y):
            return f"{x / y:.2f}" if x is not None and y is not None else "-"
        T = a.timeout
        nb_t = faster("nabla")
        if (m, "nabla", nb_t) not in best or (have_torch and (m, *torch_best()) not in best):
            print(f"| {m} | every run stopped after {T:g} s |")
            continue
        nb = best[(m, "nabla", nb_t)]

        def rate(t):  # GFLOP/s at t threads and its share of the peak of t cores
            if s("nabla", t) is None:
                return "-"
            g = flops[m] * a.samples / s("nabla", t) * 1e-9
            return f"{g:.1f} ({100.0 * g / peak[t]:.0f}%)" if t in peak else f"{g:.1f}"
        if have_torch:
            pt_e, pt_t = torch_best()
            pt = best[(m, pt_e, pt_t)]
            pt_name = "1t+BLAS2" if pt_e == "torchb2" else f"{pt_t}t"
            ratio_best = f"{nb['seconds'] / pt['seconds']:.2f} ({nb_t}t / {pt_name})"
            ratio_1 = ratio(s("nabla", 1), s("torch", 1))
            rss = f"{nb['maxrss_kb'] / 1024:.0f} / {pt['maxrss_kb'] / 1024:.0f}"
        else:
            ratio_best = ratio_1 = "-"
            rss = f"{nb['maxrss_kb'] / 1024:.0f} / -"
        print(f"| {m} | {fmt_s(s('nabla', 1), T)} | {fmt_s(s('nabla', 2), T)} | {fmt_s(s('torch', 1), T)} | "
              f"{fmt_s(s('torchb2', 1), T)} | {fmt_s(s('torch', 2), T)} | {ratio_best} | {ratio_1} | {rate(1)} / {rate(2)} | {rss} |")
        if a.passive:
            passive_notes.append(f"{m} {fmt_s(s('passive', 2), T)} s (default {fmt_s(s('nabla', 2), T)})")
    print()
    if a.passive:
        print(f"nabla at 2 threads with OMP_WAIT_POLICY=passive: {', '.join(passive_notes)}.")
        print()
    line = (f"lenet5 inference, batch 256, 10,000 test images, images/s: nabla {infer[('nabla', 1)]:,.0f} (1t), "
            f"{infer[('nabla', 2)]:,.0f} (2t)")
    if have_torch:
        nb_i, pt_i = max(infer[("nabla", 1)], infer[("nabla", 2)]), max(infer[("torch", 1)], infer[("torch", 2)])
        line += (f"; PyTorch {infer[('torch', 1)]:,.0f} (1t), {infer[('torch', 2)]:,.0f} (2t); "
                 f"nabla/PyTorch best {nb_i / pt_i:.2f} (above 1 nabla is faster)")
    print(line + ".")
    print()
    print("Ratios are nabla/PyTorch seconds (below 1 nabla is faster); \"best\" takes each at its faster thread "
          "count. GFLOP/s counts the Linear and Conv2d products per sample "
          f"({', '.join(f'{m} {flops[m] / 1e6:.2f}' for m in models)} MFLOP): forward 2 x MACs, backward 2 x forward "
          "except the first layer's (weight gradient only); the share is of the FMA peak at the same thread count "
          "(the peak of the cores used). "
          "Peak RSS is each process's maximum resident set (PyTorch's includes the torch library).")


if __name__ == "__main__":
    main()
