#!/usr/bin/python3
"""Writes tests/fixtures/pt/: LeNet-5 weights trained by PyTorch, saved as safetensors files the
way `safetensors.torch.save_file(model.state_dict(), f, metadata={"format": "pt"})` saves them,
and the numbers PyTorch itself gets with those weights, for nabla to match after loading them.

Usage (Debian's python3-torch lives under /usr/bin/python3, not the python3 on PATH):
    /usr/bin/python3 tests/gen_pt_weights.py [MNIST_DIR]
MNIST_DIR (default data/mnist) holds the full MNIST as plain or gzipped IDX files.

Files written (all deterministic: torch.manual_seed(0), one thread):
  lenet5-f32.safetensors   the trained state_dict, F32
  lenet5-f16.safetensors   the same weights rounded to IEEE half (Tensor.half(), to nearest even)
  lenet5-bf16.safetensors  the same weights rounded to bfloat16 (Tensor.bfloat16(), nearest even)
  lenet5-expected.txt      PyTorch's accuracy and mean cross-entropy of each file's weights on the
                           full MNIST test set (10000) and on the committed slice
                           tests/fixtures/mnist-small (its 500 test and 2000 training images),
                           and the first logits of the slice's first test image
  mixed.safetensors        a few F64, F32, BF16 and F16 tensors with edge values (subnormals,
                           infinities, NaN, ties, overflow), stored by torch's own conversions
  mixed-expected.txt       each mixed tensor as torch converts it to float32 (Tensor.float()),
                           one line per tensor: name, shape, values (%.9g, inf, nan)

The model is nabla's lenet5 with the same state_dict names: conv1 = Conv2d(1,6,5,padding=2),
ReLU, MaxPool2d(2), conv2 = Conv2d(6,16,5), ReLU, MaxPool2d(2), flatten, fc1 = Linear(400,120),
ReLU, fc2 = Linear(120,84), ReLU, fc3 = Linear(84,10). Inputs are (x/255 - 0.1307)/0.3081.
Training: 1 epoch of Adam (lr 1e-3), batch 64, the order drawn by torch.randperm after the model's
initialisation.

There is no safetensors package in Debian, so save_st() writes the format by hand exactly as the
library does (safetensors/src/tensor.rs, prepare()): tensors sorted by dtype, in the descending
order of the library's Dtype enum (F64 > F32 > BF16 > F16), then by name; the header is compact
JSON with "__metadata__" first and per tensor {"dtype","shape","data_offsets"}, padded with
spaces to a multiple of 8 bytes; then the little-endian tensor bytes in the same order.
"""
import gzip
import json
import math
import os
import struct
import sys

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError:
    raise SystemExit("gen_pt_weights.py: no torch in this Python; run it with /usr/bin/python3")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from st_torch_check import load  # noqa: E402  (the repository's reader, for the round trip)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "pt")
SLICE = os.path.join(ROOT, "tests", "fixtures", "mnist-small")
MEAN, STD = 0.1307, 0.3081

# The library's Dtype enum order (safetensors/src/tensor.rs): save_file sorts by it, descending.
ST_ORDER = ["BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "F16", "BF16", "I32", "U32",
            "F32", "F64", "I64", "U64"]
ST_NAME = {torch.float64: "F64", torch.float32: "F32", torch.float16: "F16",
           torch.bfloat16: "BF16", torch.int64: "I64", torch.uint8: "U8"}


def save_st(tensors, path, metadata):
    """safetensors.torch.save_file(tensors, path, metadata), byte for byte."""
    items = sorted(tensors.items(), key=lambda kv: (-ST_ORDER.index(ST_NAME[kv[1].dtype]), kv[0]))
    header, blobs, off = {"__metadata__": metadata}, [], 0
    for name, t in items:
        t = t.detach().contiguous().cpu()
        if t.dtype in (torch.float16, torch.bfloat16):
            raw = t.view(torch.int16).numpy().astype("<i2").tobytes()  # numpy has no bfloat16
        else:
            raw = t.numpy().astype(t.numpy().dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": ST_NAME[t.dtype], "shape": list(t.shape),
                        "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    js = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    js += b" " * ((8 - len(js) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(js)) + js + b"".join(blobs))


# ---- data ---------------------------------------------------------------------------------------

def read_idx(path):
    for p in (path, path + ".gz"):
        if os.path.exists(p):
            with open(p, "rb") as f:
                raw = f.read()
            raw = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
            magic, = struct.unpack(">I", raw[:4])
            ndim = magic & 0xFF
            dims = struct.unpack(">%dI" % ndim, raw[4:4 + 4 * ndim])
            t = torch.frombuffer(bytearray(raw[4 + 4 * ndim:]), dtype=torch.uint8)
            return t.reshape(dims)
    raise SystemExit("%s: not found (run bash scripts/data.sh first)" % path)


def mnist(folder, prefix):
    x = read_idx(os.path.join(folder, prefix + "-images-idx3-ubyte"))
    y = read_idx(os.path.join(folder, prefix + "-labels-idx1-ubyte"))
    x = (x.to(torch.float32).unsqueeze(1) / 255.0 - MEAN) / STD  # (N, 1, 28, 28)
    return x, y.to(torch.int64)


# ---- model --------------------------------------------------------------------------------------

class LeNet5(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(400, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


def train(x, y):
    torch.manual_seed(0)
    model = LeNet5()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    perm = torch.randperm(x.shape[0])
    model.train()
    for i in range(0, x.shape[0], 64):
        idx = perm[i:i + 64]
        opt.zero_grad()
        loss = F.cross_entropy(model(x[idx]), y[idx])
        loss.backward()
        opt.step()
        if (i // 64) % 200 == 0:
            print("  step %4d  loss %.4f" % (i // 64, loss.item()))
    return model


@torch.no_grad()
def evaluate(model, x, y):
    """(correct, mean cross-entropy): float32 forward, the loss summed in float64."""
    model.eval()
    correct, total = 0, 0.0
    for i in range(0, x.shape[0], 1000):
        logits = model(x[i:i + 1000])
        correct += int((logits.argmax(1) == y[i:i + 1000]).sum())
        total += float(F.cross_entropy(logits.double(), y[i:i + 1000], reduction="sum"))
    return correct, total / x.shape[0]


# ---- the mixed-dtype file -----------------------------------------------------------------------

def mixed_tensors():
    inf, nan = math.inf, math.nan
    g = torch.Generator().manual_seed(1)
    f16 = [1.0, -2.0, 65504.0, 2.0 ** -24, inf, nan, -0.0, 2.0 ** -14, 3 * 2.0 ** -24, 0.1,
           65519.0, 65520.0, -inf, 1e-8, 2.0 ** -25, 1.0 + 2.0 ** -11]
    bf16 = [1.0, -123.5, 3.0e38, 1e-40, inf, -inf, nan, 0.1, math.pi, 3.4e38,
            1.0 + 2.0 ** -8, 1.0 + 3 * 2.0 ** -8]
    f64 = [0.1, 1.0 / 3.0, 1e-50, 1e300, -1e300, float.fromhex("0x1.ffffffp127"),
           float.fromhex("0x1.fffffefffffffp127"), 1.0 + 2.0 ** -24, 1.0 + 3 * 2.0 ** -24,
           2.0 ** -149, 2.0 ** -150, 2.0 ** -150 * (1 + 2.0 ** -40), nan, -0.0, -inf, 123456789.0]
    return {
        "half.special": torch.tensor(f16, dtype=torch.float64).to(torch.float16).reshape(4, 4),
        "half.randn": (torch.randn(2, 3, generator=g) * 100).to(torch.float16),
        "bf16.special": torch.tensor(bf16, dtype=torch.float64).to(torch.bfloat16).reshape(3, 4),
        "bf16.randn": (torch.randn(5, generator=g) * 1e-3).to(torch.bfloat16),
        "f64.special": torch.tensor(f64, dtype=torch.float64).reshape(2, 8),
        "f64.scalar": torch.tensor(math.e, dtype=torch.float64),
        "f32.values": torch.tensor([1.5, -0.0, 1e-45, 3.4028234663852886e38], dtype=torch.float32),
        "f32.randn": torch.randn(3, 1, 2, generator=g),
    }


def bits(t):
    """The tensor's bit patterns, so that NaNs and signed zeros compare exactly."""
    ints = {8: torch.int64, 4: torch.int32, 2: torch.int16, 1: torch.uint8}
    return t.contiguous().view(ints[t.element_size()]).reshape(-1)


def fmt(v):
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return "%.9g" % v


def main():
    mnist_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "data", "mnist")
    torch.set_num_threads(1)
    os.makedirs(OUT, exist_ok=True)

    # mixed dtypes
    mixed = mixed_tensors()
    path = os.path.join(OUT, "mixed.safetensors")
    save_st(mixed, path, {"format": "pt"})
    back, meta = load(path, strict_align=True)
    assert meta == {"format": "pt"} and list(back) == sorted(
        mixed, key=lambda k: (-ST_ORDER.index(ST_NAME[mixed[k].dtype]), k))
    with open(os.path.join(OUT, "mixed-expected.txt"), "w") as f:
        f.write("# tests/fixtures/pt/mixed.safetensors as float32 (torch %s, Tensor.float()),\n"
                "# written by tests/gen_pt_weights.py: name dtype ndim shape... : values\n"
                % torch.__version__)
        for name in back:
            t, b = mixed[name], back[name]
            assert torch.equal(bits(t), bits(b)), name
            vals = t.float().reshape(-1).tolist()
            f.write("%s %s %d %s : %s\n" % (name, ST_NAME[t.dtype], t.dim(),
                                            " ".join(str(s) for s in t.shape),
                                            " ".join(fmt(v) for v in vals)))
    print("%s: %d tensors" % (os.path.relpath(path), len(mixed)))

    # LeNet-5
    xtr, ytr = mnist(mnist_dir, "train")
    xte, yte = mnist(mnist_dir, "t10k")
    xst, yst = mnist(SLICE, "t10k")
    xsr, ysr = mnist(SLICE, "train")
    assert torch.equal(xst, xte[:500]) and torch.equal(xsr, xtr[:2000])
    print("training LeNet-5 on %d images, 1 epoch" % xtr.shape[0])
    model = train(xtr, ytr)
    sd = {k: v.detach().clone() for k, v in model.state_dict().items()}
    assert list(sd) == ["conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "fc1.weight",
                        "fc1.bias", "fc2.weight", "fc2.bias", "fc3.weight", "fc3.bias"]

    lines = ["# PyTorch %s reference for tests/fixtures/pt/lenet5-*.safetensors, written by"
             % torch.__version__,
             "# tests/gen_pt_weights.py: LeNet-5 trained 1 epoch on MNIST (Adam lr 1e-3, batch 64,",
             "# seed 0, one thread); inputs (x/255 - 0.1307)/0.3081; forward in float32 with each",
             "# file's weights widened to float32; loss = mean cross-entropy (summed in float64).",
             "# sets: mnist-test = the full 10000 test images; slice-test = the 500 test images",
             "# and slice-train = the 2000 training images of tests/fixtures/mnist-small.",
             "# <file> <set> <images> <correct> <accuracy> <loss>"]
    for tag, cast in (("f32", torch.float32), ("f16", torch.float16), ("bf16", torch.bfloat16)):
        stored = {k: v.to(cast) for k, v in sd.items()}
        path = os.path.join(OUT, "lenet5-%s.safetensors" % tag)
        save_st(stored, path, {"format": "pt"})
        back, meta = load(path, strict_align=True)
        assert meta == {"format": "pt"}
        m = LeNet5()
        m.load_state_dict({k: v.float() for k, v in stored.items()})
        for k, v in back.items():
            assert torch.equal(bits(v), bits(stored[k])), k
        for set_name, x, y in (("mnist-test", xte, yte), ("slice-test", xst, yst),
                               ("slice-train", xsr, ysr)):
            correct, loss = evaluate(m, x, y)
            lines.append("%s %s %d %d %.4f %.6f" % (tag, set_name, x.shape[0], correct,
                                                     correct / x.shape[0], loss))
        if tag == "f32":
            with torch.no_grad():
                logits = m(xst[:1])[0]
            first = " ".join("%.6g" % v for v in logits[:5].tolist())
        print("%s: %d bytes" % (os.path.relpath(path), os.path.getsize(path)))
    lines.append("# first 5 logits of slice-test image 0 (label %d) with the f32 weights:"
                 % int(yst[0]))
    lines.append("f32 logits slice-test 0 : %s" % first)
    with open(os.path.join(OUT, "lenet5-expected.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
