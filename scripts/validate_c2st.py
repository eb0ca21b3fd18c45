#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Validates osbi's C2ST against scikit-learn on the same samples.

Runs the driver (bench target osbi_c2st_vs_sklearn), which writes <case>_reference.npy and
<case>_approximate.npy and prints osbi's C2ST per case, then computes sbibm's C2ST
(sbibm/metrics/c2st.py: z-score with the reference's mean and unbiased std, MLPClassifier(relu,
(10D, 10D), max_iter=1000, adam), KFold(5, shuffle=True), mean accuracy) with scikit-learn for
several seeds, and prints both.

Usage: /usr/bin/python3 scripts/validate_c2st.py <driver> <output_dir> [--data DIR] [--seeds N] [case...]
"""
import argparse
import re
import subprocess
import sys
import time

import numpy as np
from sklearn.model_selection import KFold, cross_val_score
from sklearn.neural_network import MLPClassifier


def sbibm_c2st(reference, approximate, seed=1, n_folds=5):
    # sbibm z-scores float32 torch tensors with torch.std (unbiased); float64 here, as osbi.
    mean = reference.mean(axis=0)
    std = reference.std(axis=0, ddof=1)
    x = (reference - mean) / std
    y = (approximate - mean) / std
    ndim = x.shape[1]
    clf = MLPClassifier(activation="relu", hidden_layer_sizes=(10 * ndim, 10 * ndim), max_iter=1000,
                        solver="adam", random_state=seed)
    data = np.concatenate((x, y))
    target = np.concatenate((np.zeros((x.shape[0],)), np.ones((y.shape[0],))))
    shuffle = KFold(n_splits=n_folds, shuffle=True, random_state=seed)
    scores = cross_val_score(clf, data, target, cv=shuffle, scoring="accuracy")
    return float(np.mean(scores))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("driver")
    parser.add_argument("output_dir")
    parser.add_argument("--data", default="data", help="the repository's data/ folder")
    parser.add_argument("--seeds", type=int, default=3, help="sklearn seeds per case (1..N)")
    parser.add_argument("cases", nargs="*")
    args = parser.parse_intermixed_args()

    run = subprocess.run([args.driver, args.output_dir, args.data] + args.cases, check=True,
                         capture_output=True, text=True)
    print(f"{'case':30s} {'osbi':>8s} {'sklearn(seeds)':>30s} {'sk mean':>8s} {'osbi-sk':>8s} {'osbi s':>7s} {'sk s':>7s}")
    for line in run.stdout.splitlines():
        match = re.match(r"CASE (\S+) osbi (\S+) seconds (\S+)", line)
        if not match:
            continue
        name, ours, our_seconds = match.group(1), float(match.group(2)), float(match.group(3))
        reference = np.load(f"{args.output_dir}/{name}_reference.npy")
        approximate = np.load(f"{args.output_dir}/{name}_approximate.npy")
        start = time.time()
        theirs = [sbibm_c2st(reference, approximate, seed=s) for s in range(1, args.seeds + 1)]
        seconds = (time.time() - start) / args.seeds
        mean = float(np.mean(theirs))
        print(f"{name:30s} {ours:8.4f} {' '.join(f'{v:.4f}' for v in theirs):>30s} {mean:8.4f} "
              f"{ours - mean:+8.4f} {our_seconds:7.2f} {seconds:7.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
