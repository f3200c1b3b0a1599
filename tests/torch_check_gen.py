#!/usr/bin/python3
"""Loads a nabla generative checkpoint into the PyTorch models of docs/generative.md with
load_state_dict(strict=True) and checks that PyTorch gets what nabla got.

    /usr/bin/python3 tests/torch_check_gen.py RUN_DIR/model.safetensors DATA_DIR
        autoencoder, conv-autoencoder: the test MSE on DATA_DIR's t10k images (pixels in [0, 1];
            with the checkpoint's --denoise noise drawn by torch) against the last "test_mse" of
            RUN_DIR/metrics.jsonl: equal within 1e-5 without noise, within 3% with it (other noise).
        vae: the test negative ELBO (one code per image drawn by torch) against the last
            "test_loss": within 1% (other codes).
        gan, dcgan: generator.* and discriminator.* each load strictly (the prefix stripped);
            prints the mean D(x) on the test images and D(G(z)) on 1,000 torch-drawn codes, both
            in evaluation mode, and the share of generated pixels in [-1, 1] (tanh: all).
Needs Debian's python3-torch and numpy (the file is parsed by tests/st_torch_check.py). Not run
in CI.
"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench"))
import gen_torch  # noqa: E402
import st_torch_check  # noqa: E402
from torch_check_model import read_idx  # noqa: E402


def build(name, meta):
    """The PyTorch twins of bench/gen_torch.py (the protocol's own models, so the two cannot drift)."""
    if name not in ("autoencoder", "conv-autoencoder", "vae", "gan", "dcgan"):
        raise SystemExit(f"{name}: not a generative model")
    return gen_torch.build(name, int(meta.get("latent", 16)))


def state_of(tensors, prefix=""):
    out = {}
    for k, v in tensors.items():
        if k.startswith("_nabla.") or not k.startswith(prefix):
            continue
        out[k[len(prefix):]] = v.float() if v.dtype != torch.int64 else v
    return out


def last_metric(run_dir, key):
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        return json.loads(f.read().strip().splitlines()[-1])[key]


def main():
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    ckpt, data = sys.argv[1], sys.argv[2]
    tensors, meta = st_torch_check.load(ckpt)
    name, run_dir = meta["model"], os.path.dirname(os.path.abspath(ckpt))
    torch.manual_seed(0)
    xs = torch.tensor(read_idx(os.path.join(data, "t10k-images-idx3-ubyte")), dtype=torch.float32).unsqueeze(1) / 255
    if name in ("gan", "dcgan"):
        g, d = build(name, meta)
        g.load_state_dict(state_of(tensors, "generator."), strict=True)
        d.load_state_dict(state_of(tensors, "discriminator."), strict=True)
        g.eval(), d.eval()
        with torch.no_grad():
            real = torch.sigmoid(d((xs - 0.5) / 0.5)).mean().item()
            img = g(torch.randn(1000, int(meta.get("z_dim", 64))))
            fake = torch.sigmoid(d(img)).mean().item()
        inside = ((img >= -1) & (img <= 1)).float().mean().item()
        print(f"{ckpt}: {name} loads strictly into PyTorch (generator {sum(p.numel() for p in g.parameters()):,} and "
              f"discriminator {sum(p.numel() for p in d.parameters()):,} parameters); eval mode: mean D(x) on the "
              f"test set {real:.4f}, D(G(z)) on 1000 codes {fake:.4f}; {100 * inside:.1f}% of pixels in [-1, 1]")
        return
    m = build(name, meta)
    m.load_state_dict(state_of(tensors), strict=True)
    m.eval()
    noise = float(meta.get("noise", 0))
    with torch.no_grad():
        if name == "vae":
            h = m.encoder(xs)
            mu, lv = m.fc_mu(h), m.fc_logvar(h)
            z = mu + torch.exp(lv / 2) * torch.randn_like(mu)
            logits = m.decoder(z)
            rec = F.binary_cross_entropy_with_logits(logits, xs, reduction="sum") / len(xs)
            kl = -0.5 * torch.sum(1 + lv - mu.pow(2) - lv.exp()) / len(xs)
            got, want, tol = (rec + kl).item(), last_metric(run_dir, "test_loss"), 0.01
            what = "test -ELBO"
        else:
            inp = xs + noise * torch.randn_like(xs) if noise > 0 else xs
            got = F.mse_loss(m(inp), xs).item()
            want, tol, what = last_metric(run_dir, "test_mse"), (0.03 if noise > 0 else 1e-5), "test MSE"
    rel = abs(got - want) / max(abs(want), 1e-12)
    print(f"{ckpt}: {name} loads strictly into PyTorch; {what}: PyTorch {got:.6f}, nabla {want:.6f} "
          f"(relative difference {rel:.2e}, allowed {tol:g})")
    if rel > tol:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
