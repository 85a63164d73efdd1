"""Straightforward per-batch reference implementations, written like disentanglement_lib.

They call the representation function once per `sample` batch (16) or per 64-image batch,
stack with np.vstack, and compute the scores with explicit loops, independently of
`metrics.utils`. The fast batched implementations must give the same numbers.
"""
from __future__ import annotations

import warnings

import numpy as np
import sklearn.metrics
from sklearn import linear_model, svm
from sklearn.exceptions import ConvergenceWarning


def ref_factor_code(data, rep, num_points, rs, batch_size):
    reps, facs = None, None
    i = 0
    while i < num_points:
        n = min(num_points - i, batch_size)
        f, o = data.sample(n, rs)
        r = rep(o)
        reps = r if reps is None else np.vstack((reps, r))
        facs = f if facs is None else np.vstack((facs, f))
        i += n
    return reps.T, facs.T


def ref_mig(data, rep, rs, num_train, batch_size=16, num_bins=20):
    mus, ys = ref_factor_code(data, rep, num_train, rs, batch_size)
    disc = np.zeros_like(mus)
    for i in range(mus.shape[0]):
        edges = np.histogram(mus[i], num_bins)[1]
        disc[i] = np.digitize(mus[i], edges[:-1])
    gaps = []
    for j in range(ys.shape[0]):
        mi = sorted((sklearn.metrics.mutual_info_score(ys[j], disc[i])
                     for i in range(mus.shape[0])), reverse=True)
        h = sklearn.metrics.mutual_info_score(ys[j], ys[j])
        gaps.append((mi[0] - mi[1]) / h)
    return np.mean(gaps)


def ref_factor_vae(data, rep, rs, batch_size=64, num_train=10000, num_eval=5000,
                   num_variance_estimate=10000, threshold=0.05):
    obs = data.sample_observations(num_variance_estimate, rs)
    reps = None
    for i in range(0, num_variance_estimate, 64):
        r = rep(obs[i:i + 64])
        reps = r if reps is None else np.vstack((reps, r))
    global_var = np.var(reps, axis=0, ddof=1)
    active = np.sqrt(global_var) >= threshold
    if not active.any():
        return 0., 0.

    def votes(num):
        v = np.zeros((data.num_factors, global_var.shape[0]), dtype=np.int64)
        for _ in range(num):
            k = rs.randint(data.num_factors)
            f = data.sample_factors(batch_size, rs)
            f[:, k] = f[0, k]
            r = rep(data.sample_observations_from_factors(f, rs))
            local = np.var(r, axis=0, ddof=1)
            v[k, np.argmin(local[active] / global_var[active])] += 1
        return v

    train, ev = votes(num_train), votes(num_eval)
    clf = np.argmax(train, axis=0)
    cols = np.arange(train.shape[1])
    return (np.sum(train[clf, cols]) / np.sum(train), np.sum(ev[clf, cols]) / np.sum(ev))


def ref_beta_vae(data, rep, rs, batch_size=64, num_train=10000, num_eval=5000):
    def points(num):
        x, y = None, np.zeros(num, dtype=np.int64)
        for i in range(num):
            k = rs.randint(low=0, high=data.num_factors)
            f1 = data.sample_factors(batch_size, rs)
            f2 = data.sample_factors(batch_size, rs)
            f2[:, k] = f1[:, k]
            o1 = data.sample_observations_from_factors(f1, rs)
            o2 = data.sample_observations_from_factors(f2, rs)
            feat = np.mean(np.abs(rep(o1) - rep(o2)), axis=0)
            if x is None:
                x = np.zeros((num, feat.shape[0]))
            x[i], y[i] = feat, k
        return x, y

    xt, yt = points(num_train)
    # tol on scikit-learn 1.2.2's sum-of-losses scale (see tests/reference/sklearn_1_2_2.json).
    model = linear_model.LogisticRegression(solver="newton-cg", random_state=rs,
                                            tol=1e-4 / len(yt)).fit(xt, yt)
    train_acc = np.mean(model.predict(xt) == yt)
    xe, ye = points(num_eval)
    return train_acc, model.score(xe, ye)


def _ref_discretize(mus, num_bins):
    disc = np.zeros_like(mus)
    for i in range(mus.shape[0]):
        disc[i] = np.digitize(mus[i], np.histogram(mus[i], num_bins)[1][:-1])
    return disc


def ref_modularity(data, rep, rs, num_train, num_test, batch_size=16, num_bins=20):
    """Train points are scored; test points are drawn (and represented) as the reference does
    for explicitness, which is not reported."""
    mus, ys = ref_factor_code(data, rep, num_train, rs, batch_size)
    ref_factor_code(data, rep, num_test, rs, batch_size)
    disc = _ref_discretize(mus, num_bins)
    scores = []
    for i in range(mus.shape[0]):
        mi = np.array([sklearn.metrics.mutual_info_score(ys[j], disc[i])
                       for j in range(ys.shape[0])])
        top = np.max(mi ** 2)
        if top == 0:
            scores.append(0.)
            continue
        scores.append(1. - (np.sum(mi ** 2) - top) / (top * (ys.shape[0] - 1.)))
    return np.mean(scores)


def ref_sap(data, rep, rs, num_train, num_test, batch_size=16):
    """LinearSVC(C=0.01, class_weight="balanced") as scikit-learn 1.2.2 solves it: the dual
    problem (1.3's dual="auto" picks the primal), and liblinear seeded with 0 rather than
    from numpy's global state (metrics/sap.py's SOLVER settings, written out here)."""
    mus, ys = ref_factor_code(data, rep, num_train, rs, batch_size)
    mus_test, ys_test = ref_factor_code(data, rep, num_test, rs, batch_size)
    accuracy = np.zeros((mus.shape[0], ys.shape[0]))
    for i in range(mus.shape[0]):
        for j in range(ys.shape[0]):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                clf = svm.LinearSVC(C=0.01, class_weight="balanced", dual=True,
                                    random_state=0).fit(mus[i][:, None], ys[j])
            accuracy[i, j] = np.mean(clf.predict(mus_test[i][:, None]) == ys_test[j])
    gaps = []
    for j in range(ys.shape[0]):
        column = sorted(accuracy[:, j], reverse=True)
        gaps.append(column[0] - column[1])
    return np.mean(gaps)
