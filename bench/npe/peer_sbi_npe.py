#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Peer benchmark: the real sbi 0.27.0 NPE with its MAF and NSF defaults, on one CPU thread.

Counterpart of bench/npe (osbi's MAF and NSF training steps). Per density estimator:
  a. train_samples_per_s at batch 200 and 1 024 on two_moons data: exactly the per-step work of
     sbi's trainer (_train_epoch: zero_grad, NPE loss (-log_prob, times the default calibration
     kernel), mean, the running loss sum's .item(), backward, clip_grad_norm_ 5, Adam 5e-4 step);
  b. two_moons_wall_s (unless --no-run): append_simulations + train() with sbi's defaults + 10 000
     draws for observation 1, the draws saved as <out>/sbi_npe_<estimator>_two_moons_obs1.npy.
One JSON object per line on stdout; all of them also in <out>/sbi_npe_peer.json.

    py=$(bench/vector_field/sbi_env.sh)
    "$py" bench/npe/peer_sbi_npe.py --out /tmp/sbi-npe-peer [--quick] [--no-run]
"""
import os

# One thread and no GPU, set before torch is imported (the thread pools read these at start-up).
for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[var] = "1"
os.environ["CUDA_VISIBLE_DEVICES"] = ""

import argparse
import contextlib
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

# The shared helpers (bench/support/sbi_peer_common.py), after the thread variables above.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from sbi_peer_common import PRIOR, REPO, emit, save_records, seed, simulations, setup_run, train_samples_per_s  # noqa: E402
from sbi.inference import NPE  # noqa: E402


def bench_train_step(name, batch, quick):
    seed(1)
    inference = NPE(prior=PRIOR, density_estimator=name, show_progress_bars=False)
    theta, x = simulations(10_000)
    # The builder the trainer calls (z-scoring statistics from the data, sbi's default network).
    net = inference._build_neural_net(theta, x)
    batches = list(zip(theta.split(batch), x.split(batch)))  # already in random order (prior draws)
    # NPE_C._loss in round 0: the flow's −log_prob per row.
    rate, rates = train_samples_per_s(net, batches, net.loss, quick)
    emit(estimator=name, metric="train_samples_per_s", value=rate, batch=batch, repeats=rates,
         parameters=sum(p.numel() for p in net.parameters()))


def bench_two_moons(name, quick, x0, out):
    seed(3)
    num_simulations = 1_000 if quick else 10_000
    theta, x = simulations(num_simulations)
    start = time.perf_counter()
    inference = NPE(prior=PRIOR, density_estimator=name, show_progress_bars=False)
    with contextlib.redirect_stdout(sys.stderr):  # sbi's convergence note; stdout carries only JSON
        inference.append_simulations(theta, x).train()
    trained = time.perf_counter()
    posterior = inference.build_posterior()
    draws = posterior.sample((10_000,), x=x0, show_progress_bars=False)
    end = time.perf_counter()
    path = out / f"sbi_npe_{name}_two_moons_obs1.npy"
    np.save(path, draws.double().numpy())
    emit(estimator=name, metric="two_moons_wall_s", value=end - start, simulations=num_simulations,
         train_s=trained - start, sample_s=end - trained, epochs=inference._summary["epochs_trained"][-1],
         draws=str(path))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="short timings, 10^3 simulations")
    parser.add_argument("--no-run", action="store_true", help="training steps only, no whole two_moons run")
    parser.add_argument("--out", type=Path, help="results folder (default: a new temporary one)")
    parser.add_argument("--data", type=Path, default=REPO / "data" / "sbibm",
                        help="sbibm reference data (x0 of two_moons observation 1)")
    args = parser.parse_args()
    out = (args.out or Path(tempfile.mkdtemp(prefix="osbi-sbi-npe-peer-"))).resolve()
    out.mkdir(parents=True, exist_ok=True)
    x0 = setup_run(args.data, out, args.quick)
    for name in ("maf", "nsf"):
        for batch in (200, 1024):
            bench_train_step(name, batch, args.quick)
    if not args.no_run:
        for name in ("maf", "nsf"):
            bench_two_moons(name, args.quick, x0, out)
    save_records(out, "sbi_npe_peer.json")


if __name__ == "__main__":
    main()
