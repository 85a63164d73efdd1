"""SAP score (Kumar et al. 2018), disentanglement_lib's version.

Points: `num_train` then `num_test` points, each drawn with repeated
`ground_truth_data.sample(min(batch_size, remaining), random_state)`. The score matrix
[code, factor] is, with discrete factors (the default, and the paper's protocol), the test
accuracy of a `LinearSVC(C=0.01, class_weight="balanced")` fit on the single code of the train
points; with `continuous_factors=True`, the squared correlation of the code with the factor on
the train points only (cov^2 / (var_code var_factor), 0 where the code's variance is at most
1e-12; the test points are still drawn, so the RandomState moves as in disentanglement_lib).
SAP = mean over factors of the gap between the best and the second-best code's score.

The SVCs are fit one after another by default: liblinear draws its shuffling order from the C
library's global `rand()`, which threads would share and race on (measured: the same SAP run
twice with parallel threads gave 0.034 and 0.044 on 300 points). Sequential fits are cheap
(docs/performance.md, "Parallelism during evaluation").
`n_jobs` > 1 uses processes, each with its own `rand()` state, seeded per fit.

scikit-learn 1.2.2 (the authors' version) solves the *dual* problem by default; from 1.3 on
`dual="auto"` picks the primal one when n_samples > n_features, which moves SAP in the 5th
decimal. So `dual=True` is passed explicitly. The dual coordinate-descent solver visits the
samples in a random order; with `random_state=None` liblinear is seeded from numpy's *global*
RNG (unrepeatable), so a fixed `LIBLINEAR_SEED` is passed
instead. Checked against scikit-learn 1.2.2 under two global seeds
(tests/reference/sklearn_1_2_2.json): the same accuracy matrix for every seed tried.
"""
from __future__ import annotations

import warnings

import numpy as np
from joblib import Parallel, delayed
from sklearn import svm
from sklearn.exceptions import ConvergenceWarning

from metrics import utils

# liblinear's shuffling seed (not drawn from the protocol's RandomState, which would shift the
# samples of every later metric).
LIBLINEAR_SEED = 0
SOLVER = (f"LinearSVC(C=0.01, class_weight='balanced', dual=True, random_state={LIBLINEAR_SEED}) "
          f"= scikit-learn 1.2.2's LinearSVC(C=0.01, class_weight='balanced')")


def compute_sap(ground_truth_data, representation_function, random_state,
                num_train: int = 10000, num_test: int = 5000, batch_size: int = 16,
                progress: bool = False, n_jobs: int | None = None,
                chunk_size: int = utils.DEFAULT_CHUNK_SIZE, continuous_factors: bool = False) -> dict:
    mus, ys, mus_test, ys_test = utils.generate_train_test_codes(
        ground_truth_data, representation_function, num_train, num_test, random_state, batch_size,
        progress, "SAP", chunk_size=chunk_size)
    if continuous_factors:
        matrix = correlation_score_matrix(mus, ys)
    else:
        matrix = score_matrix(mus, ys, mus_test, ys_test, n_jobs=n_jobs)
    return {"SAP_score": avg_diff_top_two(matrix)}


def correlation_score_matrix(mus, ys) -> np.ndarray:
    """[num_codes, num_factors] squared correlation of each code with each factor (mus [codes, n],
    ys [factors, n], the train points); 0 for a code whose variance is at most 1e-12."""
    mus, ys = np.asarray(mus, np.float64), np.asarray(ys, np.float64)
    n = mus.shape[1]
    centred_mus = mus - mus.mean(axis=1, keepdims=True)
    centred_ys = ys - ys.mean(axis=1, keepdims=True)
    covariance = centred_mus @ centred_ys.T / (n - 1)
    var_mus = (centred_mus ** 2).sum(axis=1) / (n - 1)
    var_ys = (centred_ys ** 2).sum(axis=1) / (n - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        matrix = covariance ** 2 / np.outer(var_mus, var_ys)
    matrix[var_mus <= 1e-12] = 0.0
    return matrix


def _svc_accuracy(x, y, x_test, y_test) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = svm.LinearSVC(C=0.01, class_weight="balanced", dual=True,
                            random_state=LIBLINEAR_SEED)
        clf.fit(x[:, np.newaxis], y)
    return float(np.mean(clf.predict(x_test[:, np.newaxis]) == y_test))


def score_matrix(mus, ys, mus_test, ys_test, n_jobs: int | None = None) -> np.ndarray:
    """[num_codes, num_factors] test accuracy of the single-code classifiers."""
    num_codes, num_factors = mus.shape[0], ys.shape[0]
    pairs = [(i, j) for i in range(num_codes) for j in range(num_factors)]
    if not n_jobs or n_jobs == 1:
        accs = [_svc_accuracy(mus[i], ys[j], mus_test[i], ys_test[j]) for i, j in pairs]
    else:
        accs = Parallel(n_jobs=n_jobs, backend="loky")(
            delayed(_svc_accuracy)(mus[i], ys[j], mus_test[i], ys_test[j]) for i, j in pairs)
    matrix = np.zeros([num_codes, num_factors])
    for (i, j), acc in zip(pairs, accs):
        matrix[i, j] = acc
    return matrix


def avg_diff_top_two(matrix: np.ndarray) -> float:
    sorted_matrix = np.sort(matrix, axis=0)
    return float(np.mean(sorted_matrix[-1, :] - sorted_matrix[-2, :]))
