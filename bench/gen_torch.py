#!/usr/bin/python3
"""PyTorch side of issue 9's generative models: autoencoder, conv-autoencoder, vae, gan, dcgan.

    /usr/bin/python3 bench/gen_torch.py [--models autoencoder,...] [--data mnist|fashion-mnist]
        [--threads 1|2|1,2] [--blas-threads N] [--epochs N] [--batches N] [--seed 0|0,1,2]
        [--latent 16] [--limit-test N] [--json OUT] [--data-dir data]

Needs Debian's python3-torch (1.13; run with /usr/bin/python3) and numpy; nothing from the network.
Data: DATA_DIR/mnist or DATA_DIR/fashion-mnist, the four IDX files (gzipped or not).

Each (model, thread count, seed) trains in its own child process: torch.set_num_threads(T) and
OMP_NUM_THREADS = OPENBLAS_NUM_THREADS = T, set in the child's environment before torch is
imported (Debian's torch does its matrix products in the system OpenBLAS, BLAS_INFO=generic, whose
threads torch.set_num_threads does not limit, so that without them "1 thread" runs GEMMs on every
core); the child checks openblas_get_num_threads(). --blas-threads N gives OpenBLAS N threads apart
(`--threads 1 --blas-threads 2` is Debian torch's default behaviour at set_num_threads(1)).
torch.manual_seed(seed) before the models are built; the training order is torch.randperm each
epoch, batches of 64 with the last partial batch kept, images kept in memory as bytes and
converted per batch (as nabla's loader does). Seconds are the training loop alone (evaluation
excluded); peak RSS is the child's ru_maxrss (torch and the data included).

The models (the children are named as nabla's state_dicts, so a state_dict can be shared):
  autoencoder       encoder = Sequential(Flatten, Linear(784,256), ReLU, Linear(256,64));
                    decoder = Sequential(Linear(64,256), ReLU, Linear(256,784), Sigmoid,
                    Unflatten(1,(1,28,28))).
  conv-autoencoder  encoder = Sequential(Conv2d(1,16,3,2,1), ReLU, Conv2d(16,32,3,2,1), ReLU,
                    Flatten, Linear(1568,64)); decoder = Sequential(Linear(64,1568), ReLU,
                    Unflatten(1,(32,7,7)), ConvTranspose2d(32,16,3,2,1,output_padding=1), ReLU,
                    ConvTranspose2d(16,1,3,2,1,output_padding=1), Sigmoid).
      Both: pixels x/255 in [0,1], MSE (mean over all values), Adam 1e-3, batch 64; test MSE over
      the test set in eval mode under no_grad.
  vae               encoder = Sequential(Flatten, Linear(784,400), ReLU); fc_mu, fc_logvar =
                    Linear(400,L); decoder = Sequential(Linear(L,400), ReLU, Linear(400,784),
                    Unflatten(1,(1,28,28))) giving logits; z = mu + exp(logvar/2) * eps (drawn in
                    evaluation too, as PyTorch's VAE example does); loss = BCE-with-logits summed
                    / N + KL summed / N; Adam 1e-3, batch 64; test -ELBO, recon, kl and the MSE of
                    sigmoid(logits) against x.
  gan               generator = Sequential(Linear(64,256), ReLU, Linear(256,784), Tanh,
                    Unflatten(1,(1,28,28))); discriminator = Sequential(Flatten, Linear(784,256),
                    LeakyReLU(0.2), Linear(256,1)); default init.
  dcgan             generator = Sequential(Unflatten(1,(64,1,1)), ConvTranspose2d(64,64,7,1,0),
                    BatchNorm2d(64), ReLU, ConvTranspose2d(64,32,4,2,1), BatchNorm2d(32), ReLU,
                    ConvTranspose2d(32,1,4,2,1), Tanh); discriminator = Sequential(
                    Conv2d(1,32,4,2,1), LeakyReLU(0.2), Conv2d(32,64,4,2,1), BatchNorm2d(64),
                    LeakyReLU(0.2), Conv2d(64,1,7,1,0), Flatten); no conv biases; conv weights
                    N(0,0.02), BatchNorm weight N(1,0.02), bias 0.
      Both GANs: pixels (x/255-0.5)/0.5 in [-1,1], z ~ N(0,1) of 64, Adam 2e-4 betas (0.5,0.999)
      each. Per batch: D: zero grad, loss_d = BCEWithLogits(D(x),1) + BCEWithLogits(D(G(z).detach()),0),
      backward, step; G: zero grad, loss_g = BCEWithLogits(D(G(z)),1) (the same fake, through the
      updated D), backward, step. d_real / d_fake = mean sigmoid of D(x) / D(G(z).detach()) before
      D's update. Test: the same losses on the test images in eval mode, no updates.

Per epoch, the figures of nabla's metrics.jsonl: "seconds", "train_loss" (the mean over samples of
the batch losses; GANs d_loss + g_loss), "test_loss", and autoencoders "test_mse"; vae
"train_recon", "train_kl", "test_recon", "test_kl", "test_mse"; GANs "d_loss", "g_loss",
"d_real", "d_fake" (training means over samples), "test_d_loss", "test_g_loss".
Prints each epoch as it goes (stderr), a markdown summary (stdout) and, last, one JSON line with
every run (stdout); --json writes the same object to a file. --batches N stops each epoch after N
batches (for timing; the metrics are then not the protocol's).
"""
import argparse
import datetime
import json
import os
import resource
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from seq_data import read_idx  # noqa: E402  (numpy only)
from seq_torch import blas_threads, cpu_model  # noqa: E402  (torch is imported lazily there)

MODELS = ("autoencoder", "conv-autoencoder", "vae", "gan", "dcgan")
GANS = ("gan", "dcgan")
BATCH, Z_DIM, TEST_BATCH = 64, 64, 256


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ---- the models ---------------------------------------------------------------------------------


def build(name, latent):
    """The model (autoencoders, vae) or (generator, discriminator) (GANs), freshly initialised."""
    import torch
    from torch import nn

    class Autoencoder(nn.Module):
        def __init__(self, encoder, decoder):
            super().__init__()
            self.encoder, self.decoder = encoder, decoder

        def forward(self, x):
            return self.decoder(self.encoder(x))

    class VAE(nn.Module):
        def __init__(self, L):
            super().__init__()
            self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(784, 400), nn.ReLU())
            self.fc_mu = nn.Linear(400, L)
            self.fc_logvar = nn.Linear(400, L)
            self.decoder = nn.Sequential(nn.Linear(L, 400), nn.ReLU(), nn.Linear(400, 784), nn.Unflatten(1, (1, 28, 28)))

        def forward(self, x):
            h = self.encoder(x)
            mu, logvar = self.fc_mu(h), self.fc_logvar(h)
            z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
            return self.decoder(z), mu, logvar

    if name == "autoencoder":
        return Autoencoder(
            nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 64)),
            nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 784), nn.Sigmoid(), nn.Unflatten(1, (1, 28, 28))))
    if name == "conv-autoencoder":
        return Autoencoder(
            nn.Sequential(nn.Conv2d(1, 16, 3, 2, 1), nn.ReLU(), nn.Conv2d(16, 32, 3, 2, 1), nn.ReLU(), nn.Flatten(),
                          nn.Linear(32 * 7 * 7, 64)),
            nn.Sequential(nn.Linear(64, 32 * 7 * 7), nn.ReLU(), nn.Unflatten(1, (32, 7, 7)),
                          nn.ConvTranspose2d(32, 16, 3, 2, 1, output_padding=1), nn.ReLU(),
                          nn.ConvTranspose2d(16, 1, 3, 2, 1, output_padding=1), nn.Sigmoid()))
    if name == "vae":
        return VAE(latent)
    if name == "gan":
        g = nn.Sequential(nn.Linear(Z_DIM, 256), nn.ReLU(), nn.Linear(256, 784), nn.Tanh(), nn.Unflatten(1, (1, 28, 28)))
        d = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.LeakyReLU(0.2), nn.Linear(256, 1))
        return g, d
    if name == "dcgan":
        g = nn.Sequential(nn.Unflatten(1, (Z_DIM, 1, 1)),
                          nn.ConvTranspose2d(Z_DIM, 64, 7, 1, 0, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
                          nn.ConvTranspose2d(64, 32, 4, 2, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
                          nn.ConvTranspose2d(32, 1, 4, 2, 1, bias=False), nn.Tanh())
        d = nn.Sequential(nn.Conv2d(1, 32, 4, 2, 1, bias=False), nn.LeakyReLU(0.2),
                          nn.Conv2d(32, 64, 4, 2, 1, bias=False), nn.BatchNorm2d(64), nn.LeakyReLU(0.2),
                          nn.Conv2d(64, 1, 7, 1, 0, bias=False), nn.Flatten())

        def init(m):  # PyTorch's DCGAN example
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.normal_(m.weight, 0.0, 0.02)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.normal_(m.weight, 1.0, 0.02)
                nn.init.zeros_(m.bias)

        g.apply(init)
        d.apply(init)
        return g, d
    raise ValueError(name)


# ---- training (in the child) --------------------------------------------------------------------


def pixels(xb, gan):
    """uint8 (n, 28, 28) -> float (n, 1, 28, 28): x/255, or (x/255 - 0.5)/0.5 for the GANs."""
    x = xb.unsqueeze(1).float().div_(255.0)
    return x.sub_(0.5).div_(0.5) if gan else x


class Sums:
    """Sample-weighted means of named figures (as nabla's loop weights each batch by its samples)."""

    def __init__(self):
        self.s, self.n = {}, 0

    def add(self, n, **kv):
        self.n += n
        for k, v in kv.items():
            self.s[k] = self.s.get(k, 0.0) + float(v) * n

    def mean(self, k):
        return self.s[k] / self.n


def vae_loss(logits, x, mu, logvar):
    import torch
    import torch.nn.functional as F
    n = x.shape[0]
    recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / n
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / n
    return recon + kl, recon, kl


def run_model(a):
    import torch
    import torch.nn.functional as F
    gan = a.model in GANS
    d = os.path.join(a.data_dir, a.data)
    xtr = torch.from_numpy(read_idx(os.path.join(d, "train-images-idx3-ubyte")).copy())
    xte = torch.from_numpy(read_idx(os.path.join(d, "t10k-images-idx3-ubyte")).copy())
    if a.limit_test:
        xte = xte[:a.limit_test]
    torch.manual_seed(a.seed)
    if gan:
        G, D = build(a.model, a.latent)
        opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
        opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
        modules = (G, D)
    else:
        model = build(a.model, a.latent)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        modules = (model,)
    n_params = sum(p.numel() for m in modules for p in m.parameters())

    def gan_step(x, train):
        n = x.shape[0]
        ones, zeros = torch.ones(n, 1), torch.zeros(n, 1)
        fake = G(torch.randn(n, Z_DIM))
        dr = D(x)
        df = D(fake.detach())
        loss_d = F.binary_cross_entropy_with_logits(dr, ones) + F.binary_cross_entropy_with_logits(df, zeros)
        if train:
            opt_d.zero_grad()
            loss_d.backward()
            opt_d.step()
        loss_g = F.binary_cross_entropy_with_logits(D(fake), ones)  # through the updated D
        if train:
            opt_g.zero_grad()
            loss_g.backward()
            opt_g.step()
        return dict(d_loss=loss_d.item(), g_loss=loss_g.item(), d_real=torch.sigmoid(dr).mean().item(),
                    d_fake=torch.sigmoid(df).mean().item())

    def evaluate():
        for m in modules:
            m.eval()
        s = Sums()
        with torch.no_grad():
            for i in range(0, len(xte), TEST_BATCH):
                x = pixels(xte[i:i + TEST_BATCH], gan)
                n = x.shape[0]
                if gan:
                    f = gan_step(x, False)
                    s.add(n, loss=f["d_loss"] + f["g_loss"], d_loss=f["d_loss"], g_loss=f["g_loss"])
                elif a.model == "vae":
                    logits, mu, logvar = model(x)
                    loss, recon, kl = vae_loss(logits, x, mu, logvar)
                    s.add(n, loss=loss.item(), recon=recon.item(), kl=kl.item(),
                          mse=F.mse_loss(torch.sigmoid(logits), x).item())
                else:
                    mse = F.mse_loss(model(x), x).item()
                    s.add(n, loss=mse, mse=mse)
        if gan:
            return {"test_loss": s.mean("loss"), "test_d_loss": s.mean("d_loss"), "test_g_loss": s.mean("g_loss")}
        r = {"test_loss": s.mean("loss")}
        if a.model == "vae":
            r.update(test_recon=s.mean("recon"), test_kl=s.mean("kl"))
        r["test_mse"] = s.mean("mse")
        return r

    n = len(xtr)
    recs = []
    for ep in range(1, a.epochs + 1):
        for m in modules:
            m.train()
        s = Sums()
        nb = 0
        perm = torch.randperm(n)
        t0, c0 = time.perf_counter(), time.process_time()
        for i in range(0, n, BATCH):
            if a.batches and nb >= a.batches:
                break
            x = pixels(xtr[perm[i:i + BATCH]], gan)
            k = x.shape[0]
            if gan:
                f = gan_step(x, True)
                s.add(k, loss=f["d_loss"] + f["g_loss"], **f)
            elif a.model == "vae":
                logits, mu, logvar = model(x)
                loss, recon, kl = vae_loss(logits, x, mu, logvar)
                opt.zero_grad()
                loss.backward()
                opt.step()
                s.add(k, loss=loss.item(), recon=recon.item(), kl=kl.item())
            else:
                loss = F.mse_loss(model(x), x)
                opt.zero_grad()
                loss.backward()
                opt.step()
                s.add(k, loss=loss.item())
            nb += 1
        secs, cpu = time.perf_counter() - t0, time.process_time() - c0
        rec = {"epoch": ep, "seconds": secs, "cpu_seconds": cpu, "batches": nb, "samples": s.n,
               "seconds_per_batch": secs / nb, "load_average": os.getloadavg()[0], "train_loss": s.mean("loss")}
        if gan:
            rec.update({k: s.mean(k) for k in ("d_loss", "g_loss", "d_real", "d_fake")})
        elif a.model == "vae":
            rec.update(train_recon=s.mean("recon"), train_kl=s.mean("kl"))
        rec.update(evaluate())
        msg = (f"{a.model} {torch.get_num_threads()}t (BLAS {a.blas_threads}) seed {a.seed} epoch {ep}/{a.epochs}  "
               f"{secs:.2f} s ({nb} batches)  train loss {rec['train_loss']:.5f}  test loss {rec['test_loss']:.5f}")
        if "test_mse" in rec:
            msg += f"  test mse {rec['test_mse']:.5f}"
        if a.model == "vae":
            msg += f"  (recon {rec['test_recon']:.2f} + kl {rec['test_kl']:.2f})"
        if gan:
            msg += "  " + "  ".join(f"{k} {rec[k]:.4f}" for k in ("d_loss", "g_loss", "d_real", "d_fake"))
        log(msg)
        recs.append(rec)
    return {"epochs": recs, "params": n_params, "train": n, "test": len(xte)}


def child_main(argv):
    import torch
    a = argparse.Namespace(**json.loads(argv[0]))
    torch.set_num_threads(a.threads)
    torch.matmul(torch.ones(64, 64), torch.ones(64, 64))  # BLAS loaded
    blas, nblas = blas_threads()
    if nblas is not None and nblas != a.blas_threads:
        raise SystemExit(f"OpenBLAS runs {nblas} threads, not {a.blas_threads} ({blas})")
    t0 = time.perf_counter()
    r = run_model(a)
    r.update({"model": a.model, "data": a.data, "threads": torch.get_num_threads(),
              "interop_threads": torch.get_num_interop_threads(), "blas": blas, "blas_threads": nblas,
              "epochs_run": a.epochs, "seed": a.seed, "batches_limit": a.batches,
              "wall_seconds": time.perf_counter() - t0,
              "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0})
    print(json.dumps(r))


# ---- the parent ---------------------------------------------------------------------------------


def summary_row(r):
    e = r["epochs"]
    secs = sum(x["seconds"] for x in e) / len(e)
    cpu = sum(x["cpu_seconds"] for x in e) / len(e)
    spb = sum(x["seconds"] for x in e) / sum(x["batches"] for x in e)
    load = max(x["load_average"] for x in e)
    if r["model"] in GANS:
        m = "; ".join(f"d_loss {x['d_loss']:.3f} g_loss {x['g_loss']:.3f} d_real {x['d_real']:.3f} "
                      f"d_fake {x['d_fake']:.3f}" for x in e)
    elif r["model"] == "vae":
        m = "test -ELBO " + " / ".join(f"{x['test_loss']:.2f} ({x['test_recon']:.2f} + {x['test_kl']:.2f})" for x in e)
        m += "; test mse " + " / ".join(f"{x['test_mse']:.5f}" for x in e)
    else:
        m = "test mse " + " / ".join(f"{x['test_mse']:.5f}" for x in e)
    th = str(r["threads"])
    if r["blas_threads"] not in (None, r["threads"]):
        th += f" (BLAS {r['blas_threads']})"
    return (f"| {r['model']} | {r['data']} | {th} | {r['seed']} | {r['epochs_run']} x {e[0]['batches']} | "
            f"{secs:.2f} s/epoch (CPU {cpu:.2f}), {1000 * spb:.2f} ms/batch | {m} | {r['peak_rss_mb']:.0f} | {load:.1f} |")


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        return child_main(sys.argv[2:])
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default="autoencoder", help=f"comma-separated, of {', '.join(MODELS)}")
    ap.add_argument("--data", default="fashion-mnist", choices=("mnist", "fashion-mnist"))
    ap.add_argument("--data-dir", default=os.path.join(ROOT, "data"), help="holds mnist/ and fashion-mnist/")
    ap.add_argument("--threads", default="1", help="1, 2, or a list (1,2): torch.set_num_threads")
    ap.add_argument("--blas-threads", type=int, default=0,
                    help="OpenBLAS threads (OPENBLAS_NUM_THREADS; default: the same as --threads)")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batches", type=int, default=0, help="stop each epoch after N batches (timing only)")
    ap.add_argument("--seed", default="0", help="torch.manual_seed, or a list (0,1,2): one run per seed")
    ap.add_argument("--latent", type=int, default=16, help="the VAE's latent size")
    ap.add_argument("--limit-test", type=int, default=0, help="evaluate on the first N test images only")
    ap.add_argument("--json", help="write every figure to this file")
    a = ap.parse_args()
    models = a.models.split(",")
    for m in models:
        if m not in MODELS:
            raise SystemExit(f"unknown model {m} (one of {', '.join(MODELS)})")
    threads = [int(t) for t in a.threads.split(",")]
    seeds = [int(s) for s in a.seed.split(",")]
    try:
        import torch
        tv = torch.__version__
    except ImportError:
        raise SystemExit("no torch: run with Debian's /usr/bin/python3 (apt-get install -y python3-torch)")
    load0 = os.getloadavg()[0]
    runs = []
    for m in models:
        for t in threads:
            for seed in seeds:
                bt = a.blas_threads or t
                cfg = {"model": m, "data": a.data, "data_dir": a.data_dir, "threads": t, "blas_threads": bt,
                       "epochs": a.epochs, "batches": a.batches, "seed": seed, "latent": a.latent,
                       "limit_test": a.limit_test}
                # set before the child imports torch: OpenMP and OpenBLAS read them at load time
                env = dict(os.environ, OMP_NUM_THREADS=str(t), OPENBLAS_NUM_THREADS=str(bt))
                p = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", json.dumps(cfg)],
                                   stdout=subprocess.PIPE, text=True, env=env)
                if p.returncode != 0:
                    raise SystemExit(f"{m} at {t} thread(s) (BLAS {bt}), seed {seed} failed (exit {p.returncode})")
                runs.append(json.loads(p.stdout.strip().splitlines()[-1]))
    load1 = os.getloadavg()[0]
    cmd = "/usr/bin/python3 bench/gen_torch.py " + " ".join(sys.argv[1:])
    info = {"date": datetime.date.today().isoformat(), "machine": f"{cpu_model()}, {os.cpu_count()} cores",
            "torch": tv, "load_average": [load0, load1], "command": cmd.strip(),
            "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY"), "runs": runs}
    print(f"PyTorch {tv}, {info['machine']}, {info['date']}, load average {load0:.1f} -> {load1:.1f}; "
          f"`{info['command']}`")
    if a.batches:
        print(f"(each epoch stopped after {a.batches} batches: timing only, metrics are not the protocol's)")
    print()
    print("| model | data | threads | seed | epochs x batches | training loop: wall (CPU) | after each epoch | "
          "peak RSS (MB) | load avg (max) |")
    print("|---|---|---:|---:|---:|---:|---|---:|---:|")
    for r in runs:
        print(summary_row(r))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(info, f, indent=1)
    print(json.dumps(info))


if __name__ == "__main__":
    main()
