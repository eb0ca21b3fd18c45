#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""PyTorch peer of bench/gpu/bench_gpu.cpp, on one GPU (--device cuda) or the CPU (--device cpu).

Cases, named as ours with a `peer_` prefix:
* dense fwd+bwd: torch.nn.Linear(512, 512) at batch 4096, forward + gradients w.r.t. the input,
  weight and bias (3 x 2*m*n*k FLOPs), as osbi's dense_forward + dense_backward_input +
  dense_backward_parameters;
* the sbi-default MAF training step (zero_grad, mean NLL, backward, clip_grad_norm_(5), Adam lr 5e-4)
  on two_moons, pre-shuffled contiguous batches of 200 / 4096 / 65536 out of 131072 simulations.
fp32 throughout: TF32 matmuls are switched off, as our kernels compute in fp32.

The MAF/MADE and two_moons definitions are copied from the project's peer baseline
peer_torch_npe.py (an independent re-implementation of sbi's default NPE network; no sbi/nflows
import), so that this script stands alone.

    python3 bench/gpu/peer_torch_gpu.py --device cuda --json peer.json
    python3 bench/gpu/peer_torch_gpu.py --device cpu --quick     # skips batch 65536
"""
import argparse
import json
import math
import platform
import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn


# --------------------------------------------------------------------------- two_moons (sbibm)
class TwoMoons:
    dim_theta = 2
    dim_x = 2

    def prior_sample(self, n, g):
        return torch.rand(n, 2, generator=g) * 2.0 - 1.0

    def simulate(self, theta, g):
        n = theta.shape[0]
        a = (torch.rand(n, generator=g) - 0.5) * math.pi  # U(-pi/2, pi/2)
        r = 0.1 + 0.01 * torch.randn(n, generator=g)  # N(0.1, 0.01^2)
        px = r * torch.cos(a) + 0.25
        py = r * torch.sin(a)
        s = 1.0 / math.sqrt(2.0)
        x0 = px - torch.abs(theta[:, 0] + theta[:, 1]) * s
        x1 = py + (-theta[:, 0] + theta[:, 1]) * s
        return torch.stack([x0, x1], dim=1)


# --------------------------------------------------------------------------- sbi-default MAF
def input_degrees(d):
    return torch.arange(1, d + 1)


def hidden_degrees(h, d):
    hi = max(1, d - 1)
    lo = min(1, d - 1)
    return torch.arange(h) % hi + lo


class MaskedLinear(nn.Linear):
    """Dense layer whose weight is multiplied by a fixed 0/1 mask on every call (as nflows)."""

    def __init__(self, in_deg, out_deg, output_layer):
        super().__init__(len(in_deg), len(out_deg))
        if output_layer:
            mask = (out_deg[:, None] > in_deg[None, :]).float()
        else:
            mask = (out_deg[:, None] >= in_deg[None, :]).float()
        self.register_buffer("mask", mask)

    def forward(self, inp):
        return F.linear(inp, self.weight * self.mask, self.bias)


class MADE(nn.Module):
    def __init__(self, d, c, hidden=50, blocks=2, mult=2):
        super().__init__()
        din = input_degrees(d)
        dh = hidden_degrees(hidden, d)
        self.inp = MaskedLinear(din, dh, False)
        self.ctx = nn.Linear(c, hidden)
        self.hid = nn.ModuleList([MaskedLinear(dh, dh, False) for _ in range(blocks)])
        self.out = MaskedLinear(dh, input_degrees(d).repeat_interleave(mult), True)

    def forward(self, y, c):
        h = self.inp(y) + torch.tanh(self.ctx(c))
        h = torch.tanh(h)
        for layer in self.hid:
            h = torch.tanh(layer(h))
        return self.out(h)


class AffineMAF(nn.Module):
    """y -> z = (softplus(a(y_<i)) + eps) * y + b(y_<i)."""

    eps = 1e-3

    def __init__(self, d, c, hidden, blocks):
        super().__init__()
        self.d = d
        self.made = MADE(d, c, hidden, blocks, 2)

    def forward(self, y, c):
        p = self.made(y, c).view(-1, self.d, 2)
        scale = F.softplus(p[..., 0]) + self.eps
        return scale * y + p[..., 1], torch.log(scale).sum(dim=1)


class ConditionalMAF(nn.Module):
    """5 x [MADE affine transform, permutation], z-scored theta (with its log-det) and x."""

    def __init__(self, theta_train, x_train, num_transforms=5, hidden=50, blocks=2, perm_seed=0):
        super().__init__()
        d, c = theta_train.shape[1], x_train.shape[1]
        self.register_buffer("t_mean", theta_train.mean(0))
        self.register_buffer("t_std", theta_train.std(0).clamp_min(1e-14))
        self.register_buffer("x_mean", x_train.mean(0))
        self.register_buffer("x_std", x_train.std(0).clamp_min(1e-14))
        self.mafs = nn.ModuleList([AffineMAF(d, c, hidden, blocks) for _ in range(num_transforms)])
        g = torch.Generator().manual_seed(perm_seed)
        for i in range(num_transforms):
            self.register_buffer(f"perm{i}", torch.randperm(d, generator=g))
        self.log_z = 0.5 * d * math.log(2.0 * math.pi)

    def log_prob(self, theta, x):
        c = (x - self.x_mean) / self.x_std
        y = (theta - self.t_mean) / self.t_std
        logdet = -torch.log(self.t_std).sum()
        for i, maf in enumerate(self.mafs):
            y, ld = maf(y, c)
            logdet = logdet + ld
            y = y[:, getattr(self, f"perm{i}")]
        return -0.5 * (y * y).sum(dim=1) - self.log_z + logdet


# --------------------------------------------------------------------------- timing
def seconds_per_call(step, sync, min_time, repeats=3, warmup=3, warmup_seconds=1.0):
    """As bench/support/timing.hpp: warm-up, then `repeats` windows of >= min_time; the median.
    The warm-up also runs for warmup_seconds: one run measured cuBLAS' dense case at half the speed
    of the next with calls alone (lazy initialization, clocks ramping up)."""
    for _ in range(warmup):
        step()
    sync()
    start = time.perf_counter()
    while time.perf_counter() - start < warmup_seconds:
        step()
        sync()
    windows = []
    for _ in range(repeats):
        calls, start = 0, time.perf_counter()
        while True:
            step()
            sync()
            calls += 1
            elapsed = time.perf_counter() - start
            if elapsed >= min_time:
                break
        windows.append(elapsed / calls)
    return statistics.median(windows)


def dense_gflops(device, sync, min_time, batch=4096, features=512):
    g = torch.Generator().manual_seed(0)
    layer = nn.Linear(features, features).to(device)
    x = torch.randn(batch, features, generator=g).to(device).requires_grad_(True)
    grad_y = torch.randn(batch, features, generator=g).to(device)
    inputs = (x, layer.weight, layer.bias)

    def step():
        torch.autograd.grad(layer(x), inputs, grad_y)

    seconds = seconds_per_call(step, sync, min_time)
    return 3 * 2.0 * batch * features * features / seconds / 1e9


def maf_samples_per_s(device, sync, min_time, batch, n=131_072, seed=0):
    task = TwoMoons()
    g = torch.Generator().manual_seed(seed)
    theta = task.prior_sample(n, g)
    x = task.simulate(theta, g)
    torch.manual_seed(seed)
    flow = ConditionalMAF(theta, x, perm_seed=seed).to(device)
    opt = torch.optim.Adam(flow.parameters(), lr=5e-4)
    perm = torch.randperm(n)
    theta, x = theta[perm].contiguous().to(device), x[perm].contiguous().to(device)
    batches, state = n // batch, {"i": 0}

    def step():
        i = state["i"] % batches
        state["i"] += 1
        rows = slice(i * batch, (i + 1) * batch)
        opt.zero_grad()
        loss = -flow.log_prob(theta[rows], x[rows]).mean()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(flow.parameters(), max_norm=5.0)
        opt.step()

    return batch / seconds_per_call(step, sync, min_time)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", choices=["cuda", "cpu"], default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--json", default=None, help="write the cases and the environment to this file")
    p.add_argument("--min-time", type=float, default=0.5, help="seconds per timed window")
    p.add_argument("--quick", action="store_true", help="skip batch 65536 (for CPU testing)")
    args = p.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu"
    print(f"torch peer: torch {torch.__version__} on {args.device} ({name}), {torch.get_num_threads()} CPU threads",
          flush=True)
    cases = {}

    def report(case, value, text):
        cases[case] = value
        print(f"{text}\nCASE {case} {value:.3f}", flush=True)

    gflops = dense_gflops(device, sync, args.min_time)
    report("peer_dense_4096x512x512_gflops", gflops, f"dense 4096x512x512 fwd+bwd    {gflops:12.1f} GFLOP/s")
    for batch in [200, 4096] + ([] if args.quick else [65536]):
        rate = maf_samples_per_s(device, sync, args.min_time, batch)
        report(f"peer_maf_two_moons_b{batch}_samples_per_s", rate,
               f"maf two_moons batch {batch:5d}     {rate:12.0f} samples/s  {1e3 * batch / rate:8.3f} ms/step")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"environment": {"torch": torch.__version__, "device": args.device, "device_name": name,
                                       "python": platform.python_version(),
                                       "cpu_threads": torch.get_num_threads()},
                       "cases": cases}, fh, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
