#!/usr/bin/python3
"""Writes tests/fixtures/rnn/: PyTorch's forward and backward of nn.RNN (tanh, relu), nn.GRU and
nn.LSTM (batch_first) for tests/test_rnn_torch.c to match with nabla's layers, and of a small
Embedding(padding_idx) -> LSTM/GRU -> Linear model for nb_recurrent_new.

Usage (Debian's python3-torch lives under /usr/bin/python3, not the python3 on PATH; not run in
CI, its output is committed):
    /usr/bin/python3 tests/gen_rnn_fixtures.py

Files written (deterministic: torch.manual_seed per case, one thread):
  cases.txt             one case name a line, in the order the test runs them
  <case>.safetensors    one case; metadata (strings): "format": "pt", "kind": "rnn" or
                        "recurrent", "mode" (tanh, relu, gru, lstm), "input_size", "hidden_size",
                        "num_layers", "bidirectional" and "bias" (0/1); recurrent cases also
                        "vocab", "padding_idx", "classes", "pool" (last, mean, max).
    rnn cases, tensors:
      rnn.<param>         the module's state_dict under the prefix "rnn." (weight_ih_l0, ...)
      x (N,T,D)           input; lengths I64 (N) when the case has lengths (padded steps of x hold
                          random values: they must change nothing)
      h0, c0 (L*dirs,N,H) initial states when the case has them (c0 for the LSTM)
      w_out, w_hn, w_cn   weights of the loss sum(w_out*output) + sum(w_hn*h_n) [+ sum(w_cn*c_n)]
      out, h_n, c_n       the outputs (out zero at padded steps, as pad_packed_sequence gives it)
      grad.x, grad.h0, grad.c0, grad.rnn.<param>   the gradients of that loss
    recurrent cases: embedding.weight, lstm.* or gru.*, fc.weight, fc.bias; ids I64 (N,T)
      (padding_idx at padded steps, and once inside a sequence); lengths; w_out; out (N,K);
      grad.<param> for every parameter.
With lengths the torch side runs pack_padded_sequence(enforce_sorted=False) -> module ->
pad_packed_sequence(total_length=T). The parameters and inputs are float32 values; forward and
backward run in float64 and the results are rounded to float32, so the fixtures are PyTorch's
numbers without float32 rounding (the script prints how far torch's own float32 run is from
them). Tensors are written by gen_pt_weights.save_st (safetensors.torch.save_file's layout).
"""
import os
import sys

try:
    import torch
    import torch.nn as nn
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
except ImportError:
    raise SystemExit("gen_rnn_fixtures.py: no torch in this Python; run it with /usr/bin/python3")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_pt_weights import save_st  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "rnn")
N, T, D, H = 3, 5, 4, 3
LENGTHS = [5, 2, 4]  # unsorted; one full length


def rnn_module(mode, layers, bidir, bias, din=D, hid=H):
    kw = dict(num_layers=layers, bias=bias, batch_first=True, bidirectional=bidir)
    if mode == "lstm":
        return nn.LSTM(din, hid, **kw)
    if mode == "gru":
        return nn.GRU(din, hid, **kw)
    return nn.RNN(din, hid, nonlinearity=mode, **kw)


def run_rnn(mod, x, lengths, h0, c0):
    """output (N,T,dirs*H), h_n, c_n (None unless LSTM), with lengths through packing."""
    lstm = isinstance(mod, nn.LSTM)
    state = None
    if h0 is not None:
        state = (h0, c0) if lstm else h0
    if lengths is not None:
        packed = pack_padded_sequence(x, torch.tensor(lengths), batch_first=True, enforce_sorted=False)
        y, st = mod(packed, state)
        y, _ = pad_packed_sequence(y, batch_first=True, total_length=x.shape[1])
    else:
        y, st = mod(x, state)
    return (y, st[0], st[1]) if lstm else (y, st, None)


def loss_weights(shape, salt):
    """Fixed weights of the loss: k/8 for k in -8..8, a different pattern per output."""
    n = 1
    for s in shape:
        n *= s
    i = torch.arange(n, dtype=torch.float64)
    return (((i * (37 + 4 * salt) + 5 * salt) % 17) - 8).div(8).reshape(shape)


def rnn_case(name, seed, mode, layers=1, bidir=False, bias=True, lengths=None, h0=False):
    torch.manual_seed(seed)
    mod = rnn_module(mode, layers, bidir, bias)  # PyTorch's own init, float32
    dirs = 2 if bidir else 1
    x = torch.randn(N, T, D)
    s0 = torch.randn(layers * dirs, N, H) * 0.5 if h0 else None
    c0 = torch.randn(layers * dirs, N, H) * 0.5 if h0 and mode == "lstm" else None
    lens = (LENGTHS if lengths is True else lengths) if lengths else None
    sd = {k: v.detach().clone() for k, v in mod.state_dict().items()}

    def run(dtype):
        m = rnn_module(mode, layers, bidir, bias).to(dtype)
        m.load_state_dict({k: v.to(dtype) for k, v in sd.items()})
        xs = x.to(dtype).requires_grad_()
        hs = s0.to(dtype).requires_grad_() if s0 is not None else None
        cs = c0.to(dtype).requires_grad_() if c0 is not None else None
        y, hn, cn = run_rnn(m, xs, lens, hs, cs)
        ws = [loss_weights(y.shape, 1), loss_weights(hn.shape, 2)]
        if cn is not None:
            ws.append(loss_weights(cn.shape, 3))
        loss = (ws[0].to(dtype) * y).sum() + (ws[1].to(dtype) * hn).sum()
        if cn is not None:
            loss = loss + (ws[2].to(dtype) * cn).sum()
        loss.backward()
        res = {"out": y, "h_n": hn}
        if cn is not None:
            res["c_n"] = cn
        res["grad.x"] = xs.grad
        if hs is not None:
            res["grad.h0"] = hs.grad
        if cs is not None:
            res["grad.c0"] = cs.grad
        for k, p in m.named_parameters():
            res["grad.rnn." + k] = p.grad
        return res, ws

    ref, ws = run(torch.float64)
    f32, _ = run(torch.float32)
    worst = max(float((ref[k] - f32[k].double()).abs().max()) for k in ref)

    t = {"rnn." + k: v for k, v in sd.items()}
    t["x"] = x
    if lens is not None:
        t["lengths"] = torch.tensor(lens, dtype=torch.int64)
    if s0 is not None:
        t["h0"] = s0
    if c0 is not None:
        t["c0"] = c0
    for k, w in zip(["w_out", "w_hn", "w_cn"], ws):
        t[k] = w.float()
    for k, v in ref.items():
        t[k] = v.detach().float()
    meta = {"format": "pt", "kind": "rnn", "mode": mode, "input_size": str(D), "hidden_size": str(H),
            "num_layers": str(layers), "bidirectional": str(int(bidir)), "bias": str(int(bias))}
    save_st(t, os.path.join(OUT, name + ".safetensors"), meta)
    return worst


class Recurrent(nn.Module):
    """nabla's nb_recurrent_new(Embedding, rnn, pool, Linear) in torch."""

    def __init__(self, mode, vocab, emb, hid, classes, padding_idx, layers, bidir, pool):
        super().__init__()
        self.embedding = nn.Embedding(vocab, emb, padding_idx=padding_idx)
        self.rname = mode
        setattr(self, mode, rnn_module(mode, layers, bidir, True, emb, hid))
        self.fc = nn.Linear(hid * (2 if bidir else 1), classes)
        self.bidir, self.pool = bidir, pool

    def forward(self, ids, lengths):
        y, _, _ = run_rnn(getattr(self, self.rname), self.embedding(ids), lengths, None, None)
        idx = torch.tensor(lengths) - 1
        if self.pool == "last":  # forward half at the last real step, backward half at step 0
            p = y[torch.arange(y.shape[0]), idx]
            if self.bidir:
                h = y.shape[2] // 2
                p = torch.cat([p[:, :h], y[:, 0, h:]], 1)
        elif self.pool == "mean":  # over the real steps (padded steps are zero)
            p = y.sum(1) / torch.tensor(lengths, dtype=y.dtype).unsqueeze(1)
        else:  # max over the real steps
            real = torch.arange(y.shape[1]).unsqueeze(0) < torch.tensor(lengths).unsqueeze(1)
            p = y.masked_fill(~real.unsqueeze(2), float("-inf")).max(1).values
        return self.fc(p)


def recurrent_case(name, seed, mode, layers=1, bidir=False, pool="last", pad=0):
    V, E, K, PAD = 7, 4, 2, pad
    torch.manual_seed(seed)
    model = Recurrent(mode, V, E, H, K, PAD, layers, bidir, pool)
    ids = (torch.randint(1, V, (N, T)) + PAD) % V  # never PAD
    for i, n in enumerate(LENGTHS):
        ids[i, n:] = PAD
    ids[0, 1] = PAD  # the padding id inside a sequence: a zero vector, no gradient to its row
    sd = {k: v.detach().clone() for k, v in model.state_dict().items()}

    def run(dtype):
        m = Recurrent(mode, V, E, H, K, PAD, layers, bidir, pool).to(dtype)
        m.load_state_dict({k: v.to(dtype) for k, v in sd.items()})
        y = m(ids, LENGTHS)
        w = loss_weights(y.shape, 1)
        (w.to(dtype) * y).sum().backward()
        res = {"out": y}
        for k, p in m.named_parameters():
            res["grad." + k] = p.grad
        return res, w

    ref, w = run(torch.float64)
    f32, _ = run(torch.float32)
    worst = max(float((ref[k] - f32[k].double()).abs().max()) for k in ref)
    t = dict(sd)
    t["ids"] = ids
    t["lengths"] = torch.tensor(LENGTHS, dtype=torch.int64)
    t["w_out"] = w.float()
    for k, v in ref.items():
        t[k] = v.detach().float()
    meta = {"format": "pt", "kind": "recurrent", "mode": mode, "input_size": str(E), "hidden_size": str(H),
            "num_layers": str(layers), "bidirectional": str(int(bidir)), "bias": "1", "vocab": str(V),
            "padding_idx": str(PAD), "classes": str(K), "pool": pool}
    save_st(t, os.path.join(OUT, name + ".safetensors"), meta)
    return worst


def main():
    torch.set_num_threads(1)
    os.makedirs(OUT, exist_ok=True)
    cases = []
    seed = 100
    for mode in ["tanh", "relu", "gru", "lstm"]:
        for tag, kw in [("l1", {}),
                        ("l1_len_h0", dict(lengths=True, h0=True)),
                        ("l1_bi", dict(bidir=True)),
                        ("l2_h0", dict(layers=2, h0=True)),
                        ("l2_bi_len", dict(layers=2, bidir=True, lengths=True)),
                        ("l2_bi_len_h0", dict(layers=2, bidir=True, lengths=True, h0=True))]:
            cases.append((mode + "_" + tag, rnn_case, dict(mode=mode, **kw)))
    cases.append(("lstm_l2_bi_len_h0_nobias", rnn_case,
                  dict(mode="lstm", layers=2, bidir=True, lengths=True, h0=True, bias=False)))
    cases.append(("gru_l1_len_nobias", rnn_case, dict(mode="gru", lengths=True, bias=False)))
    cases.append(("lstm_l2_bi_len1_h0", rnn_case, dict(mode="lstm", layers=2, bidir=True, lengths=[1, 5, 3], h0=True)))
    cases.append(("gru_l1_bi_len1", rnn_case, dict(mode="gru", bidir=True, lengths=[3, 1, 2])))
    cases.append(("tanh_l1_bi_len1_h0", rnn_case, dict(mode="tanh", bidir=True, lengths=[2, 1, 1], h0=True)))
    cases.append(("rec_lstm_last", recurrent_case, dict(mode="lstm")))
    cases.append(("rec_lstm_mean", recurrent_case, dict(mode="lstm", pool="mean")))
    cases.append(("rec_gru_l2_bi_last", recurrent_case, dict(mode="gru", layers=2, bidir=True)))
    cases.append(("rec_gru_bi_max_pad6", recurrent_case, dict(mode="gru", bidir=True, pool="max", pad=6)))
    for name, fn, kw in cases:
        seed += 1
        worst = fn(name, seed, **kw)
        print("%-28s torch float32 vs float64: %.2g" % (name, worst))
    with open(os.path.join(OUT, "cases.txt"), "w") as f:
        f.write("".join(name + "\n" for name, _, _ in cases))
    total = sum(os.path.getsize(os.path.join(OUT, n)) for n in os.listdir(OUT))
    print("%d cases, %d bytes in %s" % (len(cases), total, os.path.relpath(OUT, ROOT)))


if __name__ == "__main__":
    main()
