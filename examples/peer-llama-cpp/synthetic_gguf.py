#!/usr/bin/env python3
# Copyright 2026 The ossrt Authors. SPDX-License-Identifier: Apache-2.0
"""Writes a GGUF file with gpt-oss-20b or gpt-oss-120b shapes and random
weights, so that llama.cpp's llama-bench times the same kind of model as
`ossrt bench --synthetic`: bf16 dense weights (attention, router, embedding,
unembedding), MXFP4 experts with scale bytes in the same ranges as ossrt's
synthetic checkpoints, f32 norms, biases and sinks.

Timing does not depend on the values, so the weights are random bytes reused
at shifted offsets, and the vocabulary is placeholder strings (the 256
byte-level tokens first, as a BPE vocabulary needs them; llama-bench feeds
random token ids). Python standard library only.

    python3 synthetic_gguf.py gpt-oss-20b /tmp/syn20b.gguf [--layers N]
"""
import argparse
import random
import struct

HIDDEN, EXPERT_WIDTH, Q_HEADS, KV_HEADS, HEAD_DIM, VOCAB = 2880, 2880, 64, 8, 64, 201088
PRESETS = {"gpt-oss-20b": (24, 32), "gpt-oss-120b": (36, 128)}  # layers, experts
F32, BF16, MXFP4 = 0, 30, 39  # ggml type ids
ALIGNMENT = 32  # GGUF's default general.alignment


def gguf_string(text):
    raw = text.encode()
    return struct.pack("<Q", len(raw)) + raw


def key_value(key, value):
    """One metadata entry: u32, f32, string, or list of strings."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str, list)):
        raise TypeError(key)
    if isinstance(value, int):
        return gguf_string(key) + struct.pack("<II", 4, value)
    if isinstance(value, float):
        return gguf_string(key) + struct.pack("<If", 6, value)
    if isinstance(value, str):
        return gguf_string(key) + struct.pack("<I", 8) + gguf_string(value)
    return gguf_string(key) + struct.pack("<IIQ", 9, 8, len(value)) + b"".join(gguf_string(v) for v in value)


def byte_level_tokens():
    """GPT-2's byte-to-character map, in byte order."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    chars, extra = {}, 0
    for byte in range(256):
        if byte in printable:
            chars[byte] = chr(byte)
        else:
            chars[byte] = chr(256 + extra)
            extra += 1
    return [chars[b] for b in range(256)]


def tensor_bytes(shape, kind):
    count = 1
    for extent in shape:
        count *= extent
    return {F32: 4 * count, BF16: 2 * count, MXFP4: count // 32 * 17}[kind]


def model_tensors(layers, experts):
    """(name, shape innermost first, ggml type, filler) in file order."""
    qkv = (Q_HEADS + 2 * KV_HEADS) * HEAD_DIM
    tensors = [("token_embd.weight", [HIDDEN, VOCAB], BF16, None)]
    for layer in range(layers):
        p = f"blk.{layer}."
        tensors += [
            (p + "attn_norm.weight", [HIDDEN], F32, 1.0),
            (p + "attn_qkv.weight", [HIDDEN, qkv], BF16, None),
            (p + "attn_qkv.bias", [qkv], F32, 0.05),
            (p + "attn_sinks.weight", [Q_HEADS], F32, 0.5),
            (p + "attn_output.weight", [Q_HEADS * HEAD_DIM, HIDDEN], BF16, None),
            (p + "attn_output.bias", [HIDDEN], F32, 0.05),
            (p + "post_attention_norm.weight", [HIDDEN], F32, 1.0),
            (p + "ffn_gate_inp.weight", [HIDDEN, experts], BF16, None),
            (p + "ffn_gate_inp.bias", [experts], F32, 0.05),
            # Scale bytes as in ossrt's synthetic checkpoints (lib/io/checkpoint_writer.cpp).
            (p + "ffn_gate_exps.weight", [HIDDEN, EXPERT_WIDTH, experts], MXFP4, (121, 125)),
            (p + "ffn_up_exps.weight", [HIDDEN, EXPERT_WIDTH, experts], MXFP4, (121, 125)),
            (p + "ffn_down_exps.weight", [EXPERT_WIDTH, HIDDEN, experts], MXFP4, (119, 123)),
            (p + "ffn_gate_exps.bias", [EXPERT_WIDTH, experts], F32, 0.05),
            (p + "ffn_up_exps.bias", [EXPERT_WIDTH, experts], F32, 0.05),
            (p + "ffn_down_exps.bias", [HIDDEN, experts], F32, 0.05),
        ]
    tensors += [("output_norm.weight", [HIDDEN], F32, 1.0), ("output.weight", [HIDDEN, VOCAB], BF16, None)]
    return tensors


def metadata(preset, layers, experts):
    a = "gpt-oss"
    return [
        ("general.architecture", a),
        ("general.name", f"synthetic {preset}"),
        (a + ".context_length", 131072),
        (a + ".embedding_length", HIDDEN),
        (a + ".feed_forward_length", EXPERT_WIDTH),
        (a + ".expert_feed_forward_length", EXPERT_WIDTH),
        (a + ".block_count", layers),
        (a + ".expert_count", experts),
        (a + ".expert_used_count", 4),
        (a + ".attention.head_count", Q_HEADS),
        (a + ".attention.head_count_kv", KV_HEADS),
        (a + ".attention.key_length", HEAD_DIM),
        (a + ".attention.value_length", HEAD_DIM),
        (a + ".attention.layer_norm_rms_epsilon", 1e-5),
        (a + ".attention.sliding_window", 128),
        (a + ".rope.freq_base", 150000.0),
        (a + ".rope.scaling.type", "yarn"),
        (a + ".rope.scaling.factor", 32.0),
        (a + ".rope.scaling.original_context_length", 4096),
        ("tokenizer.ggml.model", "gpt2"),
        ("tokenizer.ggml.pre", "default"),
        ("tokenizer.ggml.tokens", byte_level_tokens() + [f"<|synthetic {i}|>" for i in range(256, VOCAB)]),
        ("tokenizer.ggml.merges", []),
    ]


def write(path, preset, layers, experts, seed):
    rng = random.Random(seed)
    tensors = model_tensors(layers, experts)
    meta = metadata(preset, layers, experts)
    header = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(meta))
    header += b"".join(key_value(k, v) for k, v in meta)
    offset = 0
    for name, shape, kind, _ in tensors:
        header += gguf_string(name) + struct.pack("<I", len(shape)) + b"".join(struct.pack("<Q", e) for e in shape)
        header += struct.pack("<IQ", kind, offset)
        offset += -(-tensor_bytes(shape, kind) // ALIGNMENT) * ALIGNMENT
    header += b"\0" * (-len(header) % ALIGNMENT)

    # bf16 of magnitude 2^-7..2^-6 with random signs and mantissas.
    source_bytes = 1 << 25
    bf16_source = bytearray(rng.randbytes(source_bytes))
    bf16_source[1::2] = bf16_source[1::2].translate(bytes(0x3C if b < 128 else 0xBC for b in range(256)))

    def write_from(out, source, size, shift):
        """size bytes as pieces of source, each starting at shift() (even, to keep bf16 aligned)."""
        while size:
            start = shift()
            piece = min(size, len(source) - start)
            out.write(source[start : start + piece])
            size -= piece

    with open(path, "wb") as out:
        out.write(header)
        for _, shape, kind, fill in tensors:
            size = tensor_bytes(shape, kind)
            if kind == F32:
                out.write(struct.pack("<f", fill) * (size // 4))
            elif kind == BF16:
                write_from(out, bf16_source, size, lambda: rng.randrange(64) * 2)
            else:
                low, high = fill
                blocks = bytearray(rng.randbytes(source_bytes // 17 * 17))
                blocks[0::17] = bytes(low + b % (high - low + 1) for b in blocks[0::17])  # E8M0 scale first
                write_from(out, blocks, size, lambda: 0)
            out.write(b"\0" * (-size % ALIGNMENT))
    return offset + len(header)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("preset", choices=sorted(PRESETS))
    parser.add_argument("path")
    parser.add_argument("--layers", type=int, default=0, help="default: the preset's")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    layers, experts = PRESETS[args.preset]
    layers = args.layers or layers
    size = write(args.path, args.preset, layers, experts, args.seed)
    print(f"{args.path}: {args.preset}, {layers} layers, {size / 1e9:.2f} GB")


if __name__ == "__main__":
    main()
