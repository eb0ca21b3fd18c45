#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Turns osbi_bench_online's lines (`BUFFER <kind> <producers> <ns>`, `TTA <task> <cost_ms> <mode> <seconds>
<c2st>`) and the flagship's (`PDE <mode> <seconds> <validation NLL>`, `PDE_IDLE <mode> <fraction>`,
`TTA_BUFFER two_moons <cost_ms> <kind> <seconds> <c2st> <run seconds> <final c2st>`,
`PDE_EMBEDDING <mlp|transformer> <seconds> <validation NLL>`, `PDE paced|plastic ...`, `PDE_SIMBOUND <mode> <seconds> <validation
NLL>`, `PDE_BUFFER <training-bound|simulation-bound> <fifo|firo|prioritized> <seconds> <validation NLL>`) into a table and the RESULT lines. Time to NLL: until the validation NLL reaches a level both runs of a pair
reach (the higher of their best values + 0.5 nats). Standard library only."""
import math, pathlib, sys

results = pathlib.Path(sys.argv[1])
buffers, tta, idle, header = {}, {}, None, ""
buffer_kinds = {}  # kind -> (cost ms, seconds to target, c2st then, run seconds, final c2st)
breed = None  # (cost ms, seconds to target, c2st then, run seconds, final c2st, importance effective fraction)
pde = {"offline": [], "online": [], "paced": [], "plastic": []}
simbound = {"offline": [], "online": [], "paced": [], "plastic": []}
simbound_idle = {}
embedding = {}  # mlp / transformer -> [(seconds, validation NLL)]
pde_buffers = {}  # (regime, kind) -> [(seconds, validation NLL)]
for line in (results / "ours.txt").read_text().splitlines():
    parts = line.split()
    if line.startswith("osbi online benchmark"):
        header = line
    elif parts[:1] == ["BUFFER"]:
        buffers[(parts[1], int(parts[2]))] = float(parts[3])
    elif parts[:1] == ["TTA_BREED"]:
        breed = (float(parts[2]), *map(float, parts[3:8]))
    elif parts[:1] == ["TTA_BUFFER"]:
        buffer_kinds[parts[3]] = (float(parts[2]), *map(float, parts[4:8]))
    elif parts[:1] == ["TTA"]:
        tta[(parts[1], parts[2], parts[3])] = (float(parts[4]), float(parts[5]))
    elif parts[:1] == ["PDE"]:
        pde[parts[1]].append((float(parts[2]), float(parts[3])))
    elif parts[:1] == ["PDE_SIMBOUND"]:
        simbound[parts[1]].append((float(parts[2]), float(parts[3])))
    elif parts[:1] == ["PDE_SIMBOUND_IDLE"]:
        simbound_idle[parts[1]] = float(parts[2])
    elif parts[:1] == ["PDE_BUFFER"]:
        pde_buffers.setdefault((parts[1], parts[2]), []).append((float(parts[3]), float(parts[4])))
    elif parts[:1] == ["PDE_EMBEDDING"]:
        embedding.setdefault(parts[1], []).append((float(parts[2]), float(parts[3])))
    elif parts[:1] == ["PDE_IDLE"] and parts[1] == "online":
        idle = float(parts[2])

print(header)
if buffers:
    kinds = sorted({k for k, _ in buffers}, key=["fifo", "firo", "reservoir", "prioritized"].index)
    print(f"{'buffer':<12} " + " ".join(f"{p} producer(s)".rjust(14) for p in (1, 2, 4)) + "   (ns per sample, push + sample)")
    for kind in kinds:
        print(f"{kind:<12} " + " ".join(f"{buffers.get((kind, p), float('nan')):14.1f}" for p in (1, 2, 4)))
lines = []
for (task, cost) in sorted({(t, c) for t, c, _ in tta}):
    off, on = tta.get((task, cost, "offline")), tta.get((task, cost, "online"))
    if not off or not on:
        continue
    ratio = off[0] / on[0] if math.isfinite(off[0]) and math.isfinite(on[0]) and on[0] > 0 else float("nan")
    print(f"{task:<10} cost {cost:>5} ms: offline {off[0]:7.1f} s, online {on[0]:7.1f} s to target -> {ratio:.2f}x")
    if task == "two_moons":
        lines.append(f"RESULT online.two_moons.{cost}ms.time_to_c2st_speedup_vs_offline {ratio:.3f}")
    elif task == "pde":
        lines.append(f"RESULT online.pde.time_to_nll_speedup_vs_offline {ratio:.3f}")

if buffer_kinds:
    print("two_moons online, one buffer kind each (capacity = budget): time to the C2ST target, the run's wall time and "
          "its final C2ST")
    for kind, (cost, seconds, _, run_seconds, final) in buffer_kinds.items():
        print(f"  {kind:<12} cost {cost:g} ms: target after {seconds:7.1f} s; run {run_seconds:6.1f} s, final C2ST {final:.3f}")

if breed:
    cost, seconds, _, run_seconds, final, ess = breed
    prior = tta.get(("two_moons", f"{cost:g}", "online"))
    print(f"two_moons online, cost {cost:g} ms, loss-driven proposal with p/q̄ weights: target after {seconds:.1f} s"
          + (f" (prior proposal: {prior[0]:.1f} s)" if prior else "")
          + f"; run {run_seconds:.1f} s, final C2ST {final:.3f}, importance effective fraction {ess:.2f}")

def time_to_nll(name, runs, baseline="offline", other="online"):
    """Seconds until each run reaches the pair's common target, their ratio and the best-NLL gap (other − baseline)."""
    best = {mode: min(v for _, v in runs[mode]) for mode in (baseline, other)}
    target = max(best.values()) + 0.5
    reach = {mode: next((t for t, v in runs[mode] if v <= target), float("inf")) for mode in (baseline, other)}
    ratio = reach[baseline] / reach[other] if reach[other] > 0 else float("nan")
    print(f"{name}: validation NLL target {target:.3f} (best {baseline} {best[baseline]:.3f}, {other} {best[other]:.3f}): "
          f"{baseline} {reach[baseline]:.1f} s, {other} {reach[other]:.1f} s -> {ratio:.2f}x; "
          f"wall {runs[baseline][-1][0]:.0f} s vs {runs[other][-1][0]:.0f} s")
    return ratio, best[other] - best[baseline]


for case, runs, prefix in [("training-bound", pde, "online.pde"), ("simulation-bound", simbound, "online.pde_simbound")]:
    if not (runs["offline"] and runs["online"]):
        continue
    for arm, name in [("online", ""), ("paced", ".paced"), ("plastic", ".plastic")]:
        if runs[arm]:
            ratio, gap = time_to_nll(f"pde ({case}){', online ' + arm if name else ''}", runs, other=arm)
            lines.append(f"RESULT {prefix}{name}.time_to_nll_speedup_vs_offline {ratio:.3f}")
            lines.append(f"RESULT {prefix}{name}.final_val_nll_gap_vs_offline {gap:.3f}")
    if runs is simbound and simbound_idle:
        print("  trainer idle: " + ", ".join(f"{m} {v:.2f}" for m, v in simbound_idle.items()))
for regime, runs in [("training-bound", pde), ("simulation-bound", simbound)]:
    kinds = [kind for (r, kind) in pde_buffers if r == regime]
    if not (kinds and runs["offline"] and runs["online"]):
        continue
    # The offline-vs-reservoir pair's target, so that every buffer is timed to the same level (a buffer that never
    # trains well would otherwise set an easy target of its own).
    target = max(min(v for _, v in runs[mode]) for mode in ("offline", "online")) + 0.5
    print(f"pde ({regime}), online by buffer kind, to the offline/reservoir target {target:.3f}:")
    for kind, points in [("reservoir", runs["online"])] + [(k, pde_buffers[(regime, k)]) for k in kinds]:
        reach = next((t for t, v in points if v <= target), None)
        print(f"  {kind:<12} best validation NLL {min(v for _, v in points):7.3f}, target "
              f"{'after %6.1f s' % reach if reach is not None else 'never       '}, last validation at {points[-1][0]:6.1f} s")
if embedding.get("mlp") and embedding.get("transformer"):
    best_nll = {name: min(v for _, v in points) for name, points in embedding.items()}
    wall = {name: points[-1][0] for name, points in embedding.items()}
    print(f"pde embeddings at the same budget: MLP best validation NLL {best_nll['mlp']:.3f} ({wall['mlp']:.0f} s), "
          f"patch transformer {best_nll['transformer']:.3f} ({wall['transformer']:.0f} s)")
    lines.append(f"RESULT online.pde.transformer_vs_mlp.val_nll_gain {best_nll['mlp'] - best_nll['transformer']:.3f}")
for kind in ["fifo", "firo", "reservoir", "prioritized"]:
    if (kind, 4) in buffers:
        lines.append(f"RESULT online.buffer.{kind}.ns_per_sample {buffers[(kind, 4)]:.1f}")
if idle is not None:
    lines.append(f"RESULT online.trainer_idle_fraction {idle:.3f}")
for line in lines:
    print(line)
