#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Plots of example 02's output folder: posterior_pairs.png (pair plot of the posterior samples with the
true θ) and loss_curve.png (training loss per step, validation loss, simulations over time; the loss is the
estimator's own: NLL for the flow, flow matching or score matching, named in summary.txt).
Needs numpy and matplotlib (Debian: python3-numpy python3-matplotlib)."""
import pathlib, sys

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

out = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "demo-output")
names = ["log10 D", "v_x", "v_y", "x0", "y0", "log10 q"]
bounds = [(-3, -1), (-0.5, 0.5), (-0.5, 0.5), (0.25, 0.75), (0.25, 0.75), (-1, 1)]
samples = np.load(out / "posterior_samples.npy")
truth = np.load(out / "true_theta.npy")
observation = np.load(out / "observation.npy")

d = samples.shape[1]
fig, axes = plt.subplots(d, d, figsize=(2.1 * d, 2.1 * d))
for i in range(d):
    for j in range(d):
        ax = axes[i, j]
        if j > i:
            ax.axis("off")
            continue
        if i == j:
            ax.hist(samples[:, j], bins=60, range=bounds[j], color="tab:blue", alpha=0.8)
            ax.axvline(truth[j], color="tab:red")
            ax.set_yticks([])
        else:
            ax.hist2d(samples[:, j], samples[:, i], bins=60, range=[bounds[j], bounds[i]], cmap="Blues")
            ax.plot(truth[j], truth[i], "o", color="tab:red", markersize=4)
        if i == d - 1:
            ax.set_xlabel(names[j])
        if j == 0 and i > 0:
            ax.set_ylabel(names[i])
inset = fig.add_axes([0.62, 0.62, 0.33, 0.33])
inset.imshow(observation, origin="lower", extent=[0, 1, 0, 1], cmap="viridis")
inset.plot(truth[3], truth[4], "x", color="white")
inset.set_title("held-back observation (32x32 block means)", fontsize=8)
fig.suptitle("osbi online SBI: posterior of the advection-diffusion parameters (red: true θ)")
fig.savefig(out / "posterior_pairs.png", dpi=110, bbox_inches="tight")

# summary.txt's first line: "estimator: <name> (<loss>)".
loss_name = "NLL"
summary = out / "summary.txt"
if summary.exists():
    first = summary.read_text().splitlines()[0]
    if first.startswith("estimator:") and "(" in first:
        loss_name = first[first.index("(") + 1:first.rindex(")")]
train = np.genfromtxt(out / "train_loss.csv", delimiter=",", names=True)
validation = np.genfromtxt(out / "validation.csv", delimiter=",", names=True, ndmin=1)
metrics = np.genfromtxt(out / "metrics.csv", delimiter=",", names=True, ndmin=1)
fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.2))
steps, loss = np.atleast_1d(train["step"]), np.atleast_1d(train["train_loss"])
window = max(1, len(loss) // 200)
smooth = np.convolve(loss, np.ones(window) / window, mode="valid")
left.plot(steps[window - 1:], smooth, label=f"training {loss_name} (mean of {window} steps)", color="tab:blue")
if validation.size:
    left.plot(validation["step"], validation["validation_loss"], "o-", markersize=2, label=f"validation {loss_name}", color="tab:orange")
left.set_xlabel("optimizer step")
left.set_ylabel("negative log-likelihood" if loss_name == "NLL" else loss_name)
left.legend()
left.set_title("loss")
if metrics.size:
    right.plot(metrics["seconds"], metrics["simulations"], label="simulations finished", color="tab:green")
    right.plot(metrics["seconds"], metrics["steps"], label="optimizer steps", color="tab:blue")
    right.set_xlabel("wall time [s]")
    right.legend()
    right.set_title("simulation and training, concurrently")
fig.tight_layout()
fig.savefig(out / "loss_curve.png", dpi=110)
print(f"wrote {out / 'posterior_pairs.png'} and {out / 'loss_curve.png'}")
