#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Combines our gpu run (ours.txt, `CASE <name> <value>`) with the PyTorch peer (peer.json, cases named
`peer_<name>`) into a table and the RESULT lines; the two headline figures come last. Without the peer,
our figures alone and no ratios. Standard library only."""
import json, pathlib, sys

results = pathlib.Path(sys.argv[1])
ours, header = {}, "osbi gpu benchmark: no output"
ours_path = results / "ours.txt"
if ours_path.exists():
    for line in ours_path.read_text().splitlines():
        if line.startswith("osbi gpu benchmark"):
            header = line
        elif line.startswith("CASE "):
            _, name, value = line.split()
            ours[name] = float(value)
        elif line.startswith("FAILED "):
            print(line)
peer, peer_header = {}, "torch peer: not run"
peer_path = results / "peer.json"
if peer_path.exists():
    data = json.loads(peer_path.read_text())
    peer = {name[len("peer_"):]: value for name, value in data["cases"].items()}
    env = data["environment"]
    peer_header = f"torch peer: torch {env['torch']} on {env['device']} ({env['device_name']})"

print(header)
print(peer_header)
print(f"{'case':<36} {'ours':>14} {'torch':>14} {'ours/torch':>10}")
for name, value in ours.items():
    other = peer.get(name)
    text = f"{other:14.6g} {value / other:10.3f}" if other else f"{'-':>14} {'-':>10}"
    print(f"{name:<36} {value:14.6g} {text}")

batches = (200, 65536, 4096)  # b4096 last: it is the headline
speedups = [("gpu.dense_4096x512x512.speedup_vs_torch", "dense_4096x512x512_gflops")]
speedups += [(f"gpu.maf.train_speedup_vs_torch.b{b}", f"maf_two_moons_b{b}_samples_per_s") for b in batches]
lines = {key: f"{ours[case] / peer[case]:.3f}" for key, case in speedups if case in ours and peer.get(case)}
for key, _ in speedups[:-1]:
    if key in lines:
        print(f"RESULT {key} {lines[key]}")
if "dense_4096x512x512_fraction_of_peak" in ours:
    print(f"RESULT gpu.dense_4096x512x512.fraction_of_peak {ours['dense_4096x512x512_fraction_of_peak']:.4f}")
if speedups[-1][0] in lines:
    print(f"RESULT {speedups[-1][0]} {lines[speedups[-1][0]]}")
