"""Reference values for Tests/ExportTests/LlamaCppExportTests: what gguf-py (PyPI `gguf`, pinned below)
reads from qaft's llama.cpp exports.

Run the Swift test once with QAFT_EXPORT_FIXTURES=<dir> (it writes <dir>/<case>.gguf and, for adapter
rows, <case>.lora.gguf), then:  python3 make_reference.py <dir> > reference.json

Per case and tensor (the blocks', the token embedding and an untied head): the ggml type gguf-py sees,
the GGUF dims, and FNV-1a 64 of gguf-py's dequantized values as little-endian float32 (the Swift test
hashes qaft's values the same way); for adapters also general.type, adapter.type and adapter.lora.alpha.
"""
import json
import sys
from pathlib import Path

import numpy as np
from importlib.metadata import version

from gguf import GGUFReader, GGUFValueType
from gguf.quants import dequantize

PINNED = "0.19.0"
assert version("gguf") == PINNED, f"gguf {version('gguf')} installed, the reference is made with {PINNED}"


def fnv1a64(data: bytes) -> str:
    h = 0xCBF29CE484222325
    for b in data:
        h ^= b
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def field(reader, key):
    f = reader.fields.get(key)
    if f is None:
        return None
    v = f.parts[f.data[0]]
    if f.types[0] == GGUFValueType.STRING:
        return bytes(v).decode()
    return float(v[0])


def describe(path: Path):
    r = GGUFReader(str(path))
    out = {"tensors": {}}
    for key in ("general.type", "adapter.type", "adapter.lora.alpha"):
        v = field(r, key)
        if v is not None:
            out[key] = v
    for t in r.tensors:
        if not t.name.startswith("blk.") and t.name not in ("token_embd.weight", "output.weight"):
            continue
        values = np.ascontiguousarray(dequantize(t.data, t.tensor_type), dtype="<f4")
        out["tensors"][t.name] = {"type": t.tensor_type.name, "dims": [int(d) for d in t.shape],
                                  "fnv1a64": fnv1a64(values.tobytes())}
    return out


def main():
    directory = Path(sys.argv[1])
    cases = {p.name[: -len(".gguf")]: describe(p) for p in sorted(directory.glob("*.gguf"))}
    json.dump({"gguf": PINNED, "cases": cases}, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
