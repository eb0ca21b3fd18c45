#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Combines our npe throughput runs (ours-*.txt: `CASE <task> <batch> <samples/s>` for the MAF,
`STEP <flow> <task> <batch> <samples/s> <flops/sample>` for every flow, `PEAK <GFLOP/s>`; ours-run.txt:
`RUN <flow> <s> <c2st> <epochs>`; profile.txt: `PROFILE_STEP <flow> <batch> <µs/step> <µs in kernels>`,
`PROFILE <flow> <batch> <label> <µs/step> <launches/step>`) with the PyTorch peer (peer-<task>.json, section "throughput") and the real
sbi 0.27 (sbi.jsonl from peer_sbi_npe.py; sbi-c2st.txt: our C2ST of its draws) into tables and the RESULT
lines. Standard library only."""
import json, pathlib, sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "support"))
from kernel_profile_table import print_profile_table, read_profile  # noqa: E402

results = pathlib.Path(sys.argv[1])
ours, steps, flops, peaks, header = {}, {}, {}, [], ""
for path in sorted(results.glob("ours-*.txt")):
    for line in path.read_text().splitlines():
        if line.startswith("osbi npe benchmark"):
            header = line
        if line.startswith("CASE "):
            _, task, batch, rate = line.split()
            ours.setdefault((task, int(batch)), []).append(float(rate))
        if line.startswith("STEP "):
            _, flow, task, batch, rate, per_sample = line.split()
            steps.setdefault((flow, task, int(batch)), []).append(float(rate))
            flops[(flow, task, int(batch))] = float(per_sample)
        if line.startswith("PEAK "):
            peaks.append(float(line.split()[1]))
runs = {}
if (results / "ours-run.txt").exists():
    for line in (results / "ours-run.txt").read_text().splitlines():
        if line.startswith("RUN "):
            _, flow, seconds, c2st, epochs = line.split()
            runs[flow] = dict(seconds=float(seconds), c2st=float(c2st), epochs=int(epochs))
sbi_c2st = {}
if (results / "sbi-c2st.txt").exists():
    for line in (results / "sbi-c2st.txt").read_text().splitlines():
        if line.startswith("C2ST "):
            _, stem, value = line.split()
            sbi_c2st[stem] = float(value)
peer = {}
for path in sorted(results.glob("peer-*.json")):
    data = json.loads(path.read_text())
    task = path.stem[len("peer-"):]
    section = data.get("throughput") or data.get("results", {}).get("throughput", {})
    for batch, value in section.items():
        peer[(task, int(batch))] = value["samples_per_s"]["median"]
sbi, sbi_env, sbi_runs = {}, None, {}
sbi_path = results / "sbi.jsonl"
if sbi_path.exists():
    for line in sbi_path.read_text().splitlines():
        if not line.startswith("{"):
            continue
        record = json.loads(line)
        if record.get("metric") == "environment":
            sbi_env = record
        if record.get("metric") == "train_samples_per_s":
            sbi[(record["estimator"], int(record["batch"]))] = record["value"]
        if record.get("metric") == "two_moons_wall_s":
            stem = f"sbi_npe_{record['estimator']}_two_moons_obs1"
            sbi_runs[record["estimator"]] = dict(seconds=record["value"], epochs=record["epochs"],
                                                 c2st=sbi_c2st.get(stem, float("nan")))

# Where a step's time goes: kernel labels grouped by what they do.
groups = [("GEMM", lambda l: l.startswith("osbi::nn::gemm")),
          ("spline", lambda l: "NSF::transform" in l),
          ("optimizer", lambda l: l.startswith("osbi::optim")),
          ("activations", lambda l: "activation" in l or "tanh" in l)]
profile_steps, profile = read_profile(results / "profile.txt")

mean = lambda xs: sum(xs) / len(xs)
peak = max(peaks) if peaks else None
print(header)
if peak:
    print(f"FMA-loop peak, one thread: {peak:.1f} GFLOP/s")
print(f"{'task':<16} {'batch':>5} {'ours samples/s':>15} {'torch samples/s':>16} {'speedup':>8}   (sbi-default MAF)")
for key in sorted(ours):
    rate = mean(ours[key])
    torch_rate = peer.get(key)
    text = f"{torch_rate:16.0f} {rate / torch_rate:8.2f}" if torch_rate else f"{'-':>16} {'-':>8}"
    print(f"{key[0]:<16} {key[1]:>5} {rate:15.0f} {text}")
if sbi_env:
    print(f"sbi {sbi_env['sbi']} with torch {sbi_env['torch']}, {sbi_env['threads']} thread, {sbi_env['cpu']}")
print(f"{'flow':<13} {'batch':>5} {'ours samples/s':>15} {'GFLOP/s':>8} {'of peak':>8} {'sbi samples/s':>14} {'speedup':>8}")
for key in sorted(steps):
    flow, task, batch = key
    if task != "two_moons":
        continue
    rate = mean(steps[key])
    gflops = rate * flops[key] / 1e9
    share = f"{gflops / peak:8.3f}" if peak else f"{'-':>8}"
    # The centered NSF is the sbi-default NSF behind a conditional affine map: sbi's NSF is its reference too.
    sbi_rate = sbi.get(("nsf" if flow == "centered_nsf" else flow, batch))
    text = f"{sbi_rate:14.0f} {rate / sbi_rate:8.2f}" if sbi_rate else f"{'-':>14} {'-':>8}"
    print(f"{flow:<13} {batch:>5} {rate:15.0f} {gflops:8.2f} {share} {text}")
if runs or sbi_runs:
    print("two_moons 10^4, whole run (simulate, train with the defaults, 10 000 draws for observation 1):")
    print(f"{'':<22} {'wall s':>8} {'epochs':>7} {'C2ST':>7}")
    for flow, run in runs.items():
        print(f"{'osbi ' + flow:<22} {run['seconds']:8.1f} {run['epochs']:7d} {run['c2st']:7.3f}")
    for name, run in sbi_runs.items():
        print(f"{'sbi ' + name:<22} {run['seconds']:8.1f} {run['epochs']:7d} {run['c2st']:7.3f}")
print_profile_table(profile_steps, profile, groups,
                    "where one training step's time goes (two_moons, one thread; % of the step):")
if ("two_moons", 200) in peer:
    print(f"RESULT npe.maf_sbi.train_speedup_vs_torch {mean(ours[('two_moons', 200)]) / peer[('two_moons', 200)]:.2f}")
for flow in ("maf", "nsf"):
    key = (flow, "two_moons", 200)
    if key in steps and (flow, 200) in sbi:
        print(f"RESULT npe.{flow}_sbi.train_speedup_vs_sbi {mean(steps[key]) / sbi[(flow, 200)]:.2f}")
if peak and ("nsf", "two_moons", 200) in steps:
    key = ("nsf", "two_moons", 200)
    print(f"RESULT npe.nsf_step.fraction_of_peak {mean(steps[key]) * flops[key] / 1e9 / peak:.3f}")
if "centered_nsf" in runs and "nsf" in sbi_runs:
    ours_run, sbi_run = runs["centered_nsf"], sbi_runs["nsf"]
    print(f"RESULT npe.two_moons_1e4.run_speedup_vs_sbi_nsf {sbi_run['seconds'] / ours_run['seconds']:.2f}")
