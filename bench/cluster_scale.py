"""How clustering scales: time and peak memory from 10k to 1M faces, and the cost
of assigning one new face to the people of a 1M-face library.

    .venv/bin/python bench/cluster_scale.py                       # 10k .. 1M
    .venv/bin/python bench/cluster_scale.py --sizes 100000        # one size
    .venv/bin/python bench/cluster_scale.py --assign-only 1000000 # one-face assignment only
    .venv/bin/python bench/cluster_scale.py --sizes 100000 --previous  # without the crowd
                                                  # rule and with the old pair penalty
    .venv/bin/python bench/cluster_scale.py --sizes 100000 --no-evidence  # no dates, poses, ages

Faces are the real SFace embeddings of LFW (``/tmp/lfw_sface.npz``, made by
``bench/clustering.py``; skipped with a message when absent) mixed with
synthetic ones: identities with unit-vector centres and faces spread around
them as widely as LFW's real identities are, sizes drawn from a heavy tail,
and 30 % strangers seen once; each face has a capture date, a pose and an
apparent age (``evidence``), so the clustering weighs all three as it does
in a library.
Each size runs in its own process so its peak memory (ru_maxrss) is its
own; torch/numpy use 2 threads (the machine's cores).

Bench-only dependencies: none beyond the project's.
"""

import argparse
import itertools
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

CACHE = Path("/tmp/lfw_sface.npz")
DIM = 128


def make_faces(n: int, seed: int = 0) -> tuple["np.ndarray", "np.ndarray"]:  # noqa: F821
    import numpy as np

    rng = np.random.default_rng(seed)
    parts, labels = [], []
    if CACHE.exists():
        data = np.load(CACHE)
        real = data["vectors"].astype(np.float32)[:n]
        _, real_labels = np.unique(data["labels"][: len(real)], return_inverse=True)
        # Spread of LFW's identities: mean squared distance between two faces of one person,
        # from per-identity sums (sum over pairs i != j of x_i . x_j = |S|^2 - n).
        sums = np.zeros((int(real_labels.max()) + 1, DIM))
        np.add.at(sums, real_labels, real)
        count = np.bincount(real_labels).astype(float)
        pairs = count * (count - 1)
        spread = float(np.sum(2 * pairs - 2 * (np.sum(sums**2, axis=1) - count)) / pairs.sum())
        parts.append(real)
        labels.append(real_labels)
        next_label = int(real_labels.max()) + 1
    else:
        print(f"note: {CACHE} is absent (run bench/clustering.py first); synthetic faces only",
              file=sys.stderr)
        spread, next_label = 0.8, 0
    left = n - sum(len(p) for p in parts)
    strangers = int(left * 0.3)
    sizes = []
    while sum(sizes) < left - strangers:
        sizes.append(int(min(500, 2 + rng.pareto(1.2) * 4)))
    sizes[-1] -= sum(sizes) - (left - strangers)
    sizes = [s for s in sizes if s > 0] + [1] * strangers
    sigma2 = spread / (DIM * (2 - spread))
    for start in range(0, len(sizes), 20000):
        chunk = np.array(sizes[start : start + 20000])
        centres = rng.normal(size=(len(chunk), DIM)).astype(np.float32)
        centres /= np.linalg.norm(centres, axis=1, keepdims=True)
        who = np.repeat(np.arange(len(chunk)), chunk)
        x = centres[who] + rng.normal(size=(len(who), DIM)).astype(np.float32) * np.sqrt(sigma2)
        parts.append(x / np.linalg.norm(x, axis=1, keepdims=True))
        labels.append(who + next_label)
        next_label += len(chunk)
    return np.concatenate(parts).astype(np.float32), np.concatenate(labels)


YEAR = 365.25 * 86400.0


def evidence(
    truth: "np.ndarray", seed: int = 1  # noqa: F821
) -> tuple["np.ndarray", "np.ndarray", "np.ndarray"]:  # noqa: F821
    """A capture date (seconds since 1970), a yaw (degrees) and an apparent age
    (years) per face, so the clustering pays for all three: each identity
    photographed over a few years from a year of its own, one face in ten
    turned into a profile, one identity in ten a child (0-12 years, the
    others 18-80), one face in twenty with none of them known."""
    import numpy as np

    rng = np.random.default_rng(seed)
    identities = int(truth.max()) + 1
    start = rng.uniform(2000, 2025, size=identities)
    dates = (start[truth] + rng.exponential(2.0, size=len(truth)) - 1970) * YEAR
    yaw = np.where(rng.random(len(truth)) < 0.1, rng.uniform(40, 70, len(truth)),
                   rng.uniform(0, 30, len(truth)))
    born = np.where(rng.random(identities) < 0.1, rng.uniform(0, 12, identities),
                    rng.uniform(18, 80, identities))
    ages = np.clip(born[truth] + rng.normal(0, 3, len(truth)), 0, 80)
    unknown = rng.random(len(truth)) < 0.05
    dates[unknown] = np.nan
    yaw[unknown] = np.nan
    ages[unknown] = np.nan
    return dates, yaw, ages


def clustering_params(previous: bool) -> "ClusterParams":  # noqa: F821
    """The defaults, or the method before crowds were looked for (``--previous``)."""
    from dataclasses import replace

    from engine.people.cluster import ClusterParams

    params = ClusterParams()
    return replace(params, crowd_reach=0.0, lone_penalty=0.05) if previous else params


def run_one(
    n: int, assign_trials: int, previous: bool = False, evidence_too: bool = True
) -> dict[str, float]:
    """Cluster n faces in this process; return timings and peak memory."""
    import numpy as np

    from engine.metrics import cluster_scores
    from engine.people.cluster import cluster
    from engine.people.update import AssignIndex, FaceTable

    x, truth = make_faces(n)
    dates, yaw, ages = evidence(truth)
    held_out = x[-assign_trials:]
    held_dates, held_yaw = dates[-assign_trials:], yaw[-assign_trials:]
    held_ages = ages[-assign_trials:]
    x, truth = x[:-assign_trials], truth[:-assign_trials]
    dates, yaw, ages = dates[:-assign_trials], yaw[:-assign_trials], ages[:-assign_trials]
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    params = clustering_params(previous)
    load_before = os.getloadavg()[0]
    cpu_before = _cpu_seconds()
    start = time.perf_counter()
    if not evidence_too:
        dates[:] = np.nan
        yaw[:] = np.nan
        held_dates[:] = np.nan
        held_yaw[:] = np.nan
        ages[:] = np.nan
        held_ages[:] = np.nan
    labels = cluster(x, None, params, dates=dates, poses=yaw, ages=ages)
    seconds = time.perf_counter() - start
    cpu = _cpu_seconds() - cpu_before
    load_after = os.getloadavg()[0]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    scores = cluster_scores(labels, truth)

    # One new face at a time against the people just found.
    table = FaceTable(
        ids=np.arange(len(x)), vectors=x, photo=np.arange(len(x)), person=labels,
        confirmed=np.zeros(len(x), dtype=bool), rejected={}, dates=dates, poses=yaw, ages=ages,
    )
    t0 = time.perf_counter()
    index = AssignIndex.from_table(table, params)
    index_seconds = time.perf_counter() - t0
    times = []
    for v, when, turned, age in zip(held_out, held_dates, held_yaw, held_ages, strict=True):
        t0 = time.perf_counter()
        index.assign(v, params, rejected=set(), photo=-1, years=when / YEAR, yaw=turned,
                     age=age)
        times.append(time.perf_counter() - t0)
    return {
        "faces": len(x),
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu, 2),  # user + system time of this process (2 threads)
        "load_average": round((load_before + load_after) / 2, 1),  # others share the cores
        "peak_rss_mib": round(peak / 1024, 1),
        "data_rss_mib": round(base_rss / 1024, 1),
        "people": int(labels.max()) + 1,
        "unassigned_fraction": round(scores.unassigned_fraction, 4),
        "bcubed_f1_vs_generated_identities": round(scores.bcubed_f1, 4),
        "assign_index_seconds": round(index_seconds, 2),
        "assign_ms_median": round(1000 * float(np.median(times)), 3),
        "assign_ms_p99": round(1000 * float(np.percentile(times, 99)), 3),
        "people_in_index": len(index.persons),
    }


def assign_only(n: int, trials: int) -> dict[str, float]:
    """Time one-face assignment against the generated identities as people (no clustering)."""
    import numpy as np

    from engine.people.cluster import ClusterParams
    from engine.people.update import AssignIndex, FaceTable

    x, truth = make_faces(n)
    held_out, x, truth = x[-trials:], x[:-trials], truth[:-trials]
    sizes = np.bincount(truth)
    person = np.where(sizes[truth] >= 2, truth, -1)  # strangers seen once are in no person
    table = FaceTable(
        ids=np.arange(len(x)), vectors=x, photo=np.arange(len(x)), person=person,
        confirmed=np.zeros(len(x), dtype=bool), rejected={},
    )
    t0 = time.perf_counter()
    index = AssignIndex.from_table(table)
    index_seconds = time.perf_counter() - t0
    params = ClusterParams()
    times = []
    for v in held_out:
        t0 = time.perf_counter()
        index.assign(v, params, rejected=set(), photo=-1)
        times.append(time.perf_counter() - t0)
    return {
        "faces": len(x), "people_in_index": len(index.persons),
        "assign_index_seconds": round(index_seconds, 2),
        "assign_ms_median": round(1000 * float(np.median(times)), 3),
        "assign_ms_p99": round(1000 * float(np.percentile(times, 99)), 3),
        "load_average": round(os.getloadavg()[0], 1),
    }


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+",
                        default=[10_000, 30_000, 100_000, 300_000, 1_000_000])
    parser.add_argument("--assign-trials", type=int, default=200)
    parser.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--no-evidence", action="store_true",
                        help="cluster without capture dates and poses, to compare")
    parser.add_argument("--previous", action="store_true",
                        help="cluster as before crowds were looked for, to compare")
    parser.add_argument("--assign-only", type=int, default=None, metavar="N",
                        help="only time one-face assignment in a library of N faces")
    args = parser.parse_args()
    if args.assign_only is not None:
        print(json.dumps(assign_only(args.assign_only, args.assign_trials)))
        return
    if args.one is not None:
        print(json.dumps(run_one(args.one, args.assign_trials, args.previous,
                                 not args.no_evidence)))
        return
    env = dict(os.environ, OMP_NUM_THREADS="2", OPENBLAS_NUM_THREADS="2", MKL_NUM_THREADS="2")
    rows = []
    for n in args.sizes:
        out = subprocess.run(
            [sys.executable, __file__, "--one", str(n), "--assign-trials",
             str(args.assign_trials), *(["--previous"] if args.previous else []),
             *(["--no-evidence"] if args.no_evidence else [])],
            capture_output=True, text=True, env=env, check=False,
        )
        if out.returncode != 0:
            print(out.stderr, file=sys.stderr)
            sys.exit(f"size {n} failed")
        row = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(json.dumps(row), flush=True)
    print("\n| faces | cluster s (wall) | CPU s | load avg | peak RSS MiB | people | unassigned "
          "| F1 vs generated | assign one face: median ms / p99 ms (index build s) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['faces']:,} | {r['seconds']} | {r.get('cpu_seconds', '')} | "
              f"{r.get('load_average', '')} | {r['peak_rss_mib']} | {r['people']:,} | "
              f"{r['unassigned_fraction']} | {r['bcubed_f1_vs_generated_identities']} | "
              f"{r['assign_ms_median']} / {r['assign_ms_p99']} ({r['assign_index_seconds']}) |")
    if len(rows) > 1:
        import math

        print("\nGrowth (log-log slope of time against faces between successive sizes):")
        for a, b in itertools.pairwise(rows):
            slope = math.log(b["seconds"] / a["seconds"]) / math.log(b["faces"] / a["faces"])
            print(f"  {a['faces']:,} -> {b['faces']:,}: time x{b['seconds'] / a['seconds']:.1f}"
                  f" for faces x{b['faces'] / a['faces']:.1f}  (slope {slope:.2f})")


if __name__ == "__main__":
    main()
