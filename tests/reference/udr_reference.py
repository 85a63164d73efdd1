"""UDR scores computed by disentanglement_lib's own `evaluation/udr/metrics/udr.py`.

Independent of the project: it imports only numpy, scipy and scikit-learn, and loads
disentanglement_lib's file from a path (its `gin` and `absl` imports are stubbed: the file uses
them only for a decorator and for logging). disentanglement_lib's code is not part of this
repository. To regenerate `udr.json` next to this file:

    git clone https://github.com/google-research/disentanglement_lib /tmp/dlib-src   # or the search tool's fetch
    python3.11 -m venv /tmp/sk122
    /tmp/sk122/bin/pip install numpy==1.26.4 scipy==1.11.4 scikit-learn==1.2.2     # the authors' scikit-learn
    /tmp/sk122/bin/python tests/reference/udr_reference.py \
        /tmp/dlib-src/disentanglement_lib/evaluation/udr/metrics/udr.py

The committed file was made that way (its `versions` say so). Run with this project's pinned
numpy 2.4.6 / scipy 1.17.1 / scikit-learn 1.9.1 instead, every number agreed with it to 7e-16
and every RandomState ended in the same place.

tests/metrics/test_udr.py rebuilds the same inputs (`CASES`, `make_models`: legacy RandomState
streams) and compares the project's `metrics.udr.compute_udr_sklearn` with these numbers to
1e-9, including where the RandomState is left afterwards.

The synthetic ground truth: observations are F = 4 independent uniform factors
(`sample_observations(n, rs) = rs.uniform(size=(n, 4))`). Each "model" maps them to 5 codes and
reports a KL per latent:
  disentangled  the factors, one per code, through a monotone nonlinearity, plus a fifth code
                that is a small function of all factors (so no matrix is exactly diagonal);
  permuted      the same codes permuted and rescaled (UDR should score it as high);
  rotated       the disentangled codes mixed by a random rotation (UDR should score it low);
  dead          the disentangled codes with one code constant and its KL 0.001 (filtered);
  borderline    one code's KL 0.03: above the zeroing threshold (0.01, hard-coded in
                disentanglement_lib) but below a kl_filter_threshold of 0.05.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import types
from pathlib import Path

import numpy as np

NUM_FACTORS, NUM_CODES = 4, 5
# (name, models, correlation_matrix, filter_low_kl, kl_filter_threshold, batch_size, num_points, seed)
CASES = [
    ("lasso_filtered", ["disentangled", "permuted", "rotated", "dead"], "lasso", True, 0.01, 10, 200, 0),
    ("lasso_unfiltered", ["disentangled", "permuted", "rotated", "dead"], "lasso", False, 0.01, 10, 200, 1),
    ("spearman_filtered", ["disentangled", "permuted", "rotated", "dead"], "spearman", True, 0.01, 10, 200, 2),
    ("spearman_unfiltered", ["disentangled", "permuted", "rotated", "dead"], "spearman", False, 0.01, 10, 200, 3),
    ("lasso_two_thresholds", ["disentangled", "borderline", "permuted"], "lasso", True, 0.05, 20, 300, 4),
    ("spearman_two_thresholds", ["disentangled", "borderline", "permuted"], "spearman", True, 0.05, 20, 300, 5),
]


class UniformFactors:
    """The ground truth: observations are the factors themselves, uniform on [0, 1)."""

    def sample_observations(self, num, random_state):
        return random_state.uniform(size=(num, NUM_FACTORS))


def make_models(names):
    """{name: fn(observations [n, 4]) -> (codes [n, 5], kl [5])} for the named models."""
    rotation = np.linalg.qr(np.random.RandomState(123).normal(size=(NUM_CODES, NUM_CODES)))[0]
    permutation, scales = np.array([3, 0, 4, 1, 2]), np.array([2.0, -0.5, 3.0, 1.5, -4.0])

    def disentangled(x):
        codes = np.concatenate([np.tanh(2 * x - 1), 0.1 * np.sin(3 * x.sum(axis=1, keepdims=True))], axis=1)
        return codes, np.array([0.9, 0.8, 1.1, 0.7, 0.2])

    def permuted(x):
        codes, kl = disentangled(x)
        return codes[:, permutation] * scales, kl[permutation]

    def rotated(x):
        codes, kl = disentangled(x)
        return codes @ rotation, np.full(NUM_CODES, 0.6)

    def dead(x):
        codes, kl = disentangled(x)
        codes = codes.copy()
        codes[:, 2] = 0.5
        return codes, np.array([0.9, 0.8, 0.001, 0.7, 0.2])

    def borderline(x):
        codes, kl = disentangled(x)
        return codes, np.array([0.9, 0.03, 1.1, 0.7, 0.2])

    table = {
        "disentangled": disentangled,
        "permuted": permuted,
        "rotated": rotated,
        "dead": dead,
        "borderline": borderline,
    }
    return [table[name] for name in names]


def load_udr(path):
    """disentanglement_lib's udr.py as a module, with `gin.tf` and `absl.logging` stubbed."""
    gin = types.ModuleType("gin")
    gin.configurable = lambda *args, **kwargs: lambda function: function
    gin.tf = types.ModuleType("gin.tf")
    absl = types.ModuleType("absl")
    absl.logging = types.SimpleNamespace(info=lambda *args, **kwargs: None)
    sys.modules.update({"gin": gin, "gin.tf": gin.tf, "absl": absl, "absl.logging": absl.logging})
    spec = importlib.util.spec_from_file_location("dlib_udr", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(path):
    import warnings

    import scipy
    import sklearn

    udr = load_udr(path)
    out = {
        "versions": {"numpy": np.__version__, "scipy": scipy.__version__, "sklearn": sklearn.__version__},
        "source": "disentanglement_lib/evaluation/udr/metrics/udr.py",
        "cases": {},
    }
    for name, models, matrix, filter_low_kl, threshold, batch_size, num_points, seed in CASES:
        random_state = np.random.RandomState(seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # constant codes: spearmanr warns and returns nan
            scores = udr.compute_udr_sklearn(
                UniformFactors(),
                make_models(models),
                random_state,
                batch_size,
                num_points,
                correlation_matrix=matrix,
                filter_low_kl=filter_low_kl,
                include_raw_correlations=True,
                kl_filter_threshold=threshold,
            )
        out["cases"][name] = {
            "model_scores": [float(v) for v in scores["model_scores"]],
            "pairwise_disentanglement_scores": scores["pairwise_disentanglement_scores"],
            "raw_correlations": np.nan_to_num(np.asarray(scores["raw_correlations"]), nan=-1.0).tolist(),
            "raw_correlations_nan": np.isnan(np.asarray(scores["raw_correlations"])).tolist(),
            # Where the RandomState is left: the next draw.
            "next_randint": int(random_state.randint(2**31 - 1)),
        }
        print(name, [round(v, 6) for v in out["cases"][name]["model_scores"]])
    target = Path(__file__).with_name("udr.json")
    target.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {target}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python tests/reference/udr_reference.py PATH/TO/disentanglement_lib/.../udr.py")
    main(sys.argv[1])
