#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Combines our nn benchmark runs (ours-*.txt, `CASE` lines) with the PyTorch peer (peer-<threads>.json)
into one table and the headline RESULT lines. Standard library only."""
import json, pathlib, sys

results = pathlib.Path(sys.argv[1])
ours = {}      # (case, threads) -> [us, ...]
peaks = {}     # threads -> [gflops, ...]
header = ""
for path in sorted(results.glob("ours-*.txt")):
    for line in path.read_text().splitlines():
        if line.startswith("osbi nn benchmark"):
            header = line
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

print(header)
for t in sorted(peaks):
    print(f"fp32 FMA-loop peak, {t} thread(s): {best_peak(peaks[t]):.1f} GFLOP/s")
print(f"{'case':<22} {'thr':>3} {'ours us':>10} {'GFLOP/s':>9} {'% peak':>7} {'torch us':>10} {'speedup':>8}")
for (case, t) in sorted(ours, key=lambda k: (k[1], k[0])):
    us = best(ours[(case, t)])
    gf = flops[case] / us / 1e3
    torch_us = best(peer[(case, t)]) if (case, t) in peer else None
    speed = f"{torch_us / us:8.2f}" if torch_us else "       -"
    torch_text = f"{torch_us:10.1f}" if torch_us else "         -"
    print(f"{case:<22} {t:>3} {us:10.1f} {gf:9.2f} {100 * gf / best_peak(peaks[t]):7.1f} {torch_text} {speed}")

# Every headline figure at the machine's full thread count, on both sides for the speedups (the
# table above has the 1-thread ratios too).
threads = max(peaks)
print(f"RESULT nn.peak_gflops {best_peak(peaks[threads]):.1f}")
print(f"RESULT nn.dense_256.fraction_of_peak {flops['dense_256x256x256'] / best(ours[('dense_256x256x256', threads)]) / 1e3 / best_peak(peaks[threads]):.3f}")
if peer:
    for name, case in (("dense_200x52x50", "dense_200x52x50"), ("made_sbi", "made_sbi_b200")):
        print(f"RESULT nn.{name}.speedup_vs_torch {best(peer[(case, threads)]) / best(ours[(case, threads)]):.2f}")
