#!/usr/bin/python3
"""Loads nabla's merged LoRA model (nb_lora_merge + nb_checkpoint_save_merged) strictly into the
PLAIN PyTorch model and compares the outputs with nabla's.

    mkdir -p /tmp/lora && (cd tests && NB_LORA_SAVE=/tmp/lora ../build/tests/test_lora)
    /usr/bin/python3 tests/torch_check_lora.py /tmp/lora/merged.safetensors /tmp/lora/outputs.safetensors

The model is test_lora.c's: nn.Sequential(Linear(4, 16), Tanh(), Linear(16, 3)), trained with
LoRA (r 4, alpha 8) on "0" with its base frozen and the head "2" trained in full, then merged. load_state_dict(strict=True) fails if
the file holds any adapter tensor or misses a weight. Needs Debian's python3-torch and numpy (the
file is parsed by tests/st_torch_check.py). Not run in CI; prints the largest difference and
exits 1 above 1e-5.
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_torch_check  # noqa: E402


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    tensors, meta = st_torch_check.load(sys.argv[1])
    lora = [k for k in tensors if "lora" in k]
    if lora:
        raise SystemExit("the merged file holds adapter tensors: %s" % ", ".join(lora))
    model = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3))
    model.load_state_dict({k: v for k, v in tensors.items() if not k.startswith("_nabla.")}, strict=True)
    out, _ = st_torch_check.load(sys.argv[2])
    with torch.no_grad():
        y = model(out["x"])
    d = float(((y - out["y"]).abs() / out["y"].abs().clamp(min=1)).max())
    print("strict load_state_dict: ok (%s); %d outputs, max relative difference %.3g" %
          (", ".join(sorted(tensors)), y.numel(), d))
    sys.exit(0 if d <= 1e-5 else 1)


if __name__ == "__main__":
    main()
