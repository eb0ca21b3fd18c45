#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Turns osbi_bench_active's `ROUND <task> <proposal> <round> <simulations> <c2st> <seconds> ...` lines (ours-*.txt)
into, per task, the C2ST after each round by proposal, and the simulations and wall time each proposal needs to reach
a common target: the worse proposal's best C2ST + 0.02 (a level both reach; 0.02 is about two standard errors of a
C2ST on 10 000 draws). RESULT active.<proposal>.sims_to_target_ratio_vs_prior.<task> (below 1: fewer simulations
than the prior) and active.<proposal>.time_to_target_ratio_vs_prior.<task>. Standard library only."""
import pathlib, sys

results = pathlib.Path(sys.argv[1])
rounds = {}  # (task, proposal) -> [(simulations, c2st, seconds)]
for path in sorted(results.glob("ours-*.txt")):
    for line in path.read_text().splitlines():
        parts = line.split()
        if parts[:1] == ["ROUND"]:
            rounds.setdefault((parts[1], parts[2]), []).append((int(parts[4]), float(parts[5]), float(parts[6])))

lines = []
for task in sorted({t for t, _ in rounds}):
    proposals = [p for p in ["prior", "tsnpe", "tsnpe_apt", "breed", "bandit"] if (task, p) in rounds]
    print(f"{task}: C2ST after each round (simulations so far)")
    for p in proposals:
        print(f"  {p:<8} " + "  ".join(f"{s:>6}: {c:.3f}" for s, c, _ in rounds[(task, p)]))
    if "prior" not in proposals:
        continue
    target = max(min(c for _, c, _ in rounds[(task, p)]) for p in proposals) + 0.02
    reach = {p: next(((s, t) for s, c, t in rounds[(task, p)] if c <= target), None) for p in proposals}
    print(f"  target C2ST {target:.3f}: " + ", ".join(f"{p} {r[0]} simulations / {r[1]:.0f} s" if r else f"{p} not reached"
                                                    for p, r in reach.items()))
    for p in proposals:
        if p == "prior" or not reach[p] or not reach["prior"]:
            continue
        lines.append(f"RESULT active.{p}.sims_to_target_ratio_vs_prior.{task} {reach[p][0] / reach['prior'][0]:.3f}")
        lines.append(f"RESULT active.{p}.time_to_target_ratio_vs_prior.{task} {reach[p][1] / reach['prior'][1]:.3f}")
for line in lines:
    print(line)
