#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Tables and RESULT lines of bench/mpi/run.sh, and the paper model of 64 and 1 024 ranks (bench/mpi/README.md)."""
import argparse
import pathlib


def rows(path, tag):
    out = []
    if not path.exists():
        return out
    for line in path.read_text().splitlines():
        parts = line.split()
        if parts and parts[0] == tag:
            out.append(parts[1:])
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("results", type=pathlib.Path)
    parser.add_argument("--cost-us", type=float, default=2000)
    args = parser.parse_args()
    d = args.results
    cores = (d / "machine.txt").read_text().split()[1] if (d / "machine.txt").exists() else "?"

    stream = {int(r[0]): (float(r[1]), float(r[2]), float(r[3])) for r in rows(d / "stream.txt", "STREAM")}
    print(f"stream: 1 learner (sbi MAF, float, batch 200) fed by N simulation ranks, {args.cost_us:.0f} us of CPU per "
          f"simulation; {cores} cores, N + 1 processes")
    print(f"{'sim ranks':>10} {'samples/s':>10} {'bound':>10} {'learner busy':>13}")
    for n, (rate, busy, bound) in sorted(stream.items()):
        print(f"{n:>10} {rate:>10.1f} {bound:>10.1f} {busy:>13.3f}")

    allreduce = rows(d / "allreduce.txt", "ALLREDUCE")
    print("\nallreduce of the gradient (float), median us per step")
    print(f"{'learners':>9} {'parameters':>11} {'us':>10}")
    for r in allreduce:
        print(f"{r[0]:>9} {r[1]:>11} {float(r[2]):>10.2f}{'  (sbi MAF)' if len(r) > 3 else ''}")

    messages = [(int(r[0]), float(r[1])) for r in rows(d / "messages.txt", "MESSAGES")]
    print("\nstream cost against batching (1 sender, 1 learner, free simulator)")
    print(f"{'rows/message':>13} {'us/row':>8}")
    for m, us in messages:
        print(f"{m:>13} {us:>8.3f}")
    # us_per_row = per_row + per_message / m: least squares on the measured points.
    per_row = per_message = float("nan")
    if len(messages) >= 2:
        xs = [1.0 / m for m, _ in messages]
        ys = [us for _, us in messages]
        n = len(xs)
        mx, my = sum(xs) / n, sum(ys) / n
        sxx = sum((x - mx) ** 2 for x in xs)
        per_message = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx
        per_row = my - per_message * mx
        print(f"fit: {per_row:.3f} us per row + {per_message:.3f} us per message")

    diffs = [float(r[1]) for r in rows(d / "data_parallel.txt", "PARAM_DIFF")]

    # The model: a learner trains at most (samples/s ÷ busy fraction) and receives at most 1 / (per_row +
    # per_message / m); R simulation ranks offer R / cost. The learners needed are offered ÷ min(train, receive).
    if per_row == per_row and stream:
        train_rate = max(rate / busy for rate, busy, _ in stream.values() if busy > 0)
        receive = 1e6 / (per_row + per_message / 64)
        print(f"\nmodel (bench/mpi/README.md): one learner trains {train_rate:,.0f} samples/s (measured rate / busy "
              f"fraction) and receives {receive:,.0f}/s in 64-row messages; R ranks offer R x {1e6 / args.cost_us:.0f}/s")
        for ranks in (64, 1024):
            offered = ranks * 1e6 / args.cost_us
            learners = max(1, -(-offered // min(train_rate, receive)))
            print(f"  {ranks:>5} simulation ranks: offered {offered:,.0f}/s: {int(learners)} learner(s) keep up "
                  f"(then each allreduce step, measured above for 2 and 4 learners, joins them)")

    for n in (1, 2, 4):
        if n in stream:
            print(f"RESULT mpi.samples_per_s.{n}ranks {stream[n][0]:.1f}")
    sbi = [float(r[2]) for r in allreduce if len(r) > 3 and r[0] == "2"]
    if sbi:
        print(f"RESULT mpi.allreduce_us_per_step {sbi[0]:.2f}")
    if 4 in stream:
        print(f"RESULT mpi.learner_utilization.4ranks {stream[4][1]:.3f}")
    if diffs:
        print(f"RESULT mpi.data_parallel.max_param_diff {max(diffs):.3g}")


if __name__ == "__main__":
    main()
