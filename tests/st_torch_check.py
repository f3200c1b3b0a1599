#!/usr/bin/python3
"""Reads a safetensors file (a nabla checkpoint) into PyTorch without the safetensors package:
json + numpy by hand, with the same checks as nabla's reader (src/io/safetensors.c).

    from st_torch_check import load
    tensors, meta = load("model.safetensors")    # {name: torch.Tensor}, {key: str}
    model.load_state_dict({k: v for k, v in tensors.items() if not k.startswith("_nabla.")})

Run as a script it prints every tensor (name, dtype, shape, a few values) and the metadata:
    /usr/bin/python3 tests/st_torch_check.py FILE [--strict-align]
--strict-align also insists that 8 + N is a multiple of 8 (true of files nabla writes).
"""
import json
import struct
import sys

import numpy as np
import torch

DTYPES = {"F32": np.dtype("<f4"), "I64": np.dtype("<i8"), "U8": np.dtype("u1"),
          # not written by nabla, read for convenience
          "F64": np.dtype("<f8"), "I32": np.dtype("<i4"), "F16": np.dtype("<f2"),
          "I8": np.dtype("i1"), "BOOL": np.dtype("?"),
          "BF16": np.dtype("<i2")}  # numpy has no bfloat16: read the bits, view them in torch
MAX_HEADER = 100 * 1000 * 1000


class FormatError(ValueError):
    pass


def _reject_duplicates(pairs):
    seen = {}
    for k, v in pairs:
        if k in seen:
            raise FormatError("duplicate key %r in the header" % k)
        seen[k] = v
    return seen


def load(path, strict_align=False):
    """Returns (tensors, metadata): an ordered dict name -> torch.Tensor (header order, own
    memory) and a dict of the __metadata__ strings. Raises FormatError naming the file."""
    with open(path, "rb") as f:
        buf = f.read()

    def fail(msg):
        raise FormatError("%s: %s" % (path, msg))

    if len(buf) < 8:
        fail("truncated: %d bytes, shorter than the 8-byte header length" % len(buf))
    (n,) = struct.unpack("<Q", buf[:8])
    if n > MAX_HEADER:
        fail("header length %d is absurd" % n)
    if n > len(buf) - 8:
        fail("truncated: header length %d but only %d bytes follow it" % (n, len(buf) - 8))
    if strict_align and (8 + n) % 8:
        fail("8 + header length = %d is not a multiple of 8" % (8 + n))
    try:
        header = json.loads(buf[8:8 + n].decode("utf-8"), object_pairs_hook=_reject_duplicates)
    except (UnicodeDecodeError, json.JSONDecodeError, FormatError) as e:
        fail("invalid JSON header: %s" % e)
    if not isinstance(header, dict):
        fail("JSON header is not an object")
    data = memoryview(buf)[8 + n:]

    meta = header.pop("__metadata__", {})
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        fail("__metadata__ is not an object of strings")

    def is_int(x):
        return isinstance(x, int) and not isinstance(x, bool)

    tensors, spans = {}, []
    for name, e in header.items():
        if not isinstance(e, dict) or not {"dtype", "shape", "data_offsets"} <= e.keys():
            fail("tensor %r: entry needs dtype, shape and data_offsets" % name)
        dt, shape, offs = e["dtype"], e["shape"], e["data_offsets"]
        if dt not in DTYPES:
            fail("tensor %r: unsupported dtype %r" % (name, dt))
        if (not isinstance(shape, list) or len(shape) > 8
                or not all(is_int(s) and s >= 0 for s in shape)):
            fail("tensor %r: bad shape %r" % (name, shape))
        if (not isinstance(offs, list) or len(offs) != 2
                or not all(is_int(o) and o >= 0 for o in offs) or offs[1] < offs[0]):
            fail("tensor %r: bad data_offsets %r" % (name, offs))
        npdt = DTYPES[dt]
        numel = int(np.prod(shape, dtype=object)) if shape else 1
        if numel * npdt.itemsize != offs[1] - offs[0]:
            fail("tensor %r: data_offsets %r hold %d bytes, but %s %s needs %d"
                 % (name, offs, offs[1] - offs[0], dt, tuple(shape), numel * npdt.itemsize))
        if offs[1] > len(data):
            fail("tensor %r: data_offsets %r lie outside the %d-byte data"
                 % (name, offs, len(data)))
        arr = np.frombuffer(data, dtype=npdt, count=numel, offset=offs[0]).reshape(shape)
        # copy: own, aligned, native-endian memory that torch can write to
        tensors[name] = torch.from_numpy(arr.astype(npdt.newbyteorder("="), copy=True))
        if dt == "BF16":
            tensors[name] = tensors[name].view(torch.bfloat16)
        spans.append((offs[0], offs[1], name))
    at = 0
    for b, e, name in sorted(spans):
        if b != at:
            fail("tensor %r starts at %d, expected %d (overlap or gap)" % (name, b, at))
        at = e
    if at != len(data):
        fail("data bytes [%d, %d) belong to no tensor" % (at, len(data)))
    return tensors, meta


def main(argv):
    if len(argv) < 2:
        print(__doc__.strip())
        return 2
    try:
        tensors, meta = load(argv[1], strict_align="--strict-align" in argv)
    except (FormatError, OSError) as e:
        print("error: %s" % e, file=sys.stderr)
        return 1
    for name, t in tensors.items():
        vals = t.flatten()[:6].tolist()
        print("%-28s %-14s %-16s %s" % (name, str(t.dtype).replace("torch.", ""),
                                        tuple(t.shape), vals))
    for k, v in meta.items():
        print("meta %s = %r" % (k, v))
    print("%d tensors, %d metadata keys" % (len(tensors), len(meta)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
