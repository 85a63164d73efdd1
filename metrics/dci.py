"""DCI disentanglement (Eastwood & Williams 2018), disentanglement_lib's version.

Points: `num_train` then `num_test` points, each drawn with repeated
`ground_truth_data.sample(min(batch_size, remaining), random_state)`. Per factor one
`GradientBoostingClassifier()` (sklearn defaults) is fit on all codes of the train points;
importance[code, factor] = |feature_importances_|; informativeness = mean over factors of the
train / test accuracy. Disentanglement = sum over codes of (1 - entropy of the code's row of
importances, base num_factors) weighted by the row's share of the total importance;
completeness likewise over factors (columns, base num_codes); 1e-11 is added before the entropy.

Not exact: `GradientBoostingClassifier()` has `random_state=None`, so each of its trees draws a
seed from numpy's *global* random state (never from `random_state`) to permute the features it
tries; when two splits improve the loss equally, that order breaks the tie. disentanglement_lib
never seeds the global state, so its DCI is not reproducible run to run either; the per-factor
fits run in parallel here (joblib), which makes the seeds they draw independent of the order.
tests/test_metrics_dci.py bounds the run-to-run difference. Pass `gbt_random_state` to make a
run reproducible (a deviation from the reference: the same seed for every factor's classifier).

Speed: the factors' boosters run in parallel threads (joblib), and within each booster the K
per-class trees of a stage are fit in parallel (`metrics.gbt`, the same model as sklearn's for
the same seed); `parallel_trees=False` uses sklearn's sequential booster.
"""
from __future__ import annotations

import numpy as np
import scipy.stats
from joblib import Parallel, delayed
from sklearn import ensemble

from metrics import utils
from metrics.gbt import ParallelGradientBoostingClassifier


def compute_dci(ground_truth_data, representation_function, random_state,
                num_train: int = 10000, num_test: int = 5000, batch_size: int = 16,
                progress: bool = False, n_jobs: int | None = None, gbt_random_state=None,
                parallel_trees: bool = True, chunk_size: int = utils.DEFAULT_CHUNK_SIZE) -> dict:
    mus_train, ys_train, mus_test, ys_test = utils.generate_train_test_codes(
        ground_truth_data, representation_function, num_train, num_test, random_state, batch_size,
        progress, "DCI", chunk_size=chunk_size)
    return dci_from_codes(mus_train, ys_train, mus_test, ys_test, n_jobs=n_jobs,
                          gbt_random_state=gbt_random_state, parallel_trees=parallel_trees)


def dci_from_codes(mus_train, ys_train, mus_test, ys_test, n_jobs=None,
                   gbt_random_state=None, parallel_trees=True) -> dict:
    importance, train_acc, test_acc = importance_gbt(mus_train, ys_train, mus_test, ys_test,
                                                     n_jobs, gbt_random_state, parallel_trees)
    return {"informativeness_train": train_acc, "informativeness_test": test_acc,
            "disentanglement": disentanglement(importance),
            "completeness": completeness(importance)}


def _fit_one(x_train, y_train, x_test, y_test, seed, parallel_trees=True):
    cls = (ParallelGradientBoostingClassifier if parallel_trees
           else ensemble.GradientBoostingClassifier)
    model = cls(random_state=seed)
    model.fit(x_train, y_train)
    return (np.abs(model.feature_importances_),
            float(np.mean(model.predict(x_train) == y_train)),
            float(np.mean(model.predict(x_test) == y_test)))


def importance_gbt(x_train, y_train, x_test, y_test, n_jobs=None, gbt_random_state=None,
                   parallel_trees=True):
    """(importance [num_codes, num_factors], mean train accuracy, mean test accuracy)."""
    num_factors, num_codes = y_train.shape[0], x_train.shape[0]
    if n_jobs is None:
        n_jobs = -1
    results = Parallel(n_jobs=n_jobs, prefer="threads")(
        delayed(_fit_one)(x_train.T, y_train[i], x_test.T, y_test[i], gbt_random_state,
                          parallel_trees)
        for i in range(num_factors))
    importance = np.zeros([num_codes, num_factors], dtype=np.float64)
    for i, (imp, _, _) in enumerate(results):
        importance[:, i] = imp
    return (importance, float(np.mean([r[1] for r in results])),
            float(np.mean([r[2] for r in results])))


def _weighted_specificity(importance: np.ndarray) -> float:
    """Rows of `importance` [rows, columns]: sum over rows of (1 - entropy of the row, base =
    number of columns) weighted by the row's share of the total importance."""
    per_row = 1. - scipy.stats.entropy(importance.T + 1e-11, base=importance.shape[1])
    if importance.sum() == 0.:
        importance = np.ones_like(importance)
    row_weight = importance.sum(axis=1) / importance.sum()
    return float(np.sum(per_row * row_weight))


def disentanglement(importance: np.ndarray) -> float:
    """importance [codes, factors]: each code should matter for one factor."""
    return _weighted_specificity(importance)


def completeness(importance: np.ndarray) -> float:
    """importance [codes, factors]: each factor should be captured by one code."""
    return _weighted_specificity(importance.T)
