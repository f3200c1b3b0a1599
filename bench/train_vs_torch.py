#!/usr/bin/python3
"""Training throughput of nabla against PyTorch on the CPU, side by side in one run.

    /usr/bin/python3 bench/train_vs_torch.py [--models mlp,lenet5,seedcnn] [--samples 20000]
                                             [--threads 2] [--repeat 3]

For each model both train one epoch on the first --samples MNIST training images (batch 64,
Adam lr 1e-3, the same architecture, inputs already in memory), alternating nabla and PyTorch
--repeat times; the best samples/s of each is reported with their ratio. nabla's figure is the
`samples_per_s` of `nabla train` (the training loop alone, data loading included; evaluation
excluded); PyTorch's is the same loop written the usual way (DataLoader-free tensors in memory,
shuffled per epoch). Needs Debian's python3-torch; not part of the tests."""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
from torch_check_model import read_idx, zoo  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def torch_rate(model_name, x, y, batch, threads):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = zoo(model_name, 1, 28, 28, 10)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    n = len(y)
    perm = torch.randperm(n)
    t0 = time.perf_counter()
    for s in range(0, n, batch):
        idx = perm[s:s + batch]
        opt.zero_grad()
        loss = F.cross_entropy(model(x[idx]), y[idx])
        loss.backward()
        opt.step()
    return n / (time.perf_counter() - t0)


def nabla_rate(model_name, samples, batch, threads, data_dir):
    with tempfile.TemporaryDirectory() as out:
        subprocess.run([os.path.join(ROOT, "build", "nabla"), "train", "--model", model_name, "--data", "mnist",
                        "--data-dir", data_dir, "--epochs", "1", "--batch", str(batch), "--threads", str(threads),
                        "--limit-train", str(samples), "--limit-test", "100", "--quiet", "--out", out], check=True)
        with open(os.path.join(out, "metrics.jsonl")) as f:
            return json.loads(f.readline())["samples_per_s"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="mlp,lenet5,seedcnn")
    ap.add_argument("--samples", type=int, default=20000)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--data-dir", default=os.path.join(ROOT, "data", "mnist"))
    a = ap.parse_args()
    xs = read_idx(os.path.join(a.data_dir, "train-images-idx3-ubyte"))[:a.samples]
    ys = read_idx(os.path.join(a.data_dir, "train-labels-idx1-ubyte"))[:a.samples]
    x = torch.from_numpy(((xs.astype(np.float32) / 255.0 - 0.1307) / 0.3081).reshape(-1, 1, 28, 28))
    y = torch.from_numpy(ys.astype(np.int64))
    print(f"training samples/s, batch {a.batch}, {a.threads} threads, {a.samples} MNIST images, best of {a.repeat}; "
          f"PyTorch {torch.__version__}, OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}")
    print(f"{'model':10s} {'nabla':>10s} {'PyTorch':>10s} {'nabla/PyTorch':>14s}")
    for m in a.models.split(","):
        nb, pt = 0.0, 0.0
        for _ in range(a.repeat):
            nb = max(nb, nabla_rate(m, a.samples, a.batch, a.threads, a.data_dir))
            pt = max(pt, torch_rate(m, x, y, a.batch, a.threads))
        print(f"{m:10s} {nb:10.0f} {pt:10.0f} {nb / pt:14.2f}")


if __name__ == "__main__":
    main()
