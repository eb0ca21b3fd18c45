# SPDX-License-Identifier: BSD-3-Clause
"""Reads and tabulates a training-step profile (bench/support/kernel_profile.hpp's output as the benches print it:
`PROFILE_STEP <name> <batch> <µs/step> <µs in kernels>` and `PROFILE <name> <batch> <label> <µs/step> <launches/step>`),
kernel labels grouped by what they do. Shared by bench/npe/summarize.py and bench/vector_field/summarize.py.
Standard library only."""


def read_profile(path):
    """(steps, kernels): steps[(name, batch)] = (µs/step, µs/step inside kernels); kernels[(name, batch)] = a list
    of (label, µs/step, launches/step). Both empty when the file is missing."""
    steps, kernels = {}, {}
    if not path.exists():
        return steps, kernels
    for line in path.read_text().splitlines():
        parts = line.split()
        if parts[:1] == ["PROFILE_STEP"]:
            steps[(parts[1], int(parts[2]))] = (float(parts[3]), float(parts[4]))
        elif parts[:1] == ["PROFILE"]:
            # Labels may hold spaces: the last two fields are the numbers.
            kernels.setdefault((parts[1], int(parts[2])), []).append(
                (" ".join(parts[3:-2]), float(parts[-2]), float(parts[-1])))
    return steps, kernels


def print_profile_table(steps, kernels, groups, title, name_column="flow"):
    """One row per (name, batch): the step's µs and the % of it in each group ((name, predicate on the label), the
    first match wins), in the other kernels and outside any kernel; launches per step last."""
    if not steps:
        return
    names = [name for name, _ in groups] + ["other kernels", "outside kernels"]
    print(title)
    print(f"{name_column:<13} {'batch':>5} {'µs/step':>9} " + " ".join(f"{n:>15}" for n in names) + "   launches/step")
    for key in sorted(steps):
        total, inside = steps[key]
        shares = dict.fromkeys(names, 0.0)
        launches = 0.0
        for label, micros, calls in kernels.get(key, []):
            name = next((n for n, match in groups if match(label)), "other kernels")
            shares[name] += micros
            launches += calls
        shares["outside kernels"] = total - inside
        print(f"{key[0]:<13} {key[1]:>5} {total:9.0f} " + " ".join(f"{100 * shares[n] / total:14.1f}%" for n in names)
              + f"   {launches:.0f}")
