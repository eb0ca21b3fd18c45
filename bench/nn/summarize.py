#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Combines our nn benchmark runs (ours-*.txt, `CASE` lines) with the PyTorch peer (peer-<threads>.json)
into one table and the headline RESULT lines. Standard library only."""
import json, pathlib, sys

results = pathlib.Path(sys.argv[1])
ours = {}      # (case, threads) -> [us, ...]
peaks = {}     # threads -> [gflops, ...]
header = tile = ""
for path in sorted(results.glob("ours-*.txt")):
    for line in path.read_text().splitlines():
        if line.startswith("osbi nn benchmark"):
            header = line
        if line.startswith("host GEMM register tile"):
            tile = line
        if not line.startswith("CASE "):
            continue
        fields = line.split()
        if fields[1] == "peak":
            peaks.setdefault(int(fields[2]), []).append(float(fields[3]))
        else:
            ours.setdefault((fields[1], int(fields[2])), []).append(float(fields[3]))
peer = {}      # (case, threads) -> [us, ...]
for path in sorted(results.glob("peer-*.json")):
    data = json.loads(path.read_text())
    for row in data["rows"]:
        peer.setdefault((row["case"], int(data["threads"])), []).append(row["us_per_step"])

# Each side's best run per case (see run.sh): the shortest time; for the peak, the highest rate
# (which only lowers our fractions of it).
best = min
best_peak = max
flops = {}
for case, _ in ours:
    if case.startswith("dense_"):
        b, i, o = map(int, case[len("dense_"):].split("x"))
        flops[case] = 6 * b * i * o
    elif case.startswith("made_sbi_b"):
        flops[case] = 6 * int(case[len("made_sbi_b"):]) * (4 * 50 + 50 * 50 + 50 * 4)
    elif case.startswith("attention_block_"):
        # bench_nn.cpp's attention_block_flops: batch, tokens, width of its two cases.
        b, t, w = {"attention_block_b200_t64": (200, 64, 64), "attention_block_b64_t256": (64, 256, 128)}[case]
        flops[case] = 72 * b * t * w * w + 12 * b * t * t * w

def cpu_description():
    """The CPU's model and widest vector ISA (#18: the dense kernels must hold on AVX2 and AVX-512)."""
    try:
        info = pathlib.Path("/proc/cpuinfo").read_text()
    except OSError:
        return "unknown CPU"
    model = next((l.split(":", 1)[1].strip() for l in info.splitlines() if l.startswith("model name")), "unknown")
    family = next((l.split(":", 1)[1].strip() for l in info.splitlines() if l.startswith("cpu family")), "?")
    flags = next((l.split(":", 1)[1].split() for l in info.splitlines() if l.startswith("flags")), [])
    isa = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "SSE"
    return f"{model} (family {family}), widest vectors {isa}"

print(header)
print(f"CPU: {cpu_description()}")
print(tile)
for t in sorted(peaks):
    print(f"fp32 FMA-loop peak, {t} thread(s): {best_peak(peaks[t]):.1f} GFLOP/s")
print(f"{'case':<26} {'thr':>3} {'ours us':>10} {'GFLOP/s':>9} {'% peak':>7} {'torch us':>10} {'speedup':>8}")
for (case, t) in sorted(ours, key=lambda k: (k[1], k[0])):
    us = best(ours[(case, t)])
    gf = flops[case] / us / 1e3
    torch_us = best(peer[(case, t)]) if (case, t) in peer else None
    speed = f"{torch_us / us:8.2f}" if torch_us else "       -"
    torch_text = f"{torch_us:10.1f}" if torch_us else "         -"
    print(f"{case:<26} {t:>3} {us:10.1f} {gf:9.2f} {100 * gf / best_peak(peaks[t]):7.1f} {torch_text} {speed}")

# Every headline figure at the machine's full thread count, on both sides for the speedups (the
# table above has the 1-thread ratios too).
threads = max(peaks)
print(f"RESULT nn.peak_gflops {best_peak(peaks[threads]):.1f}")
print(f"RESULT nn.dense_256.fraction_of_peak {flops['dense_256x256x256'] / best(ours[('dense_256x256x256', threads)]) / 1e3 / best_peak(peaks[threads]):.3f}")
if peer:
    for name, case in (("dense_200x52x50", "dense_200x52x50"), ("made_sbi", "made_sbi_b200")):
        print(f"RESULT nn.{name}.speedup_vs_torch {best(peer[(case, threads)]) / best(ours[(case, threads)]):.2f}")
    # #14: one transformer encoder block against torch 2.x's TransformerEncoderLayer (PyPI, the sbi venv).
    for case in ("attention_block_b200_t64", "attention_block_b64_t256"):
        if (case, threads) in peer and (case, threads) in ours:
            print(f"RESULT nn.{case}.speedup_vs_torch {best(peer[(case, threads)]) / best(ours[(case, threads)]):.2f}")
    # #18's large layers at one thread, where OpenBLAS' kernels are strongest (goal >= 1 on AVX2 and AVX-512).
    for name, case in (("dense_256", "dense_256x256x256"), ("dense_1024", "dense_1024x512x512")):
        if (case, 1) in peer and (case, 1) in ours:
            print(f"RESULT nn.{name}.speedup_vs_torch.1thread {best(peer[(case, 1)]) / best(ours[(case, 1)]):.2f}")
