#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Tabulates bench/vector_field: our CASE lines (ours.txt) beside sbi 0.27's JSON lines (sbi.jsonl), draws the
C2ST-against-steps figure (steps.png, when matplotlib is there), adds our C2ST of sbi's draws (sbi-c2st.txt) and
prints the headline figures last:
RESULT vector_field.<fmpe|npse>.<train|sample>_speedup_vs_sbi (ours / sbi, both measured in this run). With
profile.txt (`--sections profile`), where our training step's time goes."""
import json, pathlib, sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "support"))
from kernel_profile_table import print_profile_table, read_profile  # noqa: E402

results = pathlib.Path(sys.argv[1])
ours, steps, tolerances, header = {}, [], [], ""
for line in (results / "ours.txt").read_text().splitlines():
    if line.startswith("osbi vector field benchmark"):
        header = line
    parts = line.split()
    if not parts or parts[0] != "CASE":
        continue
    if parts[1] == "train":
        ours[(parts[2], "train")] = float(parts[3])
    elif parts[1] == "train_flops":
        ours[(parts[2], "train_flops")] = float(parts[3])
    elif parts[1] == "peak":
        ours["peak"] = float(parts[3])
    elif parts[1] == "sample":
        ours[(parts[2], "sample")] = float(parts[3])
        if len(parts) > 5:
            ours[(parts[2], "evaluations")] = int(parts[5])
    elif parts[1] == "run":
        ours[(parts[2], "run")] = float(parts[3])
        ours[(parts[2], "c2st")] = float(parts[4])
        ours[(parts[2], "epochs")] = int(parts[5])
    elif parts[1] == "steps":
        steps.append(dict(estimator=parts[2], method=parts[3], steps=int(parts[4]), c2st=float(parts[5]),
                          rate=float(parts[6])))
    elif parts[1] == "tolerance":
        tolerances.append(dict(estimator=parts[2], tolerance=parts[3], evaluations=int(parts[4]), c2st=float(parts[5]),
                               rate=float(parts[6])))

peer, environment = {}, {}
peer_file = results / "sbi.jsonl"
if peer_file.exists():
    for line in peer_file.read_text().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        metric = record.get("metric")
        if metric == "environment":
            environment = record
        elif metric == "train_samples_per_s":
            peer[(record["estimator"], "train")] = record["value"]
        elif metric == "draws_per_s":
            peer[(record["estimator"], "sample")] = record["value"]
            peer[(record["estimator"], "evaluations")] = record.get("net_calls")
        elif metric == "two_moons_wall_s":
            peer[(record["estimator"], "run")] = record["value"]
            peer[(record["estimator"], "epochs")] = record.get("epochs")

# Our C2ST of sbi's two_moons draws (sbi-c2st.txt: `C2ST sbi_<estimator>_two_moons_obs1 <c2st>`).
if (results / "sbi-c2st.txt").exists():
    for line in (results / "sbi-c2st.txt").read_text().splitlines():
        parts = line.split()
        if parts[:1] == ["C2ST"] and parts[1].startswith("sbi_"):
            peer[(parts[1].split("_")[1], "c2st")] = float(parts[2])

print(header)
if environment:
    print(f"peer: sbi {environment.get('sbi')}, torch {environment.get('torch')}, {environment.get('threads')} thread(s), "
          f"{environment.get('cpu')}")
else:
    print("peer: sbi 0.27 not measured (no environment or OSBI_SKIP_SBI=1)")
print(f"{'estimator':<10} {'measure':<34} {'osbi':>12} {'sbi 0.27':>12} {'osbi/sbi':>9}")
rows = [("train", "training step, samples/s (batch 200)", True), ("sample", "posterior draws/s (default sampler)", True),
        ("run", "two_moons 10^4: train + 10^4 draws, s", False)]
lines = []
for estimator in ("fmpe", "npse"):
    for key, label, higher_is_better in rows:
        mine, theirs = ours.get((estimator, key)), peer.get((estimator, key))
        if mine is None:
            continue
        ratio = (mine / theirs if higher_is_better else theirs / mine) if theirs else None
        print(f"{estimator:<10} {label:<34} {mine:12.1f} {(f'{theirs:12.1f}' if theirs else '-'):>12} "
              f"{(f'{ratio:9.2f}' if ratio else '-'):>9}")
        if key in ("train", "sample") and ratio:
            lines.append(f"RESULT vector_field.{estimator}.{key}_speedup_vs_sbi {ratio:.3f}")
    if (estimator, "evaluations") in ours:
        print(f"{estimator:<10} {'network evaluations per draw call':<34} {ours[(estimator, 'evaluations')]:12d} "
              f"{peer.get((estimator, 'evaluations'), '-'):>12}  (sbi: all calls, its redraws included)")
    if (estimator, "c2st") in ours:
        theirs = peer.get((estimator, "c2st"))
        print(f"{estimator:<10} {'two_moons 10^4 C2ST (obs 1), epochs':<34} {ours[(estimator, 'c2st')]:12.3f} "
              f"{(f'{theirs:12.3f}' if theirs else '-'):>12} {'':>9}  ({ours[(estimator, 'epochs')]} epochs; sbi: "
              f"{peer.get((estimator, 'epochs'), '-')})")
print("(osbi/sbi: speedup, > 1 is faster; the run row compares wall times. sbi's draws are in sbi/*.npy.)")
# The training step against the machine's FMA peak (one thread): how far any implementation could go beyond sbi
# on this machine. Flops are the multiply-adds of the network's dense layers alone, so every figure is a floor.
if "peak" in ours:
    print(f"\ntraining step vs the fp32 FMA-loop peak ({ours['peak']:.1f} GFLOP/s, one thread); dense-layer flops only:")
    for estimator in ("fmpe", "npse"):
        flops = ours.get((estimator, "train_flops"))
        if not flops or (estimator, "train") not in ours:
            continue
        mine = ours[(estimator, "train")] * flops / 1e9
        line = f"{estimator:<10} {flops / 1e3:.1f} kflop/sample; osbi {mine:.2f} GFLOP/s ({100 * mine / ours['peak']:.0f} % of peak)"
        if (estimator, "train") in peer:
            theirs = peer[(estimator, "train")] * flops / 1e9
            line += (f"; sbi {theirs:.2f} GFLOP/s ({100 * theirs / ours['peak']:.0f} %); "
                     f"5x sbi would need {500 * theirs / ours['peak']:.0f} % of peak")
        print(line)
profile_steps, profile = read_profile(results / "profile.txt")
print_profile_table(profile_steps, profile,
                    [("GEMM", lambda l: l.startswith("osbi::nn::gemm")),
                     ("GELU", lambda l: "DenseLayer::activation" in l),
                     ("layer norm", lambda l: "layer_norm" in l or "block_sum" in l),
                     ("optimizer", lambda l: l.startswith("osbi::optim"))],
                    "\nwhere one training step's time goes (batch 200, one thread; % of the step; GEMM includes its "
                    "fused epilogues):", name_column="estimator")
if steps:
    print(f"\n{'estimator':<10} {'sampler':<18} {'steps':>6} {'C2ST':>7} {'draws/s':>10}")
    for s in steps:
        method = s['method'] if s['steps'] else "dopri5 (sbi's tol)"
        print(f"{s['estimator']:<10} {method:<18} {s['steps'] or 'adaptive':>6} {s['c2st']:7.3f} {s['rate']:10.0f}")
if tolerances:
    print(f"\n{'estimator':<10} {'dopri5 atol=rtol':<18} {'evals':>6} {'C2ST':>7} {'draws/s':>10}  (ours: 1e-4)")
    for s in tolerances:
        print(f"{s['estimator']:<10} {s['tolerance']:<18} {s['evaluations']:>6} {s['c2st']:7.3f} {s['rate']:10.0f}")
if steps:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
        for estimator, method in sorted({(s["estimator"], s["method"]) for s in steps if s["steps"] > 0}):
            points = sorted((s["steps"], s["c2st"], s["rate"]) for s in steps
                            if s["estimator"] == estimator and s["method"] == method)
            label = f"{estimator} ({method})"
            left.plot([p[0] for p in points], [p[1] for p in points], "o-", label=label)
            right.plot([p[0] for p in points], [p[2] for p in points], "o-", label=label)
        for s in steps:
            if s["steps"] == 0:
                left.axhline(s["c2st"], linestyle="--", alpha=0.5, label=f"{s['estimator']} (adaptive ODE, sbi's tolerances)")
        left.set(xscale="log", xlabel="sampler steps", ylabel="C2ST (two_moons 10^4, obs 1)", title="quality")
        right.set(xscale="log", yscale="log", xlabel="sampler steps", ylabel="draws/s (one thread)", title="speed")
        left.legend(fontsize=8)
        figure.tight_layout()
        figure.savefig(results / "steps.png", dpi=120)
        print(f"wrote {results / 'steps.png'}")
    except ImportError:
        print("(no matplotlib: steps.png not drawn)")
for line in lines:
    print(line)
