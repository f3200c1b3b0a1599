#!/usr/bin/python3
"""Writes tests/fixtures/gen/vae_loss.txt: PyTorch's VAE loss on fixed inputs, for test_gen.c.

Usage (Debian's python3-torch lives under /usr/bin/python3):
    /usr/bin/python3 tests/gen_vae_fixture.py tests/fixtures/gen/vae_loss.txt

The loss is the one of PyTorch's VAE example (examples/vae/main.py), averaged over the batch:
    recon = F.binary_cross_entropy_with_logits(logits, x, reduction='sum') / N
    kl    = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / N
    loss  = recon + kl
Inputs are drawn from torch.Generator seeded 7 and written as float32 (%.9g), so the C test reads
exactly the values PyTorch used; the reference is computed in float64 from them. Each line is
`name n v1 ... vn`: the inputs logits (N*D), x (N*D), mu and logvar (N*L), then loss, recon, kl
and the gradients of loss with respect to logits, mu and logvar.
"""
import sys

import torch
import torch.nn.functional as F

N, D, L = 5, 12, 3
g = torch.Generator().manual_seed(7)
logits = (torch.randn(N, D, generator=g) * 3).float()
x = torch.rand(N, D, generator=g).float()
x[0, :4] = torch.tensor([0.0, 1.0, 0.0, 1.0])  # the binary pixels of MNIST's background and strokes
mu = torch.randn(N, L, generator=g).float()
logvar = (torch.randn(N, L, generator=g) * 0.7).float()

lg, xx, m, lv = (t.double().clone().requires_grad_(t is not x) for t in (logits, x, mu, logvar))
recon = F.binary_cross_entropy_with_logits(lg, xx, reduction="sum") / N
kl = -0.5 * torch.sum(1 + lv - m.pow(2) - lv.exp()) / N
loss = recon + kl
loss.backward()


def line(name, t):
    v = t.detach().reshape(-1).tolist()
    return f"{name} {len(v)} " + " ".join(f"{float(a):.9g}" for a in v) + "\n"


with open(sys.argv[1], "w") as f:
    f.write(f"# N {N} D {D} L {L}; written by tests/gen_vae_fixture.py (torch {torch.__version__})\n")
    for name, t in (("logits", logits), ("x", x), ("mu", mu), ("logvar", logvar)):
        f.write(line(name, t))
    for name, t in (("loss", loss), ("recon", recon), ("kl", kl)):
        f.write(line(name, t.reshape(1)))
    for name, t in (("grad_logits", lg.grad), ("grad_mu", m.grad), ("grad_logvar", lv.grad)):
        f.write(line(name, t))
