"""Benchmark (b): streaming anomaly metrics vs sklearn on N pixels.

Baseline, measured in the same run: sklearn's ``roc_auc_score`` + ``average_precision_score``
on the full arrays (exact; sorts all N scores). Candidate: ``DetectionAccumulator`` fed in
image-sized chunks (update) then ``compute``. Reports time and peak memory of each and their
ratios; memory of the candidate's state is constant in N.

Usage: .venv/bin/python benchmarks/anomaly_metrics.py [--pixels 10000000] [--bins 10000]
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

from segrel.evaluate.metrics import DetectionAccumulator


def measure(fn):
    tracemalloc.start()
    start = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return result, seconds, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pixels", type=int, default=10_000_000)
    parser.add_argument("--bins", type=int, default=10_000)
    parser.add_argument("--chunk", type=int, default=2048 * 1024, help="pixels per update (one Cityscapes image)")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    is_anomaly = rng.random(args.pixels) < 0.05
    entropy = np.clip(rng.gamma(2.0, 0.2, args.pixels) + 0.8 * is_anomaly, 0, np.log(19)).astype(np.float32)

    def baseline():
        return roc_auc_score(is_anomaly, entropy), average_precision_score(is_anomaly, entropy)

    def streaming():
        acc = DetectionAccumulator(0.0, float(np.log(19)), bins=args.bins)
        for start in range(0, args.pixels, args.chunk):
            acc.update(entropy[start : start + args.chunk], is_anomaly[start : start + args.chunk])
        result = acc.compute()
        return result["auroc"], result["aupr"]

    (auroc_ref, ap_ref), t_ref, m_ref = measure(baseline)
    (auroc, ap), t_new, m_new = measure(streaming)
    print(f"pixels={args.pixels:.0e} bins={args.bins} chunk={args.chunk}")
    print(f"sklearn roc_auc+AP : {t_ref:7.2f} s  peak {m_ref / 2**20:8.1f} MiB  AUROC {auroc_ref:.6f}  AP {ap_ref:.6f}")
    print(f"segrel streaming   : {t_new:7.2f} s  peak {m_new / 2**20:8.1f} MiB  AUROC {auroc:.6f}  AP {ap:.6f}")
    print(f"speed-up x{t_ref / t_new:.1f}   peak-memory ratio x{m_ref / m_new:.1f}   "
          f"|dAUROC| {abs(auroc - auroc_ref):.1e}  |dAP| {abs(ap - ap_ref):.1e}")


if __name__ == "__main__":
    main()
