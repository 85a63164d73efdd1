"""SAP and BetaVAE scores computed by plain scikit-learn 1.2.2 (the authors' pinned version).

Independent of the project (imports only numpy and scikit-learn), so it runs in a side
environment that has the old scikit-learn:

    python3.11 -m venv /work/sk122
    /work/sk122/bin/pip install numpy==1.26.4 scipy==1.11.4 scikit-learn==1.2.2
    /work/sk122/bin/python tests/reference/sklearn_1_2_2_reference.py

It rewrites `tests/reference/sklearn_1_2_2.json` (next to this file); the script refuses to
run under any other scikit-learn version. tests/metrics/test_sklearn_1_2_2.py regenerates the
same inputs (`make_sap_codes`, `make_beta_vae_points`: legacy `RandomState` streams, identical
in every numpy version) and compares the project's metrics with these numbers exactly.

The inputs follow the metric protocol of docs/design.md §8 on a synthetic ground truth:
- SAP: 10,000 train and 5,000 test points; factors drawn with one `randint` per factor;
  codes = factors (scaled to [-1, 1]) mixed by a random matrix, plus Gaussian noise.
  Per (code, factor) `LinearSVC(C=0.01, class_weight="balanced")` with 1.2.2's defaults
  (`dual=True`, `random_state=None`: liblinear is seeded from numpy's global RNG, so each case
  is run under two global seeds and both results are recorded).
- BetaVAE: per point `index = rs.randint(F)`, two batches of 64 factor vectors sharing
  factor `index`, feature = mean |code1 - code2|; 10,000 train then 5,000 eval points;
  `LogisticRegression(solver="newton-cg", random_state=rs)` with 1.2.2's defaults.
- DCI's booster: `GradientBoostingClassifier(random_state=s)` at its defaults (100 stages,
  depth 3, friedman_mse) for s = 0, 1, 2 on small continuous data (`make_gbt_data`); every
  tree in fitting order up to the first one on which the seeds disagree is recorded (split
  features, thresholds, leaf values per level-order slot), with the raw predictions after
  the last complete recorded stage.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

# (name, seed, factor sizes, number of codes, noise std)
SAP_CASES = [
    ("sap_a", 42, (3, 6, 10, 8), 6, 0.3),
    ("sap_b", 7, (4, 4, 2, 3, 5), 10, 0.6),
    ("sap_c", 123, (5, 9, 18, 6), 10, 1.0),
]
BETA_VAE_CASES = [
    ("beta_a", 42, (3, 6, 10, 8), 6, 0.3),
    ("beta_b", 7, (4, 4, 2, 3, 5), 10, 0.6),
    ("beta_c", 123, (5, 9, 18, 6), 10, 1.0),
    ("beta_d", 0, (10, 10, 10, 8, 4, 15), 10, 0.5),
    ("beta_e", 1, (6, 6, 2, 3, 3, 40, 40), 10, 0.8),
]
GLOBAL_SEEDS = (0, 12345)
# (name, samples, features, classes)
GBT_CASES = [("gbt_a", 300, 2, 2), ("gbt_b", 500, 3, 2), ("gbt_c", 2000, 5, 2),
             ("gbt_d", 3000, 6, 3)]


def _codes(factors, sizes, mix, noise, rs):
    """[n, num_codes] codes of [n, F] factors: scaled factors mixed, plus noise from rs."""
    scaled = 2.0 * factors / (np.asarray(sizes, float) - 1.0) - 1.0
    return scaled @ mix + noise * rs.standard_normal((factors.shape[0], mix.shape[1]))


def _mix(rs, num_factors, num_codes):
    """A mixing matrix whose code i mostly carries factor i % F (some codes are mixtures)."""
    mix = 0.3 * rs.standard_normal((num_factors, num_codes))
    for i in range(num_codes):
        mix[i % num_factors, i] += 1.0
    return mix


def make_sap_codes(seed, sizes, num_codes, noise, num_train=10000, num_test=5000):
    """(mus [codes, train], ys [F, train], mus_test, ys_test) as in the SAP protocol."""
    rs = np.random.RandomState(seed)
    mix = _mix(rs, len(sizes), num_codes)

    def draw(num):
        factors = np.stack([rs.randint(s, size=num) for s in sizes], axis=1)
        return _codes(factors, sizes, mix, noise, rs).T, factors.T

    mus, ys = draw(num_train)
    mus_test, ys_test = draw(num_test)
    return mus, ys, mus_test, ys_test


def make_beta_vae_points(seed, sizes, num_codes, noise, num_train=10000, num_eval=5000,
                         batch_size=64):
    """(train_x, train_y, eval_x, eval_y, rs): BetaVAE features and labels; rs as left after
    drawing the training points (the state the reference passes to LogisticRegression)."""
    rs = np.random.RandomState(seed)
    mix = _mix(rs, len(sizes), num_codes)

    def draw(num):
        x = np.zeros((num, num_codes))
        y = np.zeros(num, dtype=np.int64)
        for p in range(num):
            index = rs.randint(low=0, high=len(sizes))
            f1 = np.stack([rs.randint(s, size=batch_size) for s in sizes], axis=1)
            f2 = np.stack([rs.randint(s, size=batch_size) for s in sizes], axis=1)
            f2[:, index] = f1[:, index]
            c1 = _codes(f1, sizes, mix, noise, rs)
            c2 = _codes(f2, sizes, mix, noise, rs)
            x[p] = np.mean(np.abs(c1 - c2), axis=0)
            y[p] = index
        return x, y

    train_x, train_y = draw(num_train)
    state = rs.get_state()
    eval_x, eval_y = draw(num_eval)
    rs.set_state(state)
    return train_x, train_y, eval_x, eval_y, rs


def make_gbt_data(n, num_features, num_classes):
    """(x float32 [n, F], y int [n]): a noisy linear signal, thresholded or binned."""
    rs = np.random.RandomState(n + num_classes)
    x = rs.randn(n, num_features).astype(np.float32)
    signal = x[:, 0] * 2 + x[:, 1] + rs.randn(n)
    if num_classes == 2:
        return x, (signal > 0).astype(int)
    return x, signal.round().astype(int) % num_classes


def tree_slots(tree, depth=3):
    """sklearn Tree -> (feature, threshold) per level-order slot 2^d - 1 + j (a leaf above the
    last level passes its samples to its left slot) and the leaf value reached per last-level
    slot."""
    feature, threshold = np.full(2 ** depth - 1, -1), np.full(2 ** depth - 1, np.inf)
    value = np.full(2 ** depth, np.nan)

    def walk(node, d, j):
        if d == depth:
            value[j] = tree.value[node].ravel()[0]
        elif tree.children_left[node] == -1:
            walk(node, d + 1, 2 * j)
        else:
            feature[2 ** d - 1 + j], threshold[2 ** d - 1 + j] = tree.feature[node], tree.threshold[node]
            walk(tree.children_left[node], d + 1, 2 * j)
            walk(tree.children_right[node], d + 1, 2 * j + 1)

    walk(0, 0, 0)
    return feature, threshold, value


def gbt_reference(x, y):
    from sklearn.ensemble import GradientBoostingClassifier
    fits = [GradientBoostingClassifier(random_state=seed).fit(x, y) for seed in range(3)]
    num_stages, per_stage = fits[0].estimators_.shape
    trees = []
    for stage in range(num_stages):
        for k in range(per_stage):
            slots = [tree_slots(f.estimators_[stage, k].tree_) for f in fits]
            if not all(np.array_equal(a[0], slots[0][0]) and np.array_equal(a[1], slots[0][1])
                       for a in slots):
                break
            feature, threshold, value = slots[0]
            trees.append({"stage": stage, "tree": k, "feature": feature.tolist(),
                          "threshold": [float(t) if np.isfinite(t) else None for t in threshold],
                          "value": [float(v) if np.isfinite(v) else None for v in value]})
        else:
            continue
        break
    stages = len(trees) // per_stage
    raw = (list(fits[0].staged_decision_function(x))[stages - 1].tolist() if stages else None)
    return {"trees": trees, "complete_stages": stages, "staged_raw": raw}


def sap_reference(mus, ys, mus_test, ys_test):
    from sklearn import svm
    matrix = np.zeros((mus.shape[0], ys.shape[0]))
    for i in range(mus.shape[0]):
        for j in range(ys.shape[0]):
            clf = svm.LinearSVC(C=0.01, class_weight="balanced")
            clf.fit(mus[i][:, None], ys[j])
            matrix[i, j] = np.mean(clf.predict(mus_test[i][:, None]) == ys_test[j])
    top = np.sort(matrix, axis=0)
    return float(np.mean(top[-1] - top[-2])), matrix


def beta_vae_reference(train_x, train_y, eval_x, eval_y, rs):
    from sklearn import linear_model
    model = linear_model.LogisticRegression(solver="newton-cg", random_state=rs)
    model.fit(train_x, train_y)
    return {"train_accuracy": float(np.mean(model.predict(train_x) == train_y)),
            "eval_accuracy": float(model.score(eval_x, eval_y)),
            "n_iter": int(np.max(model.n_iter_)),
            "coef": model.coef_.tolist(), "intercept": model.intercept_.tolist()}


def main():
    import warnings

    import sklearn
    if sklearn.__version__ != "1.2.2":
        sys.exit(f"run this with scikit-learn 1.2.2 (found {sklearn.__version__}); "
                 f"see the docstring")
    warnings.simplefilter("ignore")
    out = {"versions": {"sklearn": sklearn.__version__, "numpy": np.__version__,
                        "python": sys.version.split()[0]},
           "sap": {}, "beta_vae": {}}
    for name, seed, sizes, num_codes, noise in SAP_CASES:
        codes = make_sap_codes(seed, sizes, num_codes, noise)
        runs = {}
        for global_seed in GLOBAL_SEEDS:
            np.random.seed(global_seed)
            score, matrix = sap_reference(*codes)
            runs[str(global_seed)] = {"sap_score": score, "matrix": matrix.tolist()}
        out["sap"][name] = {"seed": seed, "sizes": list(sizes), "num_codes": num_codes,
                            "noise": noise, "by_global_seed": runs}
        print(name, {k: v["sap_score"] for k, v in runs.items()})
    for name, seed, sizes, num_codes, noise in BETA_VAE_CASES:
        result = beta_vae_reference(*make_beta_vae_points(seed, sizes, num_codes, noise))
        out["beta_vae"][name] = {"seed": seed, "sizes": list(sizes), "num_codes": num_codes,
                                 "noise": noise, **result}
        print(name, result["train_accuracy"], result["eval_accuracy"], result["n_iter"])
    out["gbt"] = {}
    for name, n, num_features, num_classes in GBT_CASES:
        result = gbt_reference(*make_gbt_data(n, num_features, num_classes))
        out["gbt"][name] = {"n": n, "num_features": num_features, "num_classes": num_classes,
                            **result}
        print(name, len(result["trees"]), "seed-independent trees")
    path = Path(__file__).with_name("sklearn_1_2_2.json")
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(out) + "\n")
    tmp.replace(path)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
