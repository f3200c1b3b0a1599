#!/usr/bin/python3
"""Loads a nabla recurrent checkpoint (e.g. lstm-rows) into PyTorch's nn.LSTM / nn.GRU / nn.RNN +
nn.Linear with load_state_dict(strict=True) and checks that PyTorch gets what nabla gets.

    build/nabla train --model lstm-rows --data mnist --epochs 1 --out out/lstm-rows
    /usr/bin/python3 tests/torch_check_rnn.py out/lstm-rows/model.safetensors data/mnist [build/nabla]
        test accuracy on DATA_DIR's t10k-images/labels-idx*-ubyte[.gz] (MNIST or Fashion-MNIST),
        normalized with the checkpoint's mean/std (default 0.1307/0.3081), each 28x28 image read
        as 28 steps of 28 pixels; with a nabla binary, also `nabla eval` on the same checkpoint,
        and the two accuracies must be equal.
    /usr/bin/python3 tests/torch_check_rnn.py MODEL.safetensors --outputs OUTPUTS.safetensors
        PyTorch's logits for OUTPUTS' "x" against OUTPUTS' "logits" (nabla's), max |diff| <= 1e-4.
        test_rnn_torch writes such a pair (the zoo's lstm-rows, seeded, untrained):
            mkdir -p /tmp/rnn && (cd tests && NB_RNN_TORCH_SAVE=/tmp/rnn ../build/tests/test_rnn_torch)
            /usr/bin/python3 tests/torch_check_rnn.py /tmp/rnn/model.safetensors --outputs /tmp/rnn/outputs.safetensors
Both can be given (DATA_DIR and --outputs).

The model is nabla's nb_recurrent_new(NULL, rnn, pool=last, fc) read from the names in the file:
the rnn child "lstm" (nn.LSTM), "gru" (nn.GRU) or "rnn" (nn.RNN, tanh unless the metadata says
"nonlinearity": "relu"), batch_first; layers, directions, sizes and biases from its tensors;
"fc" = nn.Linear. lstm-rows is lstm = LSTM(28,128), fc = Linear(128,10): exactly
    nn.LSTM(28, 128, batch_first=True) named lstm + nn.Linear(128, 10) named fc
Last-step pooling: the output at the last step (for a bidirectional rnn, the backward half at step
0). Needs Debian's python3-torch and numpy (the file is parsed by tests/st_torch_check.py, not the
safetensors package). Not run in CI.
"""
import argparse
import os
import re
import subprocess
import sys

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_torch_check  # noqa: E402
from torch_check_model import read_idx  # noqa: E402


class Recurrent(nn.Module):
    """rnn (batch_first) -> output at the last step -> fc, with nabla's state_dict names."""

    def __init__(self, kind, rnn, fc, bidirectional):
        super().__init__()
        self.kind, self.bidirectional = kind, bidirectional
        setattr(self, kind, rnn)
        self.fc = fc

    def forward(self, x):  # x (N, T, D)
        y, _ = getattr(self, self.kind)(x)
        last = y[:, -1]
        if self.bidirectional:
            h = y.shape[2] // 2
            last = torch.cat([last[:, :h], y[:, 0, h:]], 1)
        return self.fc(last)


def build(state, meta):
    kinds = {k.split(".")[0] for k in state} - {"fc"}
    if len(kinds) != 1 or kinds & {"embedding"} or next(iter(kinds)) not in ("lstm", "gru", "rnn"):
        raise SystemExit("not a recurrent image model (children %s): expected lstm, gru or rnn, and fc"
                         % sorted(kinds | {"fc"}))
    kind = kinds.pop()
    w0 = state[kind + ".weight_ih_l0"]
    gates = {"lstm": 4, "gru": 3, "rnn": 1}[kind]
    hidden, inp = w0.shape[0] // gates, w0.shape[1]
    layers = 1 + max(int(m.group(1)) for m in (re.match(r".*_l(\d+)", k) for k in state) if m)
    bidir = any(k.endswith("_reverse") for k in state)
    bias = (kind + ".bias_ih_l0") in state
    kw = dict(num_layers=layers, bias=bias, batch_first=True, bidirectional=bidir)
    if kind == "lstm":
        rnn = nn.LSTM(inp, hidden, **kw)
    elif kind == "gru":
        rnn = nn.GRU(inp, hidden, **kw)
    else:
        rnn = nn.RNN(inp, hidden, nonlinearity=meta.get("nonlinearity", "tanh"), **kw)
    fw = state["fc.weight"]
    model = Recurrent(kind, rnn, nn.Linear(fw.shape[1], fw.shape[0], bias="fc.bias" in state), bidir)
    model.load_state_dict(state, strict=True)
    model.eval()
    desc = "%s(%d, %d%s%s%s) + Linear(%d, %d)" % (
        {"lstm": "LSTM", "gru": "GRU", "rnn": "RNN"}[kind], inp, hidden,
        ", num_layers=%d" % layers if layers > 1 else "", ", bidirectional=True" if bidir else "",
        "" if bias else ", bias=False", fw.shape[1], fw.shape[0])
    return model, inp, desc


def as_steps(x, width):
    """(N, C, H, W) or (N, T, D) -> (N, T, width), as nabla's Recurrent reads an image."""
    return x.reshape(x.shape[0], -1, width)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("data", nargs="?")
    ap.add_argument("nabla", nargs="?")
    ap.add_argument("--outputs")
    a = ap.parse_args()
    if not a.data and not a.outputs:
        raise SystemExit(__doc__)
    tensors, meta = st_torch_check.load(a.model)
    state = {k: v for k, v in tensors.items() if not k.startswith("_nabla.")}
    model, width, desc = build(state, meta)
    print("PyTorch %s: %s from %s loaded strictly: %s" % (torch.__version__, meta.get("model", "?"), a.model, desc))
    failed = False
    if a.outputs:
        ref, _ = st_torch_check.load(a.outputs)
        with torch.no_grad():
            logits = model(as_steps(ref["x"], width))
        diff = float((logits - ref["logits"]).abs().max())
        print("logits of %d inputs against nabla's (%s): max |diff| %.3g" % (ref["x"].shape[0], a.outputs, diff))
        if not diff <= 1e-4:
            print("MISMATCH between nabla and PyTorch")
            failed = True
    if a.data:
        mean, std = float(meta.get("mean", 0.1307)), float(meta.get("std", 0.3081))
        x = read_idx(os.path.join(a.data, "t10k-images-idx3-ubyte")).astype(np.float32) / 255.0
        y = read_idx(os.path.join(a.data, "t10k-labels-idx1-ubyte")).astype(np.int64)
        x = torch.from_numpy((x - mean) / std)
        with torch.no_grad():
            pred = torch.cat([model(as_steps(x[i:i + 1000], width)).argmax(1) for i in range(0, len(x), 1000)])
        acc = (pred.numpy() == y).mean()
        print("test accuracy %.4f on %d images (mean %g, std %g)" % (acc, len(y), mean, std))
        if a.nabla:
            out = subprocess.run([a.nabla, "eval", "--checkpoint", a.model, "--data-dir", a.data],
                                 capture_output=True, text=True, check=True).stdout
            nab = float(re.search(r"accuracy ([0-9.]+)", out).group(1))
            print("nabla eval: test accuracy %.4f" % nab)
            if abs(nab - round(acc, 4)) > 1e-4:
                print("MISMATCH between nabla and PyTorch")
                failed = True
            else:
                print("same accuracy")
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
