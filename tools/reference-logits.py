#!/usr/bin/env python3
"""The official gpt-oss torch reference's logits after each chunk of a schedule.

Runs openai/gpt-oss's gpt_oss/torch/model.py (a checkout given with
--reference; the goldens used commit 7b583341) on a checkpoint twice: as
published (bf16 weights and activations) and with every parameter allocated
in fp32 (the text patch the goldens' fp32 runs name). A schedule is sessions'
prompts and steps of chunks, each chunk appending tokens to one session, as
`BatchDecoder` mixed steps take them. The output repeats the schedule and
adds to every chunk the fp32 run's last logits after it (`fp32_logits`) and
the largest distance of the bf16 run's logits from them (`bf16_distance`):
the official bf16 run's own error, which bounds fast numerics. Each prefix is
run alone, as the reference's own TokenGenerator does, so a row's numerics
never depend on the rows after it.

Needs python3-torch (Debian; run /usr/bin/python3). Debian has no
python3-safetensors, so a minimal `safetensors.safe_open` is provided here, as
the goldens' generator did.

  /usr/bin/python3 tools/reference-logits.py --reference /tmp/gpt-oss \
      --model tests/data/tiny-a --schedule schedule.json > out.json

schedule.json: {"prompts": [[ids], ...], "steps": [[{"session": 0, "tokens": [ids]}, ...], ...]}
"""

import argparse
import json
import struct
import sys
import types

import torch

_DTYPES = {"BF16": torch.bfloat16, "F32": torch.float32, "F16": torch.float16, "U8": torch.uint8, "I32": torch.int32}


class _SafeOpen:
    """The part of safetensors.safe_open that gpt_oss/torch/weights.py uses."""

    def __init__(self, path, framework="pt", device="cpu"):
        del framework
        self._device = device
        with open(path, "rb") as f:
            (header_size,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(header_size))
            self._data = f.read()
        header.pop("__metadata__", None)
        self._header = header

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def keys(self):
        return list(self._header)

    def get_tensor(self, name):
        entry = self._header[name]
        begin, end = entry["data_offsets"]
        raw = bytearray(self._data[begin:end])
        tensor = torch.frombuffer(raw, dtype=_DTYPES[entry["dtype"]]) if raw else torch.empty(0, dtype=_DTYPES[entry["dtype"]])
        return tensor.reshape(entry["shape"]).to(self._device)


def _load_model_module(checkout, dtype):
    """gpt_oss/torch/model.py as a module; for fp32 with the goldens' patch applied."""
    safetensors = types.ModuleType("safetensors")
    safetensors.safe_open = _SafeOpen
    sys.modules.setdefault("safetensors", safetensors)
    if checkout not in sys.path:
        sys.path.insert(0, checkout)
    path = f"{checkout}/gpt_oss/torch/model.py"
    with open(path, encoding="utf-8") as f:
        source = f.read()
    allocations = source.count("dtype=torch.bfloat16")
    if allocations != 10:
        sys.exit(f"{path}: expected the 10 bf16 parameter allocations the goldens patch, found {allocations}")
    if dtype == "fp32":
        source = source.replace("dtype=torch.bfloat16", "dtype=torch.float32")
    module = types.ModuleType(f"reference_model_{dtype}")
    module.__file__ = path
    exec(compile(source, path, "exec"), module.__dict__)  # noqa: S102 (the reference's own source)
    return module


def _last_logits(model, prefix):
    return model(torch.as_tensor(prefix, dtype=torch.int32))[-1].float()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", required=True, help="a checkout of openai/gpt-oss")
    parser.add_argument("--model", required=True, help="checkpoint directory (config.json, *.safetensors)")
    parser.add_argument("--schedule", required=True, help="JSON file: prompts and steps of chunks")
    args = parser.parse_args()
    torch.set_num_threads(1)
    with open(args.schedule, encoding="utf-8") as f:
        schedule = json.load(f)
    models = {
        dtype: _load_model_module(args.reference, dtype).Transformer.from_checkpoint(args.model, device="cpu")
        for dtype in ("fp32", "bf16")
    }
    sequences = [list(prompt) for prompt in schedule["prompts"]]
    with torch.inference_mode():
        for step in schedule["steps"]:
            for chunk in step:
                sequences[chunk["session"]] += chunk["tokens"]
                prefix = sequences[chunk["session"]]
                fp32 = _last_logits(models["fp32"], prefix)
                bf16 = _last_logits(models["bf16"], prefix)
                chunk["fp32_logits"] = [round(float(v), 6) for v in fp32]
                chunk["bf16_distance"] = round(float((bf16 - fp32).abs().max()), 6)
    schedule["reference"] = {
        "repository": "openai/gpt-oss",
        "files": ["gpt_oss/torch/model.py", "gpt_oss/torch/weights.py"],
        "torch": torch.__version__,
        "device": "cpu",
        "threads": 1,
    }
    json.dump(schedule, sys.stdout, separators=(",", ":"))
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
