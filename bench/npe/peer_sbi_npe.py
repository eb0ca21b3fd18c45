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
import json
import math
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.nn.utils.clip_grad import clip_grad_norm_

import sbi
from sbi.inference import NPE
from sbi.utils import BoxUniform
from sbi.utils.torchutils import assert_all_finite

torch.set_num_threads(1)
torch.set_num_interop_threads(1)

REPO = Path(__file__).resolve().parents[2]
PRIOR = BoxUniform(low=-torch.ones(2), high=torch.ones(2))
records = []


def emit(**record):
    records.append(record)
    print(json.dumps(record), flush=True)


def seed(s):
    random.seed(s)
    np.random.seed(s)
    torch.manual_seed(s)


def two_moons(theta):
    """sbibm's two_moons simulator (see data/sbibm/README.md)."""
    n = theta.shape[0]
    a = (torch.rand(n) - 0.5) * math.pi  # U(-pi/2, pi/2)
    r = 0.1 + 0.01 * torch.randn(n)  # N(0.1, 0.01^2)
    p = torch.stack((r * torch.cos(a) + 0.25, r * torch.sin(a)), dim=1)
    z0 = (theta[:, 0] + theta[:, 1]) / math.sqrt(2.0)
    z1 = (theta[:, 1] - theta[:, 0]) / math.sqrt(2.0)
    return p + torch.stack((-z0.abs(), z1), dim=1)


def simulations(n):
    theta = PRIOR.sample((n,))
    return theta, two_moons(theta)


def cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def bench_train_step(name, batch, quick):
    seed(1)
    inference = NPE(prior=PRIOR, density_estimator=name, show_progress_bars=False)
    theta, x = simulations(10_000)
    # The builder the trainer calls (z-scoring statistics from the data, sbi's default network).
    net = inference._build_neural_net(theta, x)
    net.train()
    optimizer = torch.optim.Adam(list(net.parameters()), lr=5e-4)
    batches = list(zip(theta.split(batch), x.split(batch)))  # already in random order (prior draws)

    def step(i):
        # Trainer._train_epoch with NPE_C._loss in round 0 (calibration kernel: ones).
        theta_b, x_b = batches[i % len(batches)]
        optimizer.zero_grad()
        losses = net.loss(theta_b, x_b)
        assert_all_finite(losses, "NPE loss")
        losses = torch.ones(len(x_b)) * losses
        loss = torch.mean(losses)
        losses.sum().item()  # the trainer's running loss sum (a synchronisation point)
        loss.backward()
        clip_grad_norm_(net.parameters(), max_norm=5.0)
        optimizer.step()

    for i in range(20):  # warm-up
        step(i)
    min_time = 0.5 if quick else 2.0
    rates = []
    for _ in range(5):
        steps, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < min_time:
            step(steps)
            steps += 1
        rates.append(batch * steps / elapsed)
    emit(estimator=name, metric="train_samples_per_s", value=statistics.median(rates), batch=batch,
         repeats=rates, parameters=sum(p.numel() for p in net.parameters()))


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
    obs = args.data.resolve() / "two_moons" / "num_observation_1" / "observation.csv"
    x0 = torch.tensor(np.loadtxt(obs, delimiter=",", skiprows=1), dtype=torch.float32)[None]
    # sbi's default TensorBoard tracker writes ./sbi-logs: keep it in the results folder.
    os.chdir(out)

    emit(metric="environment", sbi=sbi.__version__, torch=torch.__version__, cpu=cpu_model(),
         threads=torch.get_num_threads(), python=platform.python_version(), quick=args.quick,
         out=str(out))
    for name in ("maf", "nsf"):
        for batch in (200, 1024):
            bench_train_step(name, batch, args.quick)
    if not args.no_run:
        for name in ("maf", "nsf"):
            bench_two_moons(name, args.quick, x0, out)
    (out / "sbi_npe_peer.json").write_text(json.dumps(records, indent=1) + "\n")


if __name__ == "__main__":
    main()
