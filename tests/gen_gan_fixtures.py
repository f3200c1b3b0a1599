#!/usr/bin/python3
"""Writes tests/fixtures/gan/: PyTorch's forward and backward of the zoo's DCGAN generator and
discriminator and of the conv-autoencoder's encoder/decoder pair on 28x28 images, for
tests/test_gan_torch.c to match with nabla's layers (ConvTranspose2d, BatchNorm2d in training
and evaluation, LeakyReLU(0.2), Flatten, Unflatten).

Usage (Debian's python3-torch lives under /usr/bin/python3, not the python3 on PATH; not run in
CI, its output is committed):
    /usr/bin/python3 tests/gen_gan_fixtures.py

The models, as nn.Sequential (children "0", "1", ..., so the state_dict names are nabla's):
  generator      z (N, 64) -> Unflatten(1, (64, 1, 1)) -> ConvTranspose2d(64, 64, 7, 1, 0, bias=False)
                 -> BatchNorm2d(64) -> ReLU (7x7) -> ConvTranspose2d(64, 32, 4, 2, 1, bias=False)
                 -> BatchNorm2d(32) -> ReLU (14x14) -> ConvTranspose2d(32, 1, 4, 2, 1, bias=False)
                 -> Tanh (N, 1, 28, 28)
  discriminator  x (N, 1, 28, 28) -> Conv2d(1, 32, 4, 2, 1, bias=False) -> LeakyReLU(0.2) (14x14)
                 -> Conv2d(32, 64, 4, 2, 1, bias=False) -> BatchNorm2d(64) -> LeakyReLU(0.2) (7x7)
                 -> Conv2d(64, 1, 7, 1, 0, bias=False) (N, 1, 1, 1) -> Flatten (N, 1)
  autoencoder    a module with two Sequentials: encoder Conv2d(1, 16, 3, 2, 1) -> ReLU (14x14) ->
                 Conv2d(16, 32, 3, 2, 1) -> ReLU (7x7); decoder ConvTranspose2d(32, 16, 3, 2, 1,
                 output_padding=1) -> ReLU (14x14) -> ConvTranspose2d(16, 1, 3, 2, 1,
                 output_padding=1) -> Sigmoid (28x28); names encoder.0.weight, decoder.2.bias, ...
(The zoo's dcgan builds its generator and discriminator the same way, src/nn/zoo_gen.c.)
Weights: He-normal for the fan each output sees (he_init; larger than DCGAN's N(0, 0.02), so the
nonlinearities are exercised and every BatchNorm sees activations of unit variance); biases
PyTorch's default; every BatchNorm's weight, bias, running statistics and num_batches_tracked are
set to values other than their defaults, so that loading them matters.

Files written per case (deterministic: torch.manual_seed per case, one thread):
  <case>.state.safetensors  the module's state_dict and nothing else (nabla loads it strictly)
  <case>.safetensors        inputs, loss weights and PyTorch's results; metadata (strings):
                            "model" (generator, discriminator, autoencoder) and "phases", the
                            comma-separated phases in the order they ran on the one module, and
                            per phase P: "P.mode" (train or eval), "P.input" (the input tensor's
                            name) and "P.loss":
      wsum  sum(P.w_out * out), P.w_out fixed weights k/8, k in -8..8
      bce   nn.BCEWithLogitsLoss()(out, P.target) (mean)
      mse   nn.MSELoss()(out, input): the input is also the target, so its gradient has both parts
    tensors per phase P:
      P.out               the output;  P.loss (0-d) the loss for bce and mse
      P.grad.<input>      the gradient of the loss with respect to the input
      P.grad.<param>      ... and to every parameter (gradients are zeroed before each phase)
      P.after.<buffer>    every buffer (running_mean, running_var F32, num_batches_tracked I64)
                          after the phase's forward
  cases.txt                 the case names, one a line, in the order the test runs them
Phases run one after another on the same module, so an eval phase uses the running statistics
the training phase before it left. The parameters and inputs are float32 values; forward and
backward run in float64 and the results are rounded to float32, so the fixtures are PyTorch's
numbers without float32 rounding (the script prints how far torch's own float32 run is from
them). Tensors are written by gen_pt_weights.save_st (safetensors.torch.save_file's layout).
"""
import os
import sys

try:
    import torch
    import torch.nn as nn
except ImportError:
    raise SystemExit("gen_gan_fixtures.py: no torch in this Python; run it with /usr/bin/python3")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_pt_weights import save_st  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "gan")
N, Z = 5, 64


def generator():
    return nn.Sequential(
        nn.Unflatten(1, (Z, 1, 1)),
        nn.ConvTranspose2d(Z, 64, 7, 1, 0, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
        nn.ConvTranspose2d(64, 32, 4, 2, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
        nn.ConvTranspose2d(32, 1, 4, 2, 1, bias=False), nn.Tanh())


def discriminator():
    return nn.Sequential(
        nn.Conv2d(1, 32, 4, 2, 1, bias=False), nn.LeakyReLU(0.2),
        nn.Conv2d(32, 64, 4, 2, 1, bias=False), nn.BatchNorm2d(64), nn.LeakyReLU(0.2),
        nn.Conv2d(64, 1, 7, 1, 0, bias=False), nn.Flatten())


class Autoencoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Conv2d(1, 16, 3, 2, 1), nn.ReLU(), nn.Conv2d(16, 32, 3, 2, 1), nn.ReLU())
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(32, 16, 3, 2, 1, output_padding=1), nn.ReLU(),
            nn.ConvTranspose2d(16, 1, 3, 2, 1, output_padding=1), nn.Sigmoid())

    def forward(self, x):
        return self.decoder(self.encoder(x))


MODELS = {"generator": generator, "discriminator": discriminator, "autoencoder": Autoencoder}


def loss_weights(shape, salt):
    """Fixed weights of the loss: k/8 for k in -8..8, a different pattern per phase."""
    n = 1
    for s in shape:
        n *= s
    i = torch.arange(n, dtype=torch.float64)
    return (((i * (37 + 4 * salt) + 5 * salt) % 17) - 8).div(8).reshape(shape)


def he_init(mod):
    """Convolution weights N(0, 2/fan), fan the inputs one output sums (a transposed convolution's
    is in_channels * k * k / stride^2): activations of unit size, so that the batch statistics,
    not the old running values, dominate the running statistics' update (PyTorch's default
    initialization leaves the generator's first BatchNorm inputs a variance near 0.007)."""
    with torch.no_grad():
        for m in mod.modules():
            if isinstance(m, nn.ConvTranspose2d):
                fan = m.in_channels * m.kernel_size[0] * m.kernel_size[1] / (m.stride[0] * m.stride[1])
            elif isinstance(m, nn.Conv2d):
                fan = m.in_channels * m.kernel_size[0] * m.kernel_size[1]
            else:
                continue
            m.weight.normal_(0, (2 / fan) ** 0.5)


def perturb_batchnorms(mod):
    """BatchNorm weight, bias, running statistics and counter away from their defaults."""
    with torch.no_grad():
        for m in mod.modules():
            if isinstance(m, nn.BatchNorm2d):
                c = m.num_features
                m.weight.copy_(torch.rand(c) + 0.5)
                m.bias.copy_(torch.rand(c) - 0.5)
                m.running_mean.copy_(torch.randn(c) * 0.3)
                m.running_var.copy_(torch.rand(c) * 1.5 + 0.5)
                m.num_batches_tracked.fill_(7)


def run(model, sd, inputs, phases, dtype):
    """Runs the phases on one module in dtype; -> {name: tensor} of the results."""
    m = MODELS[model]().to(dtype)
    m.load_state_dict({k: (v.to(dtype) if v.is_floating_point() else v) for k, v in sd.items()})
    res = {}
    for p in phases:
        name = p["name"]
        m.train(p["mode"] == "train")
        m.zero_grad(set_to_none=False)
        x = inputs[p["input"]].to(dtype).detach().clone().requires_grad_()  # a fresh leaf per phase
        y = m(x)
        if p["loss"] == "wsum":
            loss = (inputs[name + ".w_out"].to(dtype) * y).sum()
        elif p["loss"] == "bce":
            loss = nn.BCEWithLogitsLoss()(y, inputs[p["target"]].to(dtype))
            res[name + ".loss"] = loss
        else:
            loss = nn.MSELoss()(y, x)
            res[name + ".loss"] = loss
        res[name + ".out"] = y
        # the buffers as the forward left them (backward changes none)
        for k, b in m.named_buffers():
            res[name + ".after." + k] = b.clone()
        loss.backward()
        res[name + ".grad." + p["input"]] = x.grad
        for k, q in m.named_parameters():
            res[name + ".grad." + k] = q.grad.clone()
    return res


def case(name, seed, model, inputs_fn, phases):
    torch.manual_seed(seed)
    mod = MODELS[model]()  # PyTorch's own init for the biases, float32
    he_init(mod)
    perturb_batchnorms(mod)
    sd = {k: v.detach().clone() for k, v in mod.state_dict().items()}
    inputs = inputs_fn()
    for p in phases:
        if p["loss"] == "wsum":  # the output's shape, from one float32 forward without side effects
            m = MODELS[model]()
            m.load_state_dict(sd)
            m.eval()
            with torch.no_grad():
                shape = m(inputs[p["input"]]).shape
            inputs[p["name"] + ".w_out"] = loss_weights(shape, len(inputs)).float()
    ref = run(model, sd, inputs, phases, torch.float64)
    f32 = run(model, sd, inputs, phases, torch.float32)
    worst = max(float(((ref[k] - f32[k].double()).abs() / ref[k].abs().clamp(min=1)).max()) for k in ref
                if ref[k].is_floating_point())

    save_st(sd, os.path.join(OUT, name + ".state.safetensors"), {"format": "pt"})
    t = dict(inputs)
    for k, v in ref.items():
        t[k] = v.detach().float() if v.is_floating_point() else v.detach()
    meta = {"format": "pt", "model": model, "phases": ",".join(p["name"] for p in phases)}
    for p in phases:
        for key in ("mode", "input", "loss", "target"):
            if key in p:
                meta[p["name"] + "." + key] = p[key]
    save_st(t, os.path.join(OUT, name + ".safetensors"), meta)
    return worst


def phase(name, mode, inp, loss, target=None):
    p = {"name": name, "mode": mode, "input": inp, "loss": loss}
    if target:
        p["target"] = target
    return p


def main():
    torch.set_num_threads(1)
    os.makedirs(OUT, exist_ok=True)
    cases = [
        # (a) the generator: training (batch statistics, running statistics updated), then
        # evaluation with the running statistics the training forward left
        ("dcgan_generator", "generator",
         lambda: {"z": torch.randn(N, Z)},
         [phase("train", "train", "z", "wsum"), phase("eval", "eval", "z", "wsum")]),
        # (b) the discriminator: the same, then a second training batch through the GAN's loss
        # BCEWithLogits against labels (a second running-statistics update)
        ("dcgan_discriminator", "discriminator",
         lambda: {"x": torch.rand(N, 1, 28, 28) * 2 - 1, "x2": torch.rand(N, 1, 28, 28) * 2 - 1,
                  "labels": torch.tensor([[1.0], [0.0], [1.0], [1.0], [0.0]])},
         [phase("train", "train", "x", "wsum"), phase("eval", "eval", "x", "wsum"),
          phase("bce", "train", "x2", "bce", "labels")]),
        # (c) the conv-autoencoder end to end: MSE of the reconstruction against the input (its
        # gradients are small, a mean over 3920 pixels), and a weighted sum whose gradients are
        # of unit size, so that a small relative error shows against the absolute tolerance
        ("conv_autoencoder", "autoencoder",
         lambda: {"x": torch.rand(N, 1, 28, 28)},
         [phase("mse", "train", "x", "mse"), phase("wsum", "train", "x", "wsum")]),
    ]
    seed = 200
    for name, model, inputs_fn, phases in cases:
        seed += 1
        worst = case(name, seed, model, inputs_fn, phases)
        print("%-22s torch float32 vs float64: %.2g (|diff| / max(1, |float64|))" % (name, worst))
    with open(os.path.join(OUT, "cases.txt"), "w") as f:
        f.write("".join(c[0] + "\n" for c in cases))
    total = sum(os.path.getsize(os.path.join(OUT, n)) for n in os.listdir(OUT))
    print("%d cases, %d bytes in %s" % (len(cases), total, os.path.relpath(OUT, ROOT)))


if __name__ == "__main__":
    main()
