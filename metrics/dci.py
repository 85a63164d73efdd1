"""DCI disentanglement (Eastwood & Williams 2018), disentanglement_lib's version.

Points: `num_train` then `num_test` points, each drawn with repeated
`ground_truth_data.sample(min(batch_size, remaining), random_state)`. Per factor one
`GradientBoostingClassifier()` (sklearn defaults) is fit on all codes of the train points;
importance[code, factor] = |feature_importances_|; informativeness = mean over factors of the
train / test accuracy. Disentanglement = sum over codes of (1 - entropy of the code's row of
importances, base num_factors) weighted by the row's share of the total importance;
completeness likewise over factors (columns, base num_codes); 1e-11 is added before the entropy.

Not exact, in the reference either: `GradientBoostingClassifier()` has `random_state=None`, so
each of its trees draws a seed from numpy's *global* random state (never from `random_state`)
to order the features it tries, and when two splits are equally good that order (or rounding)
decides. disentanglement_lib never seeds the global state, so its DCI is not reproducible run to
run either.

Boosters (`booster=`):
- `"presorted"` (default): `metrics.presorted_gbt`, sklearn's model grown on features sorted
  once, about 5x less work than sklearn's own trees; among equally good features it picks one
  at random as sklearn's random order does, but from a fixed seed, so DCI is reproducible.
- `"sklearn"`: `sklearn.ensemble.GradientBoostingClassifier()` itself; `gbt_random_state` seeds
  it to make a run reproducible (a deviation from the reference: one seed for every factor).
tests/metrics/test_presorted_gbt.py compares the two boosters and checks that the presorted
one only ever picks among equally good splits; tests/metrics/test_dci.py checks DCI on tied codes by hand. The
factors' boosters run in parallel threads (joblib; numpy and sklearn's tree code release the
GIL).
"""

from __future__ import annotations

import numpy as np
import scipy.stats
from joblib import Parallel, delayed
from sklearn import ensemble

from metrics import utils
from metrics.presorted_gbt import PresortedGradientBoostingClassifier

BOOSTERS = ("presorted", "sklearn")


def compute_dci(
    ground_truth_data,
    representation_function,
    random_state,
    num_train: int = 10000,
    num_test: int = 5000,
    batch_size: int = 16,
    progress: bool = False,
    n_jobs: int | None = None,
    gbt_random_state=None,
    booster: str = "presorted",
    chunk_size: int = utils.DEFAULT_CHUNK_SIZE,
) -> dict:
    mus_train, ys_train, mus_test, ys_test = utils.generate_train_test_codes(
        ground_truth_data,
        representation_function,
        num_train,
        num_test,
        random_state,
        batch_size,
        progress,
        "DCI",
        chunk_size=chunk_size,
    )
    return dci_from_codes(
        mus_train, ys_train, mus_test, ys_test, n_jobs=n_jobs, gbt_random_state=gbt_random_state, booster=booster
    )


def dci_from_codes(
    mus_train, ys_train, mus_test, ys_test, n_jobs=None, gbt_random_state=None, booster="presorted"
) -> dict:
    importance, train_acc, test_acc = importance_gbt(
        mus_train, ys_train, mus_test, ys_test, n_jobs, gbt_random_state, booster
    )
    return {
        "informativeness_train": train_acc,
        "informativeness_test": test_acc,
        "disentanglement": disentanglement(importance),
        "completeness": completeness(importance),
    }


def _fit_one(x_train, y_train, x_test, y_test, seed, booster="presorted"):
    if booster == "presorted":
        model = PresortedGradientBoostingClassifier().fit(x_train, y_train)
        train_predictions = model.predict_training()  # = model.predict(x_train), already known
    else:
        model = ensemble.GradientBoostingClassifier(random_state=seed).fit(x_train, y_train)
        train_predictions = model.predict(x_train)
    return (
        np.abs(model.feature_importances_),
        float(np.mean(train_predictions == y_train)),
        float(np.mean(model.predict(x_test) == y_test)),
    )


def importance_gbt(x_train, y_train, x_test, y_test, n_jobs=None, gbt_random_state=None, booster="presorted"):
    """(importance [num_codes, num_factors], mean train accuracy, mean test accuracy)."""
    if booster not in BOOSTERS:
        raise ValueError(f"booster must be one of {BOOSTERS}, got {booster!r}")
    if booster == "presorted" and gbt_random_state is not None:
        raise ValueError(
            "gbt_random_state seeds sklearn's booster; the presorted one is "
            "deterministic already (use booster='sklearn')"
        )
    num_factors, num_codes = y_train.shape[0], x_train.shape[0]
    if n_jobs is None:
        n_jobs = -1
    results = Parallel(n_jobs=n_jobs, prefer="threads")(
        delayed(_fit_one)(x_train.T, y_train[i], x_test.T, y_test[i], gbt_random_state, booster)
        for i in range(num_factors)
    )
    importance = np.zeros([num_codes, num_factors], dtype=np.float64)
    for i, (imp, _, _) in enumerate(results):
        importance[:, i] = imp
    return (importance, float(np.mean([r[1] for r in results])), float(np.mean([r[2] for r in results])))


def _weighted_specificity(importance: np.ndarray) -> float:
    """Rows of `importance` [rows, columns]: sum over rows of (1 - entropy of the row, base =
    number of columns) weighted by the row's share of the total importance."""
    per_row = 1.0 - scipy.stats.entropy(importance.T + 1e-11, base=importance.shape[1])
    if importance.sum() == 0.0:
        importance = np.ones_like(importance)
    row_weight = importance.sum(axis=1) / importance.sum()
    return float(np.sum(per_row * row_weight))


def disentanglement(importance: np.ndarray) -> float:
    """importance [codes, factors]: each code should matter for one factor."""
    return _weighted_specificity(importance)


def completeness(importance: np.ndarray) -> float:
    """importance [codes, factors]: each factor should be captured by one code."""
    return _weighted_specificity(importance.T)
