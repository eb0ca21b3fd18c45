#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""PyTorch peer for the transformer encoder block (#14): forward + backward of torch.nn.TransformerEncoderLayer
(pre-LayerNorm, GELU, dim_feedforward = 4·width, no dropout, batch_first) on the CPU with a chosen thread count,
in the PyPI torch 2.x of the sbi virtual environment (bench/vector_field/sbi_env.sh).

  python peer_torch_attention.py --threads 2 [--json out.json]

A step = zero the parameter gradients, y = block(x), y.backward(g) with input gradients on: the same work as
bench_nn's attention_block cases. Prints `case=<name> us_per_step=<median>` per case.
"""
import argparse, json, statistics, time

import torch

CASES = [("attention_block_b200_t64", 200, 64, 64, 4), ("attention_block_b64_t256", 64, 256, 128, 8)]


def step_microseconds(batch, tokens, width, heads, repeats, min_seconds):
    torch.manual_seed(0)
    block = torch.nn.TransformerEncoderLayer(width, heads, dim_feedforward=4 * width, dropout=0.0, activation="gelu",
                                             batch_first=True, norm_first=True)
    x = torch.randn(batch, tokens, width, requires_grad=True)
    g = torch.randn(batch, tokens, width)

    def step():
        block.zero_grad(set_to_none=False)
        x.grad = None
        y = block(x)
        y.backward(g)

    for _ in range(3):
        step()
    times = []
    for _ in range(repeats):
        calls, start = 0, time.perf_counter()
        while True:
            step()
            calls += 1
            elapsed = time.perf_counter() - start
            if elapsed >= min_seconds:
                break
        times.append(elapsed / calls * 1e6)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--min-seconds", type=float, default=0.5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    for name, batch, tokens, width, heads in CASES:
        us = step_microseconds(batch, tokens, width, heads, args.repeats, args.min_seconds)
        rows.append({"case": name, "us_per_step": us})
        print(f"case={name} us_per_step={us:.1f}", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"threads": args.threads, "torch": torch.__version__, "rows": rows}, f)


if __name__ == "__main__":
    main()
