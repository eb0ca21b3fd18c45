#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Peer benchmark: the real sbi 0.27.0 FMPE and NPSE, with sbi's defaults, on one CPU thread.

Counterpart of osbi's flow-matching (FMPE) and score-diffusion (NPSE) estimators. Per estimator:
  a. train_samples_per_s: one training step at batch 200 on two_moons-shaped data, exactly the
     per-step work of sbi's trainer (loss, mean, backward, clip_grad_norm_ 5, Adam 5e-4 step);
  b. draws_per_s: posterior.sample((n,), x=x0) with the estimator's default sampler;
  c. two_moons_wall_s: append_simulations + train() (sbi defaults) + 10 000 draws for
     observation 1, the draws saved as <out>/sbi_<estimator>_two_moons_obs1.npy (float64).
One JSON object per line on stdout; all of them also in <out>/sbi_peer.json.

    py=$(bench/vector_field/sbi_env.sh)
    "$py" bench/vector_field/peer_sbi.py --out /tmp/sbi-peer [--quick] [--estimator fmpe|npse|both]
"""
import os

# One thread and no GPU, set before torch is imported (the thread pools read these at start-up).
for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[var] = "1"
os.environ["CUDA_VISIBLE_DEVICES"] = ""

import argparse
import contextlib
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

# The shared helpers (bench/support/sbi_peer_common.py), after the thread variables above.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from sbi_peer_common import PRIOR, REPO, emit, save_records, seed, simulations, setup_run, train_samples_per_s  # noqa: E402
from sbi.inference import FMPE, NPSE  # noqa: E402


INFERENCE = {"fmpe": FMPE, "npse": NPSE}


def train(inference, theta, x, **kwargs):
    """inference.append_simulations(theta, x).train(**kwargs); sbi prints its convergence note on
    stdout, which here carries only JSON."""
    with contextlib.redirect_stdout(sys.stderr):
        inference.append_simulations(theta, x).train(**kwargs)


def count_net_calls(estimator):
    """Counts the sampler's network evaluations (calls) and the rows they evaluate. Draws outside
    the prior are rejected and re-drawn by a whole new sampler run, on fewer rows."""
    counter = {"calls": 0, "rows": 0}

    def hook(module, inputs, output):
        counter["calls"] += 1
        counter["rows"] += inputs[0].shape[0]

    estimator.net.register_forward_hook(hook)
    return counter


def bench_train_step(name, quick):
    seed(1)
    inference = INFERENCE[name](prior=PRIOR, show_progress_bars=False)
    theta, x = simulations(10_000)
    # The builder the trainer calls (z-scoring statistics from the data, default network).
    net = inference._build_neural_net(theta, x)
    batches = list(zip(theta.split(200), x.split(200)))  # already in random order (prior draws)
    emit(estimator=name, metric="default_network", value=str(net).replace("\n", " "),
         parameters=sum(p.numel() for p in net.parameters()))
    # VectorFieldTrainer._get_losses / _loss, single round: the estimator's loss with times=None.
    rate, rates = train_samples_per_s(net, batches, lambda t, x: net.loss(t, x, times=None), quick)
    emit(estimator=name, metric="train_samples_per_s", value=rate, batch=200, repeats=rates)


def bench_sampling(name, quick, x0):
    seed(2)
    n = 2_000 if quick else 10_000
    inference = INFERENCE[name](prior=PRIOR, show_progress_bars=False)
    train(inference, *simulations(2_000), max_num_epochs=5)  # brief: only sampling is timed
    posterior = inference.build_posterior()
    calls = count_net_calls(posterior.vector_field_estimator)
    posterior.sample((100,), x=x0, show_progress_bars=False)  # warm-up
    times = []
    for _ in range(1 if quick else 3):
        calls.update(calls=0, rows=0)
        start = time.perf_counter()
        posterior.sample((n,), x=x0, show_progress_bars=False)
        times.append(time.perf_counter() - start)
    emit(estimator=name, metric="draws_per_s", value=n / statistics.median(times), draws=n,
         sampler=posterior.sample_with, net_calls=calls["calls"], net_rows=calls["rows"],
         seconds=times)


def bench_two_moons(name, quick, x0, out):
    seed(3)
    num_simulations = 1_000 if quick else 10_000
    theta, x = simulations(num_simulations)
    start = time.perf_counter()
    inference = INFERENCE[name](prior=PRIOR, show_progress_bars=False)
    train(inference, theta, x)
    trained = time.perf_counter()
    posterior = inference.build_posterior()
    calls = count_net_calls(posterior.vector_field_estimator)
    draws = posterior.sample((10_000,), x=x0, show_progress_bars=False)
    end = time.perf_counter()
    path = out / f"sbi_{name}_two_moons_obs1.npy"
    np.save(path, draws.double().numpy())
    emit(estimator=name, metric="two_moons_wall_s", value=end - start, simulations=num_simulations,
         train_s=trained - start, sample_s=end - trained,
         epochs=inference._summary["epochs_trained"][-1], sample_net_calls=calls["calls"],
         sample_net_rows=calls["rows"], draws=str(path))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--estimator", choices=("fmpe", "npse", "both"), default="both")
    parser.add_argument("--quick", action="store_true", help="short timings, 10^3 simulations")
    parser.add_argument("--out", type=Path, help="results folder (default: a new temporary one)")
    parser.add_argument("--data", type=Path, default=REPO / "data" / "sbibm",
                        help="sbibm reference data (x0 of two_moons observation 1)")
    args = parser.parse_args()
    out = (args.out or Path(tempfile.mkdtemp(prefix="osbi-sbi-peer-"))).resolve()
    out.mkdir(parents=True, exist_ok=True)
    x0 = setup_run(args.data, out, args.quick)
    for name in ("fmpe", "npse") if args.estimator == "both" else (args.estimator,):
        bench_train_step(name, args.quick)
        bench_sampling(name, args.quick, x0)
        bench_two_moons(name, args.quick, x0, out)
    save_records(out, "sbi_peer.json")


if __name__ == "__main__":
    main()
