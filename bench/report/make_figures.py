#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""The figures of docs/report.md, from the results folders of scripts/bench.sh online and scripts/bench.sh active:

    python3 bench/report/make_figures.py --online bench/results/online-<stamp> --active bench/results/active-<stamp> \
        [--out docs/figures]

writes
  online_pde.png       validation NLL against wall time, offline / online / online paced / plastic, for the simulation-bound
                       and the training-bound PDE (the flagship's VALIDATION lines);
  time_breakdown.png   where each PDE run's wall time went (metrics.csv): the simulation phase split into the trainer
                       training and the trainer waiting for data, then training after the last simulation arrived;
  active.png           C2ST for sbibm's observation 1 against simulations, one line per proposal, one panel per task.
Needs numpy and matplotlib (Debian: python3-numpy python3-matplotlib)."""
import argparse, csv, pathlib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

parser = argparse.ArgumentParser()
parser.add_argument("--online", type=pathlib.Path, required=True)
parser.add_argument("--active", type=pathlib.Path, required=True)
parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path("docs/figures"))
args = parser.parse_args()
args.out.mkdir(parents=True, exist_ok=True)

# The runs bench/online writes: folder name -> (case, arm).
arms = {"offline": "offline", "online": "online", "paced": "online paced", "plastic": "online plastic"}
runs = {f"pde-{prefix}{arm}": (case, label) for case, prefix in [("simulation-bound", "simbound-"), ("training-bound", "")]
        for arm, label in arms.items()}
colors = {"offline": "tab:gray", "online": "tab:blue", "online paced": "tab:orange", "online plastic": "tab:purple"}


def validation(name):
    path = args.online / f"{name}.txt"
    if not path.exists():
        return []
    return [tuple(map(float, line.split()[1:3])) for line in path.read_text().splitlines() if line.startswith("VALIDATION ")]


fig, axes = plt.subplots(1, 2, figsize=(11, 4))
for ax, case in zip(axes, ["simulation-bound", "training-bound"]):
    for name, (c, arm) in runs.items():
        points = validation(name)
        if c == case and points:
            ax.plot([t for t, _ in points], [v for _, v in points], label=arm, color=colors[arm])
    ax.set_title(f"PDE flagship, {case}")
    ax.set_xlabel("wall time (s)")
    ax.set_ylabel("validation NLL")
    ax.legend()
fig.tight_layout()
fig.savefig(args.out / "online_pde.png", dpi=110)

labels, phases = [], []
for name, (case, arm) in runs.items():
    path = args.online / name / "metrics.csv"
    if not path.exists():
        continue
    rows = list(csv.DictReader(path.open()))
    simulations = [int(r["simulations"]) for r in rows]
    end = next(i for i, s in enumerate(simulations) if s == simulations[-1])
    sim_phase = float(rows[end]["seconds"])
    waiting = sim_phase * float(rows[end]["trainer_idle_fraction"])
    labels.append(f"{case}\n{arm}")
    phases.append((sim_phase - waiting, waiting, float(rows[-1]["seconds"]) - sim_phase))
fig, ax = plt.subplots(figsize=(10, 4))
bottom = [0.0] * len(phases)
for k, (label, color) in enumerate([("simulating, trainer training", "tab:blue"), ("simulating, trainer waiting", "tab:red"),
                                    ("training after the last simulation", "tab:green")]):
    values = [p[k] for p in phases]
    ax.bar(labels, values, bottom=bottom, label=label, color=color)
    bottom = [b + v for b, v in zip(bottom, values)]
ax.set_ylabel("wall time (s)")
ax.set_title("Where the PDE runs' time goes (trainer thread; simulation workers busy throughout the simulation phase)")
ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig(args.out / "time_breakdown.png", dpi=110)

rounds = {}  # task -> proposal -> simulations -> [c2st over seeds]
for path in sorted(args.active.glob("ours-*.txt")):
    for line in path.read_text().splitlines():
        parts = line.split()
        if parts[:1] == ["ROUND"]:
            rounds.setdefault(parts[1], {}).setdefault(parts[2], {}).setdefault(int(parts[5]), []).append(float(parts[6]))
if rounds:
    fig, axes = plt.subplots(1, len(rounds), figsize=(5.5 * len(rounds), 4), squeeze=False)
    for ax, (task, by_proposal) in zip(axes[0], sorted(rounds.items())):
        for proposal, points in by_proposal.items():
            simulations = sorted(points)
            ax.plot(simulations, [sum(points[s]) / len(points[s]) for s in simulations], marker="o", label=proposal)
        ax.set_title(f"{task}, observation 1 (mean over seeds)")
        ax.set_xlabel("simulations")
        ax.set_ylabel("C2ST (0.5 is perfect)")
        ax.legend()
    fig.tight_layout()
    fig.savefig(args.out / "active.png", dpi=110)
print(f"wrote {args.out}/online_pde.png, time_breakdown.png, active.png")
