#!/usr/bin/python3
"""Loads a checkpoint of nabla's token transformer (nb_token_transformer_new) into its PyTorch twin
(tests/transformer_twins.py: TokenTransformer) with load_state_dict(strict=True) and checks that
PyTorch gets nabla's logits.

    mkdir -p /tmp/tf && (cd tests && NB_TF_TORCH_SAVE=/tmp/tf ../build/tests/test_transformer)
    /usr/bin/python3 tests/torch_check_transformer.py /tmp/tf/model.safetensors /tmp/tf/outputs.safetensors

MODEL's metadata "transformer" gives the constructor's arguments ("vocab=40 max_len=16 ...",
written by test_transformer); OUTPUTS holds ids (N, T), lengths (N) and nabla's logits (N, T, K).
The twin runs in eval mode with gradients on (PyTorch's no-grad fast path would give zeros at
padded steps); max |diff| over all steps must be <= 1e-4. Needs Debian's python3-torch and numpy
(files are parsed by tests/st_torch_check.py). Not run in CI: the C test needs no Python.
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_torch_check  # noqa: E402
import transformer_twins as tw  # noqa: E402


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    state, meta = st_torch_check.load(sys.argv[1])
    data, _ = st_torch_check.load(sys.argv[2])
    if "transformer" not in meta:
        raise SystemExit("%s: no 'transformer' metadata (the constructor's arguments)" % sys.argv[1])
    a = dict(kv.split("=", 1) for kv in meta["transformer"].split())
    model = tw.TokenTransformer(int(a["vocab"]), int(a["max_len"]), int(a["d_model"]), int(a["nhead"]),
                                int(a["num_layers"]), int(a["dim_ff"]), float(a["dropout"]), a["act"], a["pos"],
                                a["norm_first"] == "1", a["causal"] == "1", int(a["out"]))
    sd = {k: v for k, v in state.items() if not k.startswith("_nabla.")}
    model.load_state_dict(sd, strict=True)  # raises on any missing or unexpected name or shape
    model.eval()
    y = model(data["ids"], data["lengths"].tolist())
    diff = float((y.detach() - data["logits"]).abs().max())
    print("loaded %d tensors strictly into TokenTransformer(%s); logits %s, max |torch - nabla| = %.3g"
          % (len(sd), meta["transformer"], tuple(y.shape), diff))
    if not diff <= 1e-4:
        raise SystemExit("FAIL: PyTorch's logits differ from nabla's by %g" % diff)
    print("OK")


if __name__ == "__main__":
    main()
