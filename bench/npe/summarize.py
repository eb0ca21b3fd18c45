#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Combines our npe throughput runs (ours-*.txt, `CASE <task> <batch> <samples/s>`) with the PyTorch
peer (peer-<task>.json, section "throughput") into a table and the RESULT lines. Standard library only."""
import json, pathlib, sys

results = pathlib.Path(sys.argv[1])
ours, header = {}, ""
for path in sorted(results.glob("ours-*.txt")):
    for line in path.read_text().splitlines():
        if line.startswith("osbi npe benchmark"):
            header = line
        if line.startswith("CASE "):
            _, task, batch, rate = line.split()
            ours.setdefault((task, int(batch)), []).append(float(rate))
peer = {}
for path in sorted(results.glob("peer-*.json")):
    data = json.loads(path.read_text())
    task = path.stem[len("peer-"):]
    section = data.get("throughput") or data.get("results", {}).get("throughput", {})
    for batch, value in section.items():
        peer[(task, int(batch))] = value["samples_per_s"]["median"]

mean = lambda xs: sum(xs) / len(xs)
print(header)
print(f"{'task':<16} {'batch':>5} {'ours samples/s':>15} {'torch samples/s':>16} {'speedup':>8}")
for key in sorted(ours):
    rate = mean(ours[key])
    torch_rate = peer.get(key)
    text = f"{torch_rate:16.0f} {rate / torch_rate:8.2f}" if torch_rate else f"{'-':>16} {'-':>8}"
    print(f"{key[0]:<16} {key[1]:>5} {rate:15.0f} {text}")
if ("two_moons", 200) in peer:
    print(f"RESULT npe.maf_sbi.train_speedup_vs_torch {mean(ours[('two_moons', 200)]) / peer[('two_moons', 200)]:.2f}")
