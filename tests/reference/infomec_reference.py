"""InfoMEC computed by the QLAE authors' own `disentangle/metrics/infomec.py` (latent_quantization).

Independent of the project: it imports only numpy and scikit-learn and loads the authors' file
from a path; their code is not part of this repository. It is run as that code runs under this
project's pinned scikit-learn (1.9.1), with the only two changes today's versions need, made
from outside their file:
- `mutual_info_classif(...)` returns an array of one element per call there: the first is
  taken (numpy 2 refuses to store a one-element array into a float slot);
- `LogisticRegression` no longer accepts `multi_class`: it is dropped (lbfgs is multinomial).
Their `mutual_info_classif` draws a 1e-10 jitter from numpy's global random state; it is seeded
once (0) before each case, so this file's numbers repeat. To regenerate `infomec.json`:

    # the search tool's fetch, or: git clone https://github.com/kylehkhsu/latent_quantization /tmp/lq
    git -C /tmp/lq checkout 9a420a3
    .venv/bin/python tests/reference/infomec_reference.py /tmp/lq/disentangle/metrics/infomec.py

tests/metrics/test_infomec.py rebuilds the same inputs (`CASES`, `make_case`) and compares the
project's `metrics.infomec.compute_infomec` with these numbers to 1e-9.

The cases (sources: 5 factors of sizes 3, 6, 10, 8, 8, drawn uniformly; n points):
  discrete_aligned     each factor quantized into its own latent, plus a constant latent
                       (inactive), a latent that is almost always one value (active: range > 0),
                       a copy of factor 0, a mix of factors 1 and 2, and noise codes;
  discrete_entangled   every latent a quantized random mixture of all factors;
  continuous_aligned   each factor through its own monotone nonlinearity plus noise, a constant
                       latent, a near-constant one (range below a twentieth of the widest:
                       pruned), a mix of factors, and a pure-noise latent;
  continuous_entangled the aligned codes rotated by a random orthogonal matrix;
  continuous_few_sources  two sources only, three latents (one informative).
"""
from __future__ import annotations

import importlib.util
import json
import sys
import types
from pathlib import Path

import numpy as np

FACTOR_SIZES = (3, 6, 10, 8, 8)
# (name, discrete latents, number of points, seed)
CASES = [
    ("discrete_aligned", True, 1500, 0),
    ("discrete_entangled", True, 1500, 1),
    ("continuous_aligned", False, 1500, 2),
    ("continuous_entangled", False, 1500, 3),
    ("continuous_few_sources", False, 800, 4),
]


def _quantize(values: np.ndarray, levels: int) -> np.ndarray:
    """Values mapped to `levels` evenly spaced float codes in [-0.5, 0.5] (as a QLAE codebook)."""
    edges = np.quantile(values, np.linspace(0, 1, levels + 1)[1:-1])
    return np.linspace(-0.5, 0.5, levels)[np.digitize(values, edges)]


def make_case(name: str, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(sources [n, S] float factor values, latents [n, L] float) of a case, from RandomState(seed)."""
    rs = np.random.RandomState(seed)
    sizes = FACTOR_SIZES[:2] if name == "continuous_few_sources" else FACTOR_SIZES
    factors = np.stack([rs.randint(size, size=n) for size in sizes], axis=1)
    sources = factors / np.maximum(np.array(sizes) - 1, 1)   # factor values in [0, 1], as a data set's
    unit = sources - 0.5
    if name == "discrete_aligned":
        rare = np.where(rs.uniform(size=n) < 0.01, 0.5, -0.5)
        columns = [_quantize(unit[:, i] + 0.01 * rs.standard_normal(n), 10) for i in range(5)]
        columns += [np.full(n, 0.1), rare, columns[0].copy(), _quantize(unit[:, 1] + unit[:, 2], 10),
                    _quantize(rs.standard_normal(n), 10)]
        return sources, np.stack(columns, axis=1)
    if name == "discrete_entangled":
        mixed = unit @ rs.standard_normal((5, 8))
        return sources, np.stack([_quantize(mixed[:, j], 10) for j in range(8)], axis=1)
    if name == "continuous_few_sources":
        latents = np.stack([np.tanh(2 * unit[:, 0]) + 0.05 * rs.standard_normal(n), rs.standard_normal(n),
                            0.3 * rs.standard_normal(n)], axis=1)
        return sources, latents
    columns = [np.tanh(2 * unit[:, 0]), unit[:, 1] ** 3, np.exp(unit[:, 2]), unit[:, 3], np.sin(unit[:, 4])]
    columns = [c + 0.02 * rs.standard_normal(n) for c in columns]
    columns += [np.full(n, -0.3), 1e-3 * rs.standard_normal(n), unit[:, 0] + unit[:, 3],
                rs.standard_normal(n) * 0.2]
    latents = np.stack(columns, axis=1)
    if name == "continuous_entangled":
        rotation, _ = np.linalg.qr(rs.standard_normal((latents.shape[1], latents.shape[1])))
        latents = latents @ rotation
    return sources, latents


def load_reference(path: str) -> types.ModuleType:
    """The authors' module from its file, with the two adaptations made from outside it."""
    spec = importlib.util.spec_from_file_location("reference_infomec", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sklearn_selection, sklearn_linear = module.feature_selection, module.linear_model

    def first_mutual_info(*args, **kwargs):
        return sklearn_selection.mutual_info_classif(*args, **kwargs)[0]

    def logistic_regression(**kwargs):
        kwargs.pop("multi_class", None)
        return sklearn_linear.LogisticRegression(**kwargs)

    module.feature_selection = types.SimpleNamespace(mutual_info_classif=first_mutual_info)
    module.linear_model = types.SimpleNamespace(LogisticRegression=logistic_regression)
    return module


def main(path: str) -> None:
    import warnings

    import sklearn
    warnings.simplefilter("ignore")   # their 100 lbfgs iterations warn; the deprecations too
    reference = load_reference(path)
    out = {"source": "latent_quantization 9a420a3 disentangle/metrics/infomec.py",
           "versions": {"numpy": np.__version__, "sklearn": sklearn.__version__}, "cases": {}}
    for name, discrete, n, seed in CASES:
        sources, latents = make_case(name, n, seed)
        np.random.seed(0)
        result = reference.compute_infomec(sources, latents, discrete)
        out["cases"][name] = {"infom": float(result["infom"]), "infoe": float(result["infoe"]),
                              "infoc": float(result["infoc"]), "nmi": np.asarray(result["nmi"]).tolist(),
                              "active_latents": np.asarray(result["active_latents"]).tolist()}
        print(name, {k: out["cases"][name][k] for k in ("infom", "infoe", "infoc")})
    target = Path(__file__).with_name("infomec.json")
    target.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {target}")


if __name__ == "__main__":
    main(sys.argv[1])
