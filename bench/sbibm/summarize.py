#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Tabulates our sbibm runs (ours-<task>.txt, `RUN <task> <budget> <obs> <c2st> <simulate_s> <train_s>
<sample_s> <c2st_s> <epochs>`) next to sbibm's published NPE C2ST (main_paper.csv, Lueckmann et al. 2021)
for the same observations, and prints `RESULT sbibm.<task>.<1e3|1e4|1e5>.c2st <mean>` (with `.fmpe` / `.npse`
appended for the vector field estimators). Standard library only."""
import csv, math, pathlib, sys

results, paper = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
runs, header = {}, ""
for path in sorted(results.glob("ours-*.txt")):
    for line in path.read_text().splitlines():
        if line.startswith("osbi sbibm benchmark"):
            header = line
        if line.startswith("RUN "):
            _, task, budget, obs, c2st, sim_s, train_s, sample_s, c2st_s, epochs = line.split()
            runs.setdefault((task, int(budget)), []).append(
                dict(obs=int(obs), c2st=float(c2st), wall=float(sim_s) + float(train_s) + float(sample_s),
                     train=float(train_s), epochs=int(epochs)))
calibration = {}
for path in sorted(results.glob("ours-*.txt")):
    for line in path.read_text().splitlines():
        if line.startswith("CALIBRATION "):
            _, task, budget, rows, error, marginal_p, density_p, seconds = line.split()
            calibration[(task, int(budget))] = (int(rows), float(error), float(marginal_p), float(density_p))
for path in sorted(results.glob("ours-*.log")):
    text = path.read_text().strip()
    if "osbi_bench_sbibm:" in text:
        print(f"[bench sbibm] {path.name}: {text.splitlines()[-1]}", file=sys.stderr)

superscript = {1000: "10³", 10000: "10⁴", 100000: "10⁵"}
published = {}
with paper.open() as f:
    for row in csv.DictReader(f):
        if row["algorithm"] == "NPE" and row["C2ST"]:
            published.setdefault((row["task"], row["num_simulations"]), {})[int(row["num_observation"])] = float(row["C2ST"])

mean = lambda xs: sum(xs) / len(xs)
print(header)
print(f"{'task':<16} {'budget':>7} {'obs':>5} {'osbi C2ST':>10} {'sbibm NPE':>10} {'better':>7} {'epochs':>7} "
      f"{'train s':>8} {'wall s/run':>11}")
lines = []
for (task, budget) in sorted(runs, key=lambda k: (k[0], k[1])):
    rows = runs[(task, budget)]
    ours = mean([r["c2st"] for r in rows])
    theirs = published.get((task, superscript.get(budget, "")), {})
    theirs_same = [theirs[r["obs"]] for r in rows if r["obs"] in theirs]
    ref = f"{mean(theirs_same):10.3f}" if theirs_same else f"{'-':>10}"
    better = ("yes" if ours <= mean(theirs_same) else "no") if theirs_same else "-"
    wall = rows[0]["train"] + mean([r["wall"] - r["train"] for r in rows])
    print(f"{task:<16} {budget:>7} {len(rows):>5} {ours:10.3f} {ref} {better:>7} {rows[0]['epochs']:>7} "
          f"{rows[0]['train']:8.1f} {wall:11.1f}")
    exponent = round(math.log10(budget))
    name = f"1e{exponent}" if 10 ** exponent == budget else str(budget)
    suffix = next((f".{e}" for e in ("fmpe", "npse") if f"estimator {e}," in header), "")
    lines.append(f"RESULT sbibm.{task}.{name}.c2st{suffix} {ours:.4f}")
print("(C2ST: mean over the observations listed, 0.5 = indistinguishable from the reference; sbibm NPE: the "
      "published value for the same observations; wall s/run = simulate + train + one observation's sampling)")
estimator = next((e for e in ("centered-nsf", "nsf", "maf", "fmpe", "npse") if f"estimator {e}," in header), "nsf")
if calibration:
    print("calibration on prior-predictive pairs: expected-coverage error (max over HPD levels 5..95 % of "
          "|coverage - level|), KS p-values of the SBC ranks (smallest marginal; log-density)")
for (task, budget), (rows, error, marginal_p, density_p) in sorted(calibration.items()):
    exponent = round(math.log10(budget))
    name = f"1e{exponent}" if 10 ** exponent == budget else str(budget)
    print(f"{task:<16} {budget:>7} {rows:>6} rows  coverage error {error:.4f}  KS p {marginal_p:.3g} / {density_p:.3g}")
    lines.append(f"RESULT calibration.{estimator}.{task}.{name}.coverage_error {error:.4f}")
for line in lines:
    print(line)
