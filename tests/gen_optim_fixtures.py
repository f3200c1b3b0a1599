#!/usr/bin/python3
"""Writes tests/fixtures/optim.txt: PyTorch reference trajectories for tests/test_optim.c.

Usage (Debian's python3-torch lives under /usr/bin/python3, not the python3 on PATH):
    /usr/bin/python3 tests/gen_optim_fixtures.py tests/fixtures/optim.txt

Every input (initial values, gradients, hyperparameters) is drawn here, rounded to float32 and
written with %.9g, so nabla reads back exactly the float32 values PyTorch used. PyTorch then runs
in float64 on those values: the reference is the exact trajectory, and the C test measures how
far nabla's float32 arithmetic strays from it. Hyperparameters are float32-rounded too (nabla's
options are floats: its beta2 = 0.999f is not Python's 0.999).

File format: '#' lines are comments. A case starts with "case NAME KIND key=value ...", followed
by tensors: a line "tensor LABEL NDIM D0 D1 ..." and one line of its values in row-major order.
Kinds and their tensors:
  sgd, adam, adamw, rmsprop   three parameters of shapes PARAM_SHAPES, flattened one after the
        other (P values): init (P), grads (STEPS, P), params (STEPS, P) after each step, and
        state.NAME (P) for each optimizer state after the last step (torch's state names).
  sched   keys sched (step, cosine or constant), base, step_size, gamma, t_max, eta_min, warmup;
        lr (E): the rate for epochs 0..E-1 (torch's StepLR / CosineAnnealingLR, with a linear
        warm-up in front as LinearLR(start_factor=1/warmup, total_iters=warmup-1), checked
        against the formula base*(e+1)/warmup).
  clip    key max_norm; grads (P), norm (1) returned by clip_grad_norm_, clipped (P).
  bn      keys momentum, eps; x1, x2 (N, C, ...), gamma, beta, rm0, rv0 (C): the running stats
        before; rm, rv after F.batch_norm(training=True) on x1 then x2; eval_out: F.batch_norm
        of x1 with the updated running stats, not training.
"""
import math
import sys

try:
    import numpy as np
    import torch
    import torch.nn.functional as F
except ImportError:
    raise SystemExit("gen_optim_fixtures.py: no torch in this Python; run it with /usr/bin/python3")

PARAM_SHAPES = [(3,), (2, 2), (1,)]  # tests/test_optim.c makes the same parameters
STEPS = 5


def f32(v):
    return float(np.float32(v))


def rounded(t):
    """A float64 tensor holding float32-rounded values."""
    return t.to(torch.float32).to(torch.float64)


def fmt(label, t):
    t = t.detach().contiguous()
    head = f"tensor {label} {t.dim()}" + "".join(f" {d}" for d in t.shape)
    return head + "\n" + " ".join("%.9g" % v for v in t.reshape(-1).tolist()) + "\n"


def header(name, kind, **kv):
    return f"case {name} {kind}" + "".join(f" {k}={v:.9g}" if isinstance(v, float) else f" {k}={v}"
                                           for k, v in kv.items()) + "\n"


def optim_case(gen, name, kind, **hp):
    hp = {k: (f32(v) if isinstance(v, float) else v) for k, v in hp.items()}
    P = sum(math.prod(s) for s in PARAM_SHAPES)
    # Initial values away from 0 (so relative errors mean something), gradients in [-1, 1).
    sign = torch.where(torch.rand(P, generator=gen, dtype=torch.float64) < 0.5, -1.0, 1.0)
    init = rounded(sign * (0.5 + torch.rand(P, generator=gen, dtype=torch.float64)))
    grads = rounded(2 * torch.rand(STEPS, P, generator=gen, dtype=torch.float64) - 1)
    params, off = [], 0
    for s in PARAM_SHAPES:
        n = math.prod(s)
        params.append(init[off:off + n].clone().reshape(s).requires_grad_(True))
        off += n
    if kind == "sgd":
        opt = torch.optim.SGD(params, lr=hp["lr"], momentum=hp["momentum"],
                              weight_decay=hp["weight_decay"], nesterov=bool(hp["nesterov"]))
    elif kind in ("adam", "adamw"):
        cls = torch.optim.Adam if kind == "adam" else torch.optim.AdamW
        opt = cls(params, lr=hp["lr"], betas=(hp["beta1"], hp["beta2"]), eps=hp["eps"],
                  weight_decay=hp["weight_decay"])
    else:
        opt = torch.optim.RMSprop(params, lr=hp["lr"], alpha=hp["alpha"], eps=hp["eps"],
                                  weight_decay=hp["weight_decay"], momentum=hp["momentum"],
                                  centered=bool(hp["centered"]))
    traj = []
    for k in range(STEPS):
        off = 0
        for p in params:
            n = p.numel()
            p.grad = grads[k, off:off + n].clone().reshape(p.shape)
            off += n
        opt.step()
        traj.append(torch.cat([p.detach().reshape(-1) for p in params]))
    out = [header(name, kind, **hp), fmt("init", init), fmt("grads", grads),
           fmt("params", torch.stack(traj))]
    names = [k for k, v in opt.state[params[0]].items() if k != "step" and v is not None]
    for sname in names:
        out.append(fmt("state." + sname,
                       torch.cat([opt.state[p][sname].reshape(-1) for p in params])))
    return out


def torch_lrs(base, make, epochs):
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=base)
    sched = make(opt)
    lrs = []
    for _ in range(epochs):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return lrs


def sched_case(name, sched, base, epochs, step_size=0, gamma=0.0, t_max=0, eta_min=0.0, warmup=0):
    base, gamma, eta_min = f32(base), f32(gamma), f32(eta_min)
    L = torch.optim.lr_scheduler
    if sched == "step":
        main = torch_lrs(base, lambda o: L.StepLR(o, step_size=step_size, gamma=gamma), epochs)
    elif sched == "cosine":
        main = torch_lrs(base, lambda o: L.CosineAnnealingLR(o, T_max=t_max, eta_min=eta_min),
                         epochs)
    else:
        main = [base] * epochs
    lrs = main[:epochs - warmup]
    if warmup:
        warm = torch_lrs(base, lambda o: L.LinearLR(o, start_factor=1.0 / warmup, end_factor=1.0,
                                                    total_iters=max(warmup - 1, 1)), warmup)
        formula = [base * (e + 1) / warmup for e in range(warmup)]
        if warmup > 1 and max(abs(a - b) for a, b in zip(warm, formula)) > 1e-12 * base:
            raise SystemExit(f"{name}: LinearLR {warm} disagrees with the formula {formula}")
        lrs = formula + lrs
    return [header(name, "sched", sched=sched, base=base, step_size=step_size, gamma=gamma,
                   t_max=t_max, eta_min=eta_min, warmup=warmup),
            fmt("lr", torch.tensor(lrs, dtype=torch.float64))]


def clip_case(gen, name, max_norm, scale):
    max_norm = f32(max_norm)
    P = sum(math.prod(s) for s in PARAM_SHAPES)
    grads = rounded(scale * (2 * torch.rand(P, generator=gen, dtype=torch.float64) - 1))
    params, off = [], 0
    for s in PARAM_SHAPES:
        n = math.prod(s)
        p = torch.zeros(s, dtype=torch.float64, requires_grad=True)
        p.grad = grads[off:off + n].clone().reshape(s)
        params.append(p)
        off += n
    norm = torch.nn.utils.clip_grad_norm_(params, max_norm)
    clipped = torch.cat([p.grad.reshape(-1) for p in params])
    return [header(name, "clip", max_norm=max_norm), fmt("grads", grads),
            fmt("norm", norm.reshape(1)), fmt("clipped", clipped)]


def bn_case(gen, name, shape, momentum, eps):
    momentum, eps = f32(momentum), f32(eps)
    C = shape[1]

    def draw(*s, lo=-1.0, hi=1.0):
        return rounded(lo + (hi - lo) * torch.rand(*s, generator=gen, dtype=torch.float64))

    x1, x2 = draw(*shape, lo=-2.0, hi=3.0), draw(*shape, lo=-1.0, hi=1.0)
    gamma, beta = draw(C, lo=0.5, hi=1.5), draw(C)
    rm0, rv0 = draw(C), draw(C, lo=0.5, hi=2.0)
    rm, rv = rm0.clone(), rv0.clone()
    F.batch_norm(x1, rm, rv, gamma, beta, training=True, momentum=momentum, eps=eps)
    F.batch_norm(x2, rm, rv, gamma, beta, training=True, momentum=momentum, eps=eps)
    eval_out = F.batch_norm(x1, rm, rv, gamma, beta, training=False, momentum=momentum, eps=eps)
    return [header(name, "bn", momentum=momentum, eps=eps), fmt("x1", x1), fmt("x2", x2),
            fmt("gamma", gamma), fmt("beta", beta), fmt("rm0", rm0), fmt("rv0", rv0),
            fmt("rm", rm), fmt("rv", rv), fmt("eval_out", eval_out)]


def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    dest = sys.argv[1]
    gen = torch.Generator().manual_seed(20240611)
    major, minor = torch.__version__.split(".")[:2]
    out = [f"# generated by tests/gen_optim_fixtures.py from PyTorch {major}.{minor}; "
           "do not edit\n"]
    sgd = dict(lr=0.1, momentum=0.0, weight_decay=0.0, nesterov=0)
    out += optim_case(gen, "sgd_plain", "sgd", **sgd)
    out += optim_case(gen, "sgd_momentum", "sgd", **{**sgd, "lr": 0.05, "momentum": 0.9})
    out += optim_case(gen, "sgd_nesterov_wd", "sgd",
                      **{**sgd, "lr": 0.05, "momentum": 0.9, "nesterov": 1, "weight_decay": 0.01})
    out += optim_case(gen, "sgd_momentum_wd", "sgd",
                      **{**sgd, "lr": 0.2, "momentum": 0.5, "weight_decay": 0.1})
    adam = dict(lr=0.01, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0)
    out += optim_case(gen, "adam", "adam", **adam)
    out += optim_case(gen, "adam_wd", "adam",
                      **{**adam, "beta1": 0.8, "beta2": 0.99, "eps": 1e-6, "weight_decay": 0.1})
    out += optim_case(gen, "adamw", "adamw", **{**adam, "weight_decay": 0.1})
    out += optim_case(gen, "adamw_lr", "adamw", **{**adam, "lr": 0.1, "weight_decay": 0.5})
    rms = dict(lr=0.01, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=0)
    out += optim_case(gen, "rmsprop", "rmsprop", **rms)
    out += optim_case(gen, "rmsprop_momentum", "rmsprop", **{**rms, "momentum": 0.9})
    out += optim_case(gen, "rmsprop_centered", "rmsprop", **{**rms, "centered": 1, "eps": 1e-6})
    out += optim_case(gen, "rmsprop_wd", "rmsprop", **{**rms, "weight_decay": 0.05})
    out += optim_case(gen, "rmsprop_all", "rmsprop",
                      **{**rms, "alpha": 0.9, "momentum": 0.5, "centered": 1, "weight_decay": 0.05})
    out += sched_case("sched_step", "step", 0.1, 12, step_size=3, gamma=0.5)
    out += sched_case("sched_step_1", "step", 0.3, 6, step_size=1, gamma=0.9)
    out += sched_case("sched_cosine", "cosine", 0.1, 14, t_max=5, eta_min=0.001)
    out += sched_case("sched_cosine_0", "cosine", 0.05, 9, t_max=4)
    out += sched_case("sched_warmup_step", "step", 0.1, 12, step_size=4, gamma=0.1, warmup=3)
    out += sched_case("sched_warmup_cosine", "cosine", 0.2, 15, t_max=10, eta_min=0.01, warmup=5)
    out += sched_case("sched_warmup_constant", "constant", 0.01, 6, warmup=4)
    out += clip_case(gen, "clip_active", 1.0, 2.0)
    out += clip_case(gen, "clip_inactive", 100.0, 1.0)
    out += bn_case(gen, "bn_running_4d", (4, 3, 2, 3), 0.1, 1e-5)
    out += bn_case(gen, "bn_running_2d", (5, 4), 0.3, 1e-3)
    with open(dest, "w") as f:
        f.writelines(out)
    print(f"wrote {dest} from PyTorch {torch.__version__}")


if __name__ == "__main__":
    main()
