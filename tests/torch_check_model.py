#!/usr/bin/python3
"""Loads a nabla checkpoint into the equivalent PyTorch module and checks it gives the same test
accuracy as nabla.

    /usr/bin/python3 tests/torch_check_model.py OUT/model.safetensors DATA_DIR [build/nabla]

The modules below are the PyTorch twins of the zoo (docs/models.md); load_state_dict runs with
strict=True, so every name, shape and dtype must match. Needs Debian's python3-torch and numpy
(not the safetensors package: the file is parsed by tests/st_torch_check.py). Not run in CI."""
import collections
import gzip
import os
import re
import subprocess
import sys

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def zoo(name, c, h, w, k):
    L = collections.OrderedDict
    if name == "mlp":
        return nn.Sequential(L([("flatten", nn.Flatten()), ("fc1", nn.Linear(c * h * w, 512)), ("relu1", nn.ReLU()),
                                ("fc2", nn.Linear(512, 256)), ("relu2", nn.ReLU()), ("fc3", nn.Linear(256, k))]))
    if name == "lenet5":
        fh, fw = (h // 2 - 4) // 2, (w // 2 - 4) // 2
        return nn.Sequential(L([("conv1", nn.Conv2d(c, 6, 5, padding=2)), ("relu1", nn.ReLU()),
                                ("pool1", nn.MaxPool2d(2)), ("conv2", nn.Conv2d(6, 16, 5)), ("relu2", nn.ReLU()),
                                ("pool2", nn.MaxPool2d(2)), ("flatten", nn.Flatten()),
                                ("fc1", nn.Linear(16 * fh * fw, 120)), ("relu3", nn.ReLU()),
                                ("fc2", nn.Linear(120, 84)), ("relu4", nn.ReLU()), ("fc3", nn.Linear(84, k))]))
    if name == "seedcnn":
        oh, ow = (h + 4 - 5) // 2 + 1, (w + 4 - 5) // 2 + 1
        return nn.Sequential(L([("conv1", nn.Conv2d(c, 32, 5, stride=2, padding=2)), ("relu1", nn.ReLU()),
                                ("pool1", nn.MaxPool2d(2)), ("flatten", nn.Flatten()),
                                ("fc1", nn.Linear(32 * (oh // 2) * (ow // 2), 128)), ("relu2", nn.ReLU()),
                                ("fc2", nn.Linear(128, k))]))
    raise SystemExit(f"unknown model {name}")


def read_idx(path):
    for p in (path, path + ".gz"):
        if os.path.exists(p):
            raw = open(p, "rb").read()
            if raw[:2] == b"\x1f\x8b":
                raw = gzip.decompress(raw)
            nd = raw[3]
            dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(nd)]
            return np.frombuffer(raw, np.uint8, offset=4 + 4 * nd).reshape(dims)
    raise SystemExit(f"{path}: not found")


def main():
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    ckpt, data = sys.argv[1], sys.argv[2]
    import st_torch_check
    tensors, meta = st_torch_check.load(ckpt)
    c, h, w = (int(v) for v in meta["input"].split("x"))
    model = zoo(meta["model"], c, h, w, int(meta["classes"]))
    state = {k: v for k, v in tensors.items() if not k.startswith("_nabla.")}
    model.load_state_dict(state, strict=True)
    model.eval()
    x = read_idx(os.path.join(data, "t10k-images-idx3-ubyte")).astype(np.float32) / 255.0
    y = read_idx(os.path.join(data, "t10k-labels-idx1-ubyte")).astype(np.int64)
    x = (x - float(meta["mean"])) / float(meta["std"])
    with torch.no_grad():
        logits = model(torch.from_numpy(x).reshape(-1, c, h, w))
    acc = (logits.argmax(1).numpy() == y).mean()
    print(f"PyTorch {torch.__version__}: {meta['model']} from {ckpt}: test accuracy {acc:.4f} on {len(y)} images")
    if len(sys.argv) > 3:
        out = subprocess.run([sys.argv[3], "eval", "--checkpoint", ckpt, "--data-dir", data],
                             capture_output=True, text=True, check=True).stdout
        nab = float(re.search(r"accuracy ([0-9.]+)", out).group(1))
        print(f"nabla eval: test accuracy {nab:.4f}")
        if abs(nab - round(acc, 4)) > 1e-4:
            raise SystemExit("MISMATCH between nabla and PyTorch")
        print("same accuracy")


if __name__ == "__main__":
    main()
