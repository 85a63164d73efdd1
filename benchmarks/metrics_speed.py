"""Time each metric on a synthetic ground-truth data set with a cheap jitted representation.

    python benchmarks/metrics_speed.py                  # the paper's settings, all six
    python benchmarks/metrics_speed.py --scale 0.1      # a tenth of every point count
    python benchmarks/metrics_speed.py --reference      # also disentanglement_lib-style
                                                        # per-batch calls (MIG, FactorVAE, BetaVAE)

The data set has mpi3d_toy's factor sizes (4, 4, 2, 3, 3, 40, 40) by default; observations are
[64, 64, C] float32 images taken from a bank of stored uint8 images (so sampling costs what a
real in-memory data set costs), with the factors stamped into the first row. The
representation is a jitted linear projection of the flattened image to 10 codes plus the
stamped factors (so the scores are not trivial). The real checkpoint benchmark comes later.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import time
from pathlib import Path

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np

import metrics  # noqa: E402
from data.base import FactorSpace, GroundTruthData  # noqa: E402


class BankData(GroundTruthData):
    name = "synthetic_bank"

    def __init__(self, factor_sizes, channels=1, bank=2048, seed=0):
        self.factor_space = FactorSpace(factor_sizes, list(range(len(factor_sizes))))
        rs = np.random.RandomState(seed)
        self.images = rs.randint(0, 256, size=(bank, 64, 64, channels), dtype=np.uint8)
        self._sizes = np.asarray(factor_sizes)

    def sample_observations_from_factors(self, factors, random_state):
        all_factors = self.factor_space.sample_all_factors(factors, random_state)
        idx = self.factor_space.index_of(all_factors) % self.images.shape[0]
        obs = self.images[idx].astype(np.float32) * np.float32(1 / 255)
        obs[:, 0, :len(self._sizes), 0] = all_factors / (self._sizes - 1)
        return obs


def make_representation(data, num_codes=10, seed=0):
    shape = data.observation_shape
    nf = data.num_factors
    rng = np.random.RandomState(seed)
    w = jnp.asarray(rng.randn(int(np.prod(shape)), num_codes).astype(np.float32) * 1e-3)
    mix = jnp.asarray(np.eye(nf, num_codes, dtype=np.float32)
                      + 0.2 * rng.randn(nf, num_codes).astype(np.float32))

    @jax.jit
    def f(x):
        return x.reshape(x.shape[0], -1) @ w + x[:, 0, :nf, 0] @ mix

    def rep(obs):
        return np.asarray(f(jnp.asarray(obs)))

    return rep


def scaled_settings(scale):
    s = lambda n: max(int(n * scale), 64)  # noqa: E731
    return {"mig": {"num_train": s(10000)},
            "modularity": {"num_train": s(10000), "num_test": s(5000)},
            "sap": {"num_train": s(10000), "num_test": s(5000)},
            "factor_vae": {"num_train": s(10000), "num_eval": s(5000),
                           "num_variance_estimate": s(10000)},
            "beta_vae": {"num_train": s(10000), "num_eval": s(5000)},
            "dci": {"num_train": s(10000), "num_test": s(5000)}}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scale", type=float, default=1.0, help="fraction of the paper's counts")
    p.add_argument("--channels", type=int, default=1)
    p.add_argument("--factors", type=str, default="4,4,2,3,3,40,40")
    p.add_argument("--metrics", type=str, default=",".join(metrics.METRIC_NAMES))
    p.add_argument("--reference", action="store_true",
                   help="also time per-batch (disentanglement_lib-style) MIG/FactorVAE/BetaVAE")
    p.add_argument("--progress", action="store_true")
    args = p.parse_args()

    data = BankData([int(x) for x in args.factors.split(",")], channels=args.channels)
    rep = make_representation(data)
    rep(np.zeros([16] + data.observation_shape, np.float32))  # compile outside the timings
    settings = scaled_settings(args.scale)
    selected = args.metrics.split(",")
    print(f"{data.describe()}; scale {args.scale}; jax {jax.default_backend()}; "
          f"{os.cpu_count()} CPUs")
    start = time.perf_counter()
    out = metrics.evaluate_all(data, rep, np.random.RandomState(42), metrics=selected,
                               progress=args.progress, settings=settings)
    total = time.perf_counter() - start
    for name in metrics.METRIC_NAMES:
        if f"time_{name}" in out:
            print(f"  {name:<11} {out[f'time_{name}']:8.2f} s")
    print(f"  {'total':<11} {total:8.2f} s")
    print("  scores: " + ", ".join(f"{k}={v:.4f}" for k, v in out.items()
                                   if not k.startswith("time_")))

    if args.reference:
        reference = _load_reference()
        ref_beta_vae, ref_factor_vae, ref_mig = reference.ref_beta_vae, reference.ref_factor_vae, reference.ref_mig
        print("per-batch reference (disentanglement_lib-style calls), same settings:")
        for name, fn, kw in [
                ("mig", ref_mig, {"num_train": settings["mig"]["num_train"]}),
                ("factor_vae", ref_factor_vae, settings["factor_vae"]),
                ("beta_vae", ref_beta_vae, settings["beta_vae"])]:
            if name not in selected:
                continue
            t = time.perf_counter()
            fn(data, rep, np.random.RandomState(42), **kw)
            print(f"  {name:<11} {time.perf_counter() - t:8.2f} s")


if __name__ == "__main__":
    main()


def _load_reference():
    """tests/metrics_reference.py (the per-batch reference calls), loaded from its file: the tests
    are not an installed package."""
    path = Path(__file__).resolve().parents[1] / "tests" / "metrics_reference.py"
    spec = importlib.util.spec_from_file_location("metrics_reference", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
