#!/usr/bin/python3
"""Writes tests/fixtures/lora/: a hand-written PyTorch twin of a LoRA Linear (PEFT's LoraLayer
without dropout: y = x W^T + b + scaling * (x A^T) B^T, scaling = alpha / r; peft itself is not
needed) and its forward, backward and merge, for tests/test_lora.c to match.

Usage (Debian's python3-torch lives under /usr/bin/python3; not run in CI, its output is
committed):
    /usr/bin/python3 tests/gen_lora_fixtures.py

Files written (deterministic: torch.manual_seed per case):
  cases.txt             one case name a line, in the order the test runs them
  <case>.safetensors    metadata (strings): "format": "pt", "in", "out", "r", "alpha", "bias" (0/1)
    weight (out,in), bias (out) when the case has one, lora_A (r,in), lora_B (out,r): the layer's
        tensors under nabla's names (PEFT's: lora_A.default.weight, lora_B.default.weight);
        lora_B is random (not PEFT's zeros) so that every gradient is exercised
    x (N,in) or (N,T,in)  the input
    w_out                 weights of the loss sum(w_out * y)
    y                     the output
    grad.x, grad.lora_A, grad.lora_B   the gradients of that loss (the base W, b frozen: none)
    merged.weight         W + scaling * B @ A (PEFT's merge_and_unload)
Forward and backward run in float64 from the float32 values and are rounded to float32 (the
script prints how far torch's own float32 run is).
"""
import copy
import os
import sys

try:
    import torch
except ImportError:
    raise SystemExit("gen_lora_fixtures.py: no torch in this Python; run it with /usr/bin/python3")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_pt_weights import save_st  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "lora")

# name, in, out, r, alpha, bias, input shape (last axis = in)
CASES = [
    ("ntd_bias", 6, 5, 3, 6.0, True, (2, 4, 6)),    # (N, T, D) input, scaling 2
    ("nd_nobias", 7, 4, 2, 1.0, False, (3, 7)),     # scaling 0.5, no bias
    ("rank_over", 3, 2, 4, 8.0, True, (5, 3)),      # r larger than both sizes
]


class LoraLinearTwin(torch.nn.Module):
    """PEFT's lora.Linear forward, by hand: base(x) + lora_B(lora_A(x)) * scaling."""

    def __init__(self, fin, fout, r, alpha, bias):
        super().__init__()
        self.base = torch.nn.Linear(fin, fout, bias=bias)
        self.lora_A = torch.nn.Parameter(torch.empty(r, fin))
        self.lora_B = torch.nn.Parameter(torch.empty(fout, r))
        torch.nn.init.kaiming_uniform_(self.lora_A, a=5 ** 0.5)  # PEFT's init of A
        torch.nn.init.normal_(self.lora_B, 0, 0.5)  # PEFT: zeros; random here to test gradients
        self.scaling = alpha / r
        for p in self.base.parameters():
            p.requires_grad_(False)

    def forward(self, x):
        return self.base(x) + (x @ self.lora_A.t()) @ self.lora_B.t() * self.scaling

    def merged_weight(self):
        return self.base.weight + self.scaling * self.lora_B @ self.lora_A


def run(twin, x, w_out, dtype):
    twin = twin.to(dtype)
    x = x.to(dtype).clone().requires_grad_(True)
    y = twin(x)
    (y * w_out.to(dtype)).sum().backward()
    assert twin.base.weight.grad is None, "the frozen base got a gradient"
    return {"y": y.detach(), "grad.x": x.grad, "grad.lora_A": twin.lora_A.grad, "grad.lora_B": twin.lora_B.grad,
            "merged.weight": twin.merged_weight().detach()}


def main():
    os.makedirs(OUT, exist_ok=True)
    names = []
    for name, fin, fout, r, alpha, bias, xshape in CASES:
        torch.manual_seed(len(names) + 1)
        twin = LoraLinearTwin(fin, fout, r, alpha, bias)
        x = torch.randn(*xshape)
        w_out = torch.randn(*xshape[:-1], fout)
        tensors = {"weight": twin.base.weight.detach().clone(), "lora_A": twin.lora_A.detach().clone(),
                   "lora_B": twin.lora_B.detach().clone(), "x": x, "w_out": w_out}
        if bias:
            tensors["bias"] = twin.base.bias.detach().clone()
        ref = run(copy.deepcopy(twin), x, w_out, torch.float64)
        f32 = run(copy.deepcopy(twin), x, w_out, torch.float32)
        worst = max(float((ref[k] - f32[k].double()).abs().max()) for k in ref)
        print("%-12s torch float32 vs float64: %.2g" % (name, worst))
        for k, v in ref.items():
            tensors[k] = v.float()
        meta = {"format": "pt", "in": str(fin), "out": str(fout), "r": str(r), "alpha": repr(alpha),
                "bias": "1" if bias else "0"}
        save_st({k: v.contiguous() for k, v in tensors.items()}, os.path.join(OUT, name + ".safetensors"), meta)
        names.append(name)
    with open(os.path.join(OUT, "cases.txt"), "w") as f:
        f.write("\n".join(names) + "\n")
    print("wrote %d cases to %s" % (len(names), OUT))


if __name__ == "__main__":
    main()
