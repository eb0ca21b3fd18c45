# SPDX-License-Identifier: BSD-3-Clause
"""What the real-sbi peer benchmarks share (bench/npe/peer_sbi_npe.py, bench/vector_field/peer_sbi.py): one CPU
thread, sbi's two_moons prior and simulator (sbibm's, see data/sbibm/README.md), observation 1, and the JSON
records each script prints one per line and saves at its end. Import it after the script has set its thread
variables (before torch starts its pools)."""
import json
import math
import os
import platform
import random
import statistics
import time
from pathlib import Path

import numpy as np
import torch

import sbi
from sbi.utils import BoxUniform
from sbi.utils.torchutils import assert_all_finite
from torch.nn.utils.clip_grad import clip_grad_norm_

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


def train_samples_per_s(net, batches, loss, quick):
    """Samples per second of sbi's trainer step (Trainer._train_epoch, round 0) on `batches` of (θ, x): zero_grad,
    loss(θ, x) per row (checked finite, times the default calibration kernel of ones), its mean, the running loss
    sum's .item() (a synchronisation point), backward, clip_grad_norm_ 5, Adam 5e-4. 20 warm-up steps, then five
    runs of at least 0.5 s (quick) or 2 s: (their median, all five)."""
    net.train()
    optimizer = torch.optim.Adam(list(net.parameters()), lr=5e-4)
    batch = len(batches[0][0])

    def step(i):
        theta_b, x_b = batches[i % len(batches)]
        optimizer.zero_grad()
        losses = loss(theta_b, x_b)
        assert_all_finite(losses, "loss")
        losses = torch.ones(len(x_b)) * losses
        mean = torch.mean(losses)
        losses.sum().item()
        mean.backward()
        clip_grad_norm_(net.parameters(), max_norm=5.0)
        optimizer.step()

    for i in range(20):
        step(i)
    min_time = 0.5 if quick else 2.0
    rates = []
    for _ in range(5):
        steps, begin = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - begin) < min_time:
            step(steps)
            steps += 1
        rates.append(batch * steps / elapsed)
    return statistics.median(rates), rates


def setup_run(data, out, quick):
    """Observation 1's x0 from the sbibm folder `data`, the environment record, and `out` as the working folder
    (sbi's default TensorBoard tracker writes ./sbi-logs: it stays in the results)."""
    obs = Path(data).resolve() / "two_moons" / "num_observation_1" / "observation.csv"
    x0 = torch.tensor(np.loadtxt(obs, delimiter=",", skiprows=1), dtype=torch.float32)[None]
    os.chdir(out)
    emit(metric="environment", sbi=sbi.__version__, torch=torch.__version__, cpu=cpu_model(),
         threads=torch.get_num_threads(), python=platform.python_version(), quick=quick, out=str(out))
    return x0


def save_records(out, name):
    (Path(out) / name).write_text(json.dumps(records, indent=1) + "\n")
