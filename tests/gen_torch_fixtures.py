#!/usr/bin/python3
"""Writes tests/fixtures/ops.txt: PyTorch reference values for every op case of tests/cases.c.

Usage (Debian's python3-torch lives under /usr/bin/python3, not the python3 on PATH):
    /usr/bin/python3 tests/gen_torch_fixtures.py BUILD_DIR/tests/test_torch_ref tests/fixtures/ops.txt

1. Runs `test_torch_ref --dump TMP`, which writes every case's inputs (in0, in1, ...; "none inK"
   for a NULL input) and the output-gradient seed w, drawn exactly as test_gradcheck draws them.
2. For each case, applies the torch function of REF (which mirrors the case's C builder) to the
   inputs converted to float64, and backpropagates w: the reference output is `out`, and the
   gradient of sum(w * out) with respect to float input K is `gradK`.
3. Writes the inputs and w as dumped (the same text, so the same float32 values), then out and the
   gradients, with %.9g.

Dropout: the C builder reseeds nabla's RNG, so the mask is nabla's own and PyTorch cannot redraw
it. For the dropout case (only) the dump also holds nabla's output, and since every input element
is nonzero the mask is (nabla_out != 0). The reference is then x * mask / (1 - p) computed by torch,
and its gradient comes from torch autograd through that fixed mask. This checks nabla's scaling
and its backward against its own forward mask; the generator also checks that the mask keeps
roughly 1 - p of the elements, so a broken mask (all kept, all dropped) cannot pass unnoticed.

The file format is described at the top of tests/test_torch_ref.c.
"""
import math
import os
import subprocess
import sys
import tempfile

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    raise SystemExit("gen_torch_fixtures.py: no torch in this Python; run it with /usr/bin/python3")

DROPOUT_P = 0.3  # b_dropout in tests/cases.c


def dropout_ref(x, nabla_out):
    """x * mask / (1 - p) with the mask read from nabla's output (see the module docstring)."""
    if nabla_out is None:
        raise SystemExit("dropout: the dump holds no 'out' tensor to read the mask from")
    if not bool((x != 0).all()):
        raise SystemExit("dropout: an input element is 0, so the mask cannot be read from the output")
    mask = (nabla_out != 0).to(x.dtype)
    kept = float(mask.mean())
    if abs(kept - (1 - DROPOUT_P)) > 0.25:
        raise SystemExit(f"dropout: nabla's mask keeps {kept:.2f} of the elements, expected about {1 - DROPOUT_P}")
    return x * mask / (1 - DROPOUT_P)


RNN_LENGTHS = [3, 1, 2]  # rnn_lengths() in tests/cases.c


def recurrence(cell, xp, w_hh, b_hh, h0, c0=None, lengths=None, reverse=False, b_ih=None):
    """nb_rnn_seq / nb_lstm_seq through PyTorch's own cells: xp holds x W_ih^T, so the cell is
    given an identity W_ih (and b_ih, zero when None). At and past a sample's length the state is
    carried (torch.where), so the last step holds the final state. -> (N, T, H) or (2, N, T, H)."""
    N, T, GH = xp.shape
    eye = torch.eye(GH, dtype=xp.dtype)
    zero = torch.zeros(GH, dtype=xp.dtype)
    b_ih = zero if b_ih is None else b_ih
    b_hh = zero if b_hh is None else b_hh
    h0 = torch.zeros(N, w_hh.shape[1], dtype=xp.dtype) if h0 is None else h0
    h, c = h0, c0
    hs, cs = [None] * T, [None] * T
    for t in (reversed(range(T)) if reverse else range(T)):
        real = torch.tensor([lengths is None or t < lengths[n] for n in range(N)]).unsqueeze(1)
        if cell == "lstm":
            hn, cn = torch.lstm_cell(xp[:, t], (h, c), eye, w_hh, b_ih, b_hh)
            c = torch.where(real, cn, c)
        elif cell == "gru":
            hn = torch.gru_cell(xp[:, t], h, eye, w_hh, b_ih, b_hh)
        elif cell == "relu":
            hn = torch.rnn_relu_cell(xp[:, t], h, eye, w_hh, b_ih, b_hh)
        else:
            hn = torch.rnn_tanh_cell(xp[:, t], h, eye, w_hh, b_ih, b_hh)
        h = torch.where(real, hn, h)
        hs[t], cs[t] = h, c
    out = torch.stack(hs, 1)
    return torch.stack([out, torch.stack(cs, 1)]) if cell == "lstm" else out


def bn_running(C):
    """The running statistics b_bn_* in tests/cases.c pass (fixed, exact in float32)."""
    rm = torch.tensor([0.125 * (c % 5) - 0.25 for c in range(C)], dtype=torch.float64)
    rv = torch.tensor([0.5 + 0.25 * (c % 4) for c in range(C)], dtype=torch.float64)
    return rm, rv


def bn(x, w, b, track, training):
    """bn() of tests/cases.c: momentum 0.1, eps 1e-5."""
    rm, rv = bn_running(x.shape[1]) if track else (None, None)
    return F.batch_norm(x, rm, rv, weight=w, bias=b, training=training, momentum=0.1, eps=1e-5)


def layer_norm(x, w=None, b=None):
    """b_layer_norm / b_layer_norm_plain of tests/cases.c: over the last axis, eps 1e-5."""
    return F.layer_norm(x, x.shape[-1:], w, b, eps=1e-5)


ATTN_LENGTHS = {"attention_lengths": [5, 1, 3], "attention_causal_lengths": [4, 2]}  # attn_lengths()


def attention(q, k, v, lengths=None, causal=False, scale=None):
    """nb_attention (torch 1.13 has no F.scaled_dot_product_attention):
    softmax(scale * q k^T + mask) v, the mask -inf for keys j >= lengths[n] and, causal, j > i."""
    N, _, Tq, Dh = q.shape
    Tk = k.shape[2]
    scale = 1.0 / math.sqrt(Dh) if scale is None else scale
    s = (q @ k.transpose(-2, -1)) * scale
    mask = torch.zeros(N, 1, Tq, Tk, dtype=torch.bool)
    if lengths is not None:
        mask |= (torch.arange(Tk)[None, :] >= torch.tensor(lengths)[:, None])[:, None, None, :]
    if causal:
        mask |= torch.ones(Tq, Tk, dtype=torch.bool).triu(1)
    return F.softmax(s.masked_fill(mask, float("-inf")), dim=-1) @ v


# Case name -> function of the input list (None for a NULL input), mirroring tests/cases.c.
REF = {
    "add_broadcast": lambda x: x[0] + x[1],
    "sub": lambda x: x[0] - x[1],
    "sub_view": lambda x: x[0].transpose(0, 1) - x[1],
    "mul_broadcast": lambda x: x[0] * x[1],
    "div": lambda x: x[0] / x[1],
    "scale": lambda x: x[0] * -1.5,
    "add_scalar": lambda x: x[0] + 0.75,
    "neg": lambda x: -x[0],
    "exp": lambda x: torch.exp(x[0]),
    "log": lambda x: torch.log(x[0]),
    "sqrt": lambda x: torch.sqrt(x[0]),
    "pow": lambda x: torch.pow(x[0], 2.5),
    "abs": lambda x: torch.abs(x[0]),
    "relu": lambda x: F.relu(x[0]),
    "leaky_relu": lambda x: F.leaky_relu(x[0], 0.1),
    "leaky_relu_02": lambda x: F.leaky_relu(x[0], 0.2),
    "sigmoid": lambda x: torch.sigmoid(x[0]),
    "tanh": lambda x: torch.tanh(x[0]),
    "gelu": lambda x: F.gelu(x[0]),  # exact erf form (approximate="none")
    "matmul": lambda x: x[0] @ x[1],
    "matmul_batched": lambda x: x[0] @ x[1],
    "matmul_shared": lambda x: x[0] @ x[1],
    "matmul_transposed": lambda x: x[0].transpose(0, 1) @ x[1].transpose(0, 1),
    "linear": lambda x: F.linear(x[0], x[1], x[2]),
    "linear_view_nobias": lambda x: F.linear(x[0].transpose(0, 1), x[1]),
    "reshape": lambda x: x[0].reshape(4, -1),
    "reshape_view": lambda x: x[0].transpose(0, 2).reshape(-1, 6),
    "permute": lambda x: x[0].permute(2, 0, 1),
    "slice_step": lambda x: x[0][:, 1:5:2],
    "slice_negative": lambda x: x[0][:, -3:100:1],  # axis -1 of a 2-d input
    "broadcast_to": lambda x: x[0].expand(2, 3, 4),
    "contiguous": lambda x: x[0].transpose(0, 1).contiguous(),
    "concat": lambda x: torch.cat([x[0], x[1], x[2]], dim=1),
    "sum_axis_keepdim": lambda x: x[0].sum(dim=1, keepdim=True),  # nb_sum(x, 1, true)
    "sum_all": lambda x: x[0].sum(),  # NB_ALL_AXES: 0-d
    "sum_view": lambda x: x[0].transpose(0, 2).sum(dim=(0, 2)),  # nb_sum_axes {0, 2}
    "mean_axes": lambda x: x[0].mean(dim=(0, -1)),
    "max_axis": lambda x: torch.max(x[0], dim=1).values,
    "max_all": lambda x: torch.max(x[0]),
    "softmax": lambda x: F.softmax(x[0], dim=1),
    "log_softmax": lambda x: F.log_softmax(x[0], dim=-1),
    "conv2d_groups": lambda x: F.conv2d(x[0], x[1], x[2], stride=(2, 1), padding=(1, 1),
                                        dilation=(1, 2), groups=2),
    "conv2d_nobias": lambda x: F.conv2d(x[0], x[1], x[2]),
    "conv_transpose2d": lambda x: F.conv_transpose2d(x[0], x[1], x[2], stride=(2, 2), padding=(1, 0),
                                                     output_padding=(1, 0), groups=2, dilation=(1, 1)),
    "convt2d_k4s2p1": lambda x: F.conv_transpose2d(x[0], x[1], None, stride=2, padding=1),
    "convt2d_k3s2p1_op1": lambda x: F.conv_transpose2d(x[0], x[1], x[2], stride=2, padding=1,
                                                       output_padding=1),
    "convt2d_k7_from_1x1": lambda x: F.conv_transpose2d(x[0], x[1], None, stride=1, padding=0),
    "max_pool2d": lambda x: F.max_pool2d(x[0], kernel_size=2, stride=2, padding=0),
    "max_pool2d_pad": lambda x: F.max_pool2d(x[0], kernel_size=3, stride=2, padding=1),
    "avg_pool2d": lambda x: F.avg_pool2d(x[0], kernel_size=3, stride=2, padding=1),  # count_include_pad
    "dropout": None,  # special: see dropout_ref
    "bn_train_2d": lambda x: bn(x[0], x[1], x[2], True, True),
    "bn_train_4d": lambda x: bn(x[0], x[1], x[2], True, True),
    "bn_train_4d_noaffine": lambda x: bn(x[0], None, None, False, True),
    "bn_train_2d_gamma_only": lambda x: bn(x[0], x[1], None, True, True),
    "bn_eval_4d": lambda x: bn(x[0], x[1], x[2], True, False),
    "bn_eval_2d_noaffine": lambda x: bn(x[0], None, None, True, False),
    "bn_eval_4d_beta_only": lambda x: bn(x[0], None, x[1], True, False),
    "bn_train_4d_7x7": lambda x: bn(x[0], x[1], x[2], True, True),
    "embedding": lambda x: F.embedding(x[1], x[0]),
    "rnn_tanh": lambda x: recurrence("tanh", *x[:4], lengths=RNN_LENGTHS),
    "rnn_tanh_rev": lambda x: recurrence("tanh", *x[:4], lengths=RNN_LENGTHS, reverse=True),
    "rnn_relu": lambda x: recurrence("relu", *x[:4]),
    "gru": lambda x: recurrence("gru", *x[:4], lengths=RNN_LENGTHS),
    "gru_rev": lambda x: recurrence("gru", *x[:4], lengths=RNN_LENGTHS, reverse=True),
    "lstm": lambda x: recurrence("lstm", *x[:5], lengths=RNN_LENGTHS),
    "lstm_rev": lambda x: recurrence("lstm", *x[:5], lengths=RNN_LENGTHS, reverse=True),
    "gru_bih": lambda x: recurrence("gru", x[0], x[1], x[3], None, lengths=RNN_LENGTHS, b_ih=x[2]),
    "lstm_full": lambda x: recurrence("lstm", x[0], x[1], None, x[3], x[4], b_ih=x[2]),
    "nll_loss": lambda x: F.nll_loss(x[0], x[1]),
    "cross_entropy": lambda x: F.cross_entropy(x[0], x[1]),
    "mse_loss": lambda x: F.mse_loss(x[0], x[1]),
    "bce_loss": lambda x: F.binary_cross_entropy(x[0], x[1]),  # logs clamped at -100
    "bce_with_logits": lambda x: F.binary_cross_entropy_with_logits(x[0], x[1]),
    # composite cases: views composed with ops
    "perm_bcast_sum": lambda x: x[0].expand(2, 3, 5, 4).permute(3, 1, 0, 2).sum(dim=(1, 2)),
    "perm_bcast_mul": lambda x: x[0].expand(2, 4, 3).permute(2, 0, 1) * x[1],
    "slice_slice_mul": lambda x: x[0][:, 1:9:2][:, -3:100:2][-4:-1:2] * x[1],
    "matmul_slice_t": lambda x: x[0][0:5:2].transpose(0, 1) @ x[1][:, 1:6],
    "matmul_batched_perm": lambda x: x[0].permute(1, 0, 2) @ x[1].permute(1, 2, 0),
    "matmul_x_xt": lambda x: x[0] @ x[0].transpose(1, 2),
    "softmax_reshape_perm": lambda x: F.softmax(x[0].permute(2, 0, 1).reshape(4, 6), dim=1),
    "log_softmax_reshaped": lambda x: F.log_softmax(x[0].transpose(0, 1).reshape(2, -1, 2),
                                                    dim=1),
    "concat_views_mean": lambda x: torch.cat([x[0][:, 1:5:2], x[1].transpose(0, 1)],
                                             dim=1).mean(dim=0),
    "views_twice": lambda x: x[0] * x[0].transpose(0, 1) + x[0][1:2].expand(4, 4),
    "conv2d_nhwc": lambda x: F.conv2d(x[0].permute(0, 3, 1, 2), x[1], x[2], padding=1),
    "max_pool2d_slice": lambda x: F.max_pool2d(x[0][:, :, -6:100][..., 0:9:2], kernel_size=2,
                                               stride=2),
    "bcast_sum_div": lambda x: (x[0] * x[1]).sum(dim=1, keepdim=True) / x[2],
    "bcast_normalize": lambda x: (x[0] * x[1]) / (x[0] * x[1]).sum(dim=1, keepdim=True),
    # transformer ops (issue 12)
    "layer_norm_2d": lambda x: layer_norm(*x),
    "layer_norm_3d": lambda x: layer_norm(*x),
    "layer_norm_2d_noaffine": lambda x: layer_norm(x[0]),
    "layer_norm_3d_noaffine": lambda x: layer_norm(x[0]),
    "attention": lambda x: attention(*x),
    "attention_lengths": lambda x: attention(*x, lengths=ATTN_LENGTHS["attention_lengths"]),
    "attention_causal": lambda x: attention(*x, causal=True, scale=0.3),
    "attention_causal_lengths": lambda x: attention(*x, lengths=ATTN_LENGTHS["attention_causal_lengths"],
                                                    causal=True),
    "convt_bn_train": lambda x: bn(F.conv_transpose2d(x[0], x[1]), x[2], x[3], True, True),
}


def parse_dump(path):
    """[(name, {label: (header_line, values_line) or None})] in file order."""
    with open(path) as f:
        lines = f.read().split("\n")
    cases, i = [], 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line.strip() or line.startswith("#"):
            continue
        word = line.split()
        if word[0] == "case" and len(word) == 2:
            cases.append((word[1], {}))
        elif word[0] == "none" and len(word) == 2 and cases:
            cases[-1][1][word[1]] = None
        elif word[0] == "tensor" and len(word) >= 4 and cases and i < len(lines):
            cases[-1][1][word[1]] = (line, lines[i])
            i += 1
        else:
            raise SystemExit(f"{path}:{i}: unexpected line {line[:80]!r}")
    return cases


def to_torch(entry):
    header, values = entry
    word = header.split()
    dtype, ndim = word[2], int(word[3])
    shape = [int(d) for d in word[4:4 + ndim]]
    if dtype == "i64":
        return torch.tensor([int(v) for v in values.split()], dtype=torch.long).reshape(shape)
    # Through float32 first: the exact values nabla holds; then float64 for the reference.
    t = torch.tensor([float(v) for v in values.split()], dtype=torch.float32).reshape(shape)
    return t.double()


def fmt(label, t):
    t = t.detach().contiguous()
    head = f"tensor {label} f32 {t.dim()}" + "".join(f" {d}" for d in t.shape)
    return head + "\n" + " ".join("%.9g" % v for v in t.reshape(-1).tolist()) + "\n"


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    exe, dest = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory() as tmp:
        dump_path = os.path.join(tmp, "dump.txt")
        subprocess.run([exe, "--dump", dump_path], check=True)
        cases = parse_dump(dump_path)

    names = [name for name, _ in cases]
    missing = [n for n in names if n not in REF]
    if missing:
        raise SystemExit(f"no torch reference for the case(s) {', '.join(missing)}: add them to REF")
    stale = [n for n in REF if n not in names]
    if stale:
        raise SystemExit(f"REF has case(s) no longer in tests/cases.c: {', '.join(stale)}")

    major, minor = torch.__version__.split(".")[:2]
    out_lines = [f"# generated by tests/gen_torch_fixtures.py from PyTorch {major}.{minor}; do not edit\n"]
    for name, tensors in cases:
        labels = sorted((l for l in tensors if l.startswith("in")), key=lambda l: int(l[2:]))
        if labels != [f"in{k}" for k in range(len(labels))] or "w" not in tensors:
            raise SystemExit(f"{name}: the dump should hold in0..inN and w")
        xs = [None if tensors[l] is None else to_torch(tensors[l]) for l in labels]
        for x in xs:
            if x is not None and x.is_floating_point():
                x.requires_grad_(True)
        if name == "dropout":
            nabla_out = to_torch(tensors["out"]) if "out" in tensors else None
            y = dropout_ref(xs[0], nabla_out)
        else:
            y = REF[name](xs)
        w = to_torch(tensors["w"])
        if tuple(y.shape) != tuple(w.shape):
            raise SystemExit(f"{name}: torch output shape {tuple(y.shape)} != nabla's {tuple(w.shape)}")
        y.backward(w)
        block = [f"case {name}\n"]
        for l in labels:
            block.append(f"none {l}\n" if tensors[l] is None else tensors[l][0] + "\n" + tensors[l][1] + "\n")
        block.append(tensors["w"][0] + "\n" + tensors["w"][1] + "\n")
        block.append(fmt("out", y))
        for k, x in enumerate(xs):
            if x is not None and x.is_floating_point():
                if x.grad is None:
                    raise SystemExit(f"{name}: torch gave no gradient for in{k}")
                block.append(fmt(f"grad{k}", x.grad))
        out_lines.extend(block)

    os.makedirs(os.path.dirname(os.path.abspath(dest)), exist_ok=True)
    with open(dest, "w") as f:
        f.writelines(out_lines)
    print(f"wrote {dest}: {len(cases)} cases from PyTorch {torch.__version__}")


if __name__ == "__main__":
    main()
