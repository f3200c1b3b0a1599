#!/usr/bin/python3
"""Writes tests/fixtures/transformer/: PyTorch's forward and backward of the twins of nabla's
transformer modules (tests/transformer_twins.py) for tests/test_transformer.c to match.

Usage (Debian's python3-torch lives under /usr/bin/python3; not run in CI, the output is
committed):
    /usr/bin/python3 tests/gen_transformer_fixtures.py

Files written (deterministic: torch.manual_seed per case, one thread):
  cases.txt                 one case name a line, in the order the test runs them
  <case>.safetensors        the twin's state_dict and nothing else (nabla loads it STRICTLY);
                            metadata (strings): "kind" (mha, layer, encoder, pos, token) and the
                            constructor's arguments: d_model, nhead, dim_ff, dropout, act (relu,
                            gelu), norm_first, causal, num_layers, final_norm (0/1), pos (learned,
                            sinusoidal), max_len, vocab, out
  <case>.data.safetensors   x (N,T,D) float input (ids I64 (N,T) for token cases), lengths I64
                            (N) when the case has them, w_out (the loss is sum(w_out * out)),
                            out, grad.x (not for token cases) and grad.<param> for every param.
Sizes: N 3, T 7, d_model 8, 2 heads, dim_ff 16, vocab 30, max_len 9; lengths {7, 3, 1}. The
twins run in eval mode (dropout 0.1 configured, off). Parameters and inputs are float32 values;
forward and backward run in float64, results rounded to float32 (the script prints how far
torch's own float32 run is from them).
"""
import os
import sys

try:
    import torch
except ImportError:
    raise SystemExit("gen_transformer_fixtures.py: no torch in this Python; run it with /usr/bin/python3")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_pt_weights import save_st  # noqa: E402
import transformer_twins as tw  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "transformer")
N, T, D, HEADS, FF, V, MAXLEN, K = 3, 7, 8, 2, 16, 30, 9, 5
LENGTHS = [7, 3, 1]
P = 0.1  # configured dropout; the fixtures are eval mode


def loss_weights(shape, salt=1):
    """Fixed weights of the loss: k/8 for k in -8..8."""
    n = 1
    for s in shape:
        n *= s
    i = torch.arange(n, dtype=torch.float64)
    return (((i * (37 + 4 * salt) + 5 * salt) % 17) - 8).div(8).reshape(shape)


def build(cfg):
    k = cfg["kind"]
    if k == "mha":
        return tw.SelfAttention(D, HEADS, P, cfg["causal"])
    if k == "layer":
        return tw.Layer(D, HEADS, FF, P, cfg["act"], cfg["norm_first"], cfg["causal"])
    if k == "encoder":
        return tw.Encoder(cfg["num_layers"], D, HEADS, FF, P, cfg["act"], cfg["norm_first"], cfg["causal"],
                          cfg["final_norm"])
    if k == "pos":
        return tw.Positions(cfg["pos"], MAXLEN, D)
    return tw.TokenTransformer(V, MAXLEN, D, HEADS, cfg["num_layers"], FF, P, cfg["act"], cfg["pos"],
                               cfg["norm_first"], cfg["causal"], K)


def case(name, seed, **cfg):
    cfg = dict(dict(kind="mha", act="relu", norm_first=False, causal=False, num_layers=1, final_norm=False,
                    pos="learned", lengths=None), **cfg)
    torch.manual_seed(seed)
    model = build(cfg)
    # nabla draws LayerNorm 1/0 and zero biases: perturb every parameter so that each one matters
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    token = cfg["kind"] == "token"
    lens = cfg["lengths"]
    if token:
        x = torch.randint(1, V, (N, T))
        for i, n in enumerate(lens or []):
            x[i, n:] = 0
        x[0, 2] = 0  # the padding id inside a sequence: a zero vector, no gradient to its row
    else:
        x = torch.randn(N, T, D)
    sd = {k: v.detach().clone() for k, v in model.state_dict().items()}

    def run(dtype):
        m = build(cfg).to(dtype)
        m.load_state_dict({k: v.to(dtype) for k, v in sd.items()}, strict=True)
        m.eval()
        xs = x if token else x.to(dtype).requires_grad_()
        y = m(xs) if cfg["kind"] == "pos" else m(xs, lens)
        w = loss_weights(y.shape)
        (w.to(dtype) * y).sum().backward()
        res = {"out": y}
        if not token:
            res["grad.x"] = xs.grad
        for k, p in m.named_parameters():
            res["grad." + k] = p.grad
        return res, w

    ref, w = run(torch.float64)
    f32, _ = run(torch.float32)
    worst = max(float(((ref[k] - f32[k].double()).abs() / ref[k].abs().clamp(min=1)).max()) for k in ref)
    meta = {"format": "pt", "kind": cfg["kind"], "d_model": str(D), "nhead": str(HEADS), "dim_ff": str(FF),
            "dropout": str(P), "act": cfg["act"], "norm_first": str(int(cfg["norm_first"])),
            "causal": str(int(cfg["causal"])), "num_layers": str(cfg["num_layers"]),
            "final_norm": str(int(cfg["final_norm"])), "pos": cfg["pos"], "max_len": str(MAXLEN),
            "vocab": str(V), "out": str(K)}
    save_st(sd, os.path.join(OUT, name + ".safetensors"), meta)
    t = {"ids" if token else "x": x, "w_out": w.float()}
    if lens is not None:
        t["lengths"] = torch.tensor(lens, dtype=torch.int64)
    for k, v in ref.items():
        t[k] = v.detach().float()
    save_st(t, os.path.join(OUT, name + ".data.safetensors"), {"format": "pt"})
    return worst


def main():
    torch.set_num_threads(1)
    os.makedirs(OUT, exist_ok=True)
    L = LENGTHS
    cases = [
        ("mha", dict(kind="mha")),
        ("mha_len", dict(kind="mha", lengths=L)),
        ("mha_causal", dict(kind="mha", causal=True)),
        ("mha_len_causal", dict(kind="mha", causal=True, lengths=L)),
        ("layer_post_relu_len", dict(kind="layer", lengths=L)),
        ("layer_post_gelu", dict(kind="layer", act="gelu")),
        ("layer_pre_relu", dict(kind="layer", norm_first=True)),
        ("layer_pre_gelu_len", dict(kind="layer", act="gelu", norm_first=True, lengths=L)),
        ("layer_post_gelu_causal_len", dict(kind="layer", act="gelu", causal=True, lengths=L)),
        ("encoder2_post_relu_len", dict(kind="encoder", num_layers=2, lengths=L)),
        ("encoder2_pre_gelu_norm_len", dict(kind="encoder", num_layers=2, act="gelu", norm_first=True,
                                            final_norm=True, lengths=L)),
        ("pos_learned", dict(kind="pos", pos="learned")),
        ("pos_sinusoidal", dict(kind="pos", pos="sinusoidal")),
        ("token_learned_post_len", dict(kind="token", num_layers=2, pos="learned", lengths=L)),
        ("token_sin_pre_gelu_causal_len", dict(kind="token", num_layers=2, pos="sinusoidal", act="gelu",
                                               norm_first=True, causal=True, lengths=L)),
    ]
    seed = 1200
    for name, cfg in cases:
        seed += 1
        worst = case(name, seed, **cfg)
        print("%-32s torch float32 vs float64: %.2g" % (name, worst))
    with open(os.path.join(OUT, "cases.txt"), "w") as f:
        f.write("".join(name + "\n" for name, _ in cases))
    total = sum(os.path.getsize(os.path.join(OUT, n)) for n in os.listdir(OUT))
    print("%d cases, %d bytes in %s" % (len(cases), total, os.path.relpath(OUT, ROOT)))


if __name__ == "__main__":
    main()
