#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Turns osbi_bench_active's `ROUND <task> <proposal> <seed> <round> <simulations> <c2st> <seconds> ...` lines
(ours-*.txt) into, per task, the C2ST after each round by proposal (the mean over seeds: one seed's C2ST at 1 000
simulations moves by ~0.1 with the seed alone), and the simulations and wall time each proposal needs for its mean
curve to reach a common target: the worse proposal's best mean C2ST + 0.02 (a level every proposal reaches).
RESULT active.<proposal>.sims_to_target_ratio_vs_prior.<task> (below 1: fewer simulations than the prior) and
active.<proposal>.time_to_target_ratio_vs_prior.<task>. Standard library only."""
import pathlib, statistics, sys

results = pathlib.Path(sys.argv[1])
rows = {}  # (task, proposal, round) -> [(simulations, c2st, seconds)] over seeds
for path in sorted(results.glob("ours-*.txt")):
    for line in path.read_text().splitlines():
        parts = line.split()
        if parts[:1] == ["ROUND"]:
            rows.setdefault((parts[1], parts[2], int(parts[4])), []).append((int(parts[5]), float(parts[6]), float(parts[7])))

curves = {}  # (task, proposal) -> [(simulations, mean c2st, mean seconds, seeds, sd c2st)]
for (task, proposal, _), values in sorted(rows.items()):
    c2st = [c for _, c, _ in values]
    curves.setdefault((task, proposal), []).append(
        (values[0][0], statistics.mean(c2st), statistics.mean(t for _, _, t in values), len(values),
         statistics.stdev(c2st) if len(c2st) > 1 else float("nan")))

lines = []
order = ["prior", "tsnpe", "tsnpe_apt", "breed", "bandit"]
for task in sorted({t for t, _ in curves}):
    proposals = [p for p in order if (task, p) in curves]
    seeds = min(n for p in proposals for _, _, _, n, _ in curves[(task, p)])
    print(f"{task}: mean C2ST after each round over {seeds} seed(s) (simulations so far; ± the seeds' sd)")
    for p in proposals:
        print(f"  {p:<9} " + "  ".join(f"{s:>5}: {c:.3f}±{sd:.3f}" for s, c, _, _, sd in curves[(task, p)]))
    if "prior" not in proposals:
        continue
    target = max(min(c for _, c, _, _, _ in curves[(task, p)]) for p in proposals) + 0.02
    if all(curves[(task, p)][0][1] <= target for p in proposals):
        # Every proposal is "at the target" after its first round: the budget does not separate them (e.g. C2ST
        # stuck near 1 on lotka_volterra at a few thousand simulations). No ratio.
        print(f"  target C2ST {target:.3f}: every proposal is within 0.02 of the worse one's best from its first round; "
              "the budget does not separate them")
        for p in proposals:
            if p != "prior":
                lines.append(f"RESULT active.{p}.sims_to_target_ratio_vs_prior.{task} nan")
        continue
    reach = {p: next(((s, t) for s, c, t, _, _ in curves[(task, p)] if c <= target), None) for p in proposals}
    print(f"  target C2ST {target:.3f}: " + ", ".join(f"{p} {r[0]} simulations / {r[1]:.0f} s" if r else f"{p} not reached"
                                                    for p, r in reach.items()))
    for p in proposals:
        if p == "prior" or not reach[p] or not reach["prior"]:
            continue
        lines.append(f"RESULT active.{p}.sims_to_target_ratio_vs_prior.{task} {reach[p][0] / reach['prior'][0]:.3f}")
        lines.append(f"RESULT active.{p}.time_to_target_ratio_vs_prior.{task} {reach[p][1] / reach['prior'][1]:.3f}")
for line in lines:
    print(line)
