"""BetaVAE score (Higgins et al. 2017), disentanglement_lib's sklearn version.

Reference call sequence on `random_state` (disentanglement_lib `beta_vae.py`), per point,
`num_train` training points then `num_eval` evaluation points:
    index = random_state.randint(low=0, high=num_factors)
    factors1 = ground_truth_data.sample_factors(batch_size, random_state)
    factors2 = ground_truth_data.sample_factors(batch_size, random_state)
    factors2[:, index] = factors1[:, index]
    observation1 = ground_truth_data.sample_observations_from_factors(factors1, random_state)
    observation2 = ground_truth_data.sample_observations_from_factors(factors2, random_state)
feature = mean over the batch of |rep(observation1) - rep(observation2)|, label = index.
Between the two sets a `LogisticRegression(solver="newton-cg", random_state=random_state)` is
fit on the training features (newton-cg draws nothing from `random_state`).
Train accuracy = mean(predict(train) == labels); eval accuracy = `score` on the eval points.

scikit-learn 1.2.2 (the authors' version) minimised sum(loss) + |w|^2 / (2C) with newton-cg;
from 1.3 on the objective, gradient and Hessian are all divided by n_samples (mean loss), while
the stopping test is still max|gradient| <= tol. The same `tol=1e-4` thus stops about n times
too early (6 instead of 15 Newton steps on 10,000 points) and changes a few predictions. So
`fit_logistic` passes tol = 1e-4 / n_samples: the same stopping threshold on 1.2.2's scale.

What is identical and what is not, measured on the five cases of
tests/reference/sklearn_1_2_2.json and tested exactly so (tests/metrics/test_sklearn_1_2_2.py):
- identical: every prediction, hence the train and eval accuracies (the BetaVAE score);
- not identical: the path. The inner conjugate-gradient solver's forcing term
  min(0.5, sqrt(sum|g|)) is not scale-invariant, so the Newton steps differ, and the fit stops
  after 10–14 Newton iterations where 1.2.2 records 18–22; the coefficients differ by at most
  2.0e-5 and the intercepts by at most 4.1e-5 (tested to 5e-5).
"""
from __future__ import annotations

import warnings

import numpy as np
from sklearn import linear_model
from sklearn.exceptions import ConvergenceWarning

from metrics import utils

REFERENCE_TOL = 1e-4   # scikit-learn 1.2.2's default, on its sum-of-losses scale
SOLVER = ("LogisticRegression(solver='newton-cg', tol=1e-4/n_train) = scikit-learn 1.2.2's "
          "LogisticRegression(solver='newton-cg')")


def fit_logistic(points, labels, random_state):
    """scikit-learn 1.2.2's `LogisticRegression(solver="newton-cg")` fit, with today's sklearn.

    points float [n, num_codes], labels int [n]. newton-cg draws nothing from `random_state`.
    """
    model = linear_model.LogisticRegression(solver="newton-cg", random_state=random_state,
                                            tol=REFERENCE_TOL / len(labels))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(points, labels)
    return model


def compute_beta_vae(ground_truth_data, representation_function, random_state,
                     batch_size: int = 64, num_train: int = 10000, num_eval: int = 5000,
                     progress: bool = False,
                     chunk_size: int = utils.DEFAULT_CHUNK_SIZE) -> dict:
    bar = utils.progress_bar(progress, num_train + num_eval, "BetaVAE")
    try:
        train_points, train_labels = generate_points(
            ground_truth_data, representation_function, batch_size, num_train, random_state,
            chunk_size, bar)
        model = fit_logistic(train_points, train_labels, random_state)
        train_accuracy = np.mean(model.predict(train_points) == train_labels)
        eval_points, eval_labels = generate_points(
            ground_truth_data, representation_function, batch_size, num_eval, random_state,
            chunk_size, bar)
    finally:
        bar.close()
    eval_accuracy = model.score(eval_points, eval_labels)
    return {"train_accuracy": float(train_accuracy), "eval_accuracy": float(eval_accuracy)}


def generate_points(ground_truth_data, representation_function, batch_size, num_points,
                    random_state, chunk_size=utils.DEFAULT_CHUNK_SIZE, bar=None):
    """(features [num_points, num_codes] float64, labels [num_points] int64), reference order."""
    num_factors = ground_truth_data.num_factors
    points_per_chunk = max(1, chunk_size // (2 * batch_size))

    def produce():
        idx_buf, obs_buf = [], []
        for p in range(num_points):
            index = random_state.randint(low=0, high=num_factors)
            factors1 = ground_truth_data.sample_factors(batch_size, random_state)
            factors2 = ground_truth_data.sample_factors(batch_size, random_state)
            factors2[:, index] = factors1[:, index]
            obs_buf.append(np.asarray(
                ground_truth_data.sample_observations_from_factors(factors1, random_state)))
            obs_buf.append(np.asarray(
                ground_truth_data.sample_observations_from_factors(factors2, random_state)))
            idx_buf.append(index)
            if len(idx_buf) == points_per_chunk or p == num_points - 1:
                yield idx_buf, utils.stack(obs_buf)
                idx_buf, obs_buf = [], []

    labels = np.zeros(num_points, dtype=np.int64)
    points = None
    p = 0
    for idx, chunk in utils.pipelined(produce()):
        reps = utils.represent(representation_function, chunk)
        del chunk
        if points is None:
            points = np.zeros((num_points, reps.shape[1]))
        for k, index in enumerate(idx):
            r1 = reps[2 * k * batch_size:(2 * k + 1) * batch_size]
            r2 = reps[(2 * k + 1) * batch_size:(2 * k + 2) * batch_size]
            points[p] = np.mean(np.abs(r1 - r2), axis=0)
            labels[p] = index
            p += 1
        if bar is not None:
            bar.update(len(idx))
    return points, labels
