"""GradientBoostingClassifier whose per-class trees of a stage are fit in parallel.

In scikit-learn's multiclass gradient boosting, the K regression trees of one stage are
independent: all are fit on columns of the same negative gradient (computed once per stage),
and each tree's leaf update touches only its own column of the raw predictions. sklearn fits
them one after another; `ParallelGradientBoostingClassifier` fits them on a shared thread pool
(tree building runs without the GIL) and then applies the leaf updates in class order.

Same model as `GradientBoostingClassifier` with the same `random_state`: each tree draws
exactly one number from the booster's RandomState (its splitter's seed,
`randint(0, RAND_R_MAX)`); tree k here gets a copy of that RandomState taken after k draws,
and the booster's RandomState is advanced by one draw per tree, so every tree sees the number
it would have seen sequentially and the RandomState ends where sklearn leaves it.
tests/test_metrics_gbt.py checks predictions, importances and the end state against sklearn.
Anything but the dense, no-subsampling multiclass case falls back to sklearn's own loop.
"""
from __future__ import annotations

import copy
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.ensemble._gb import _update_terminal_regions
from sklearn.tree import DecisionTreeRegressor

RAND_R_MAX = 0x7FFFFFFF  # sklearn.tree._utils.RAND_R_MAX

_POOL: ThreadPoolExecutor | None = None


def tree_pool() -> ThreadPoolExecutor:
    """One process-wide pool for tree fits (shared by the per-factor boosters of DCI)."""
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=os.cpu_count() or 1,
                                   thread_name_prefix="gbt-tree")
    return _POOL


class ParallelGradientBoostingClassifier(GradientBoostingClassifier):

    def _fit_stage(self, i, X, y, raw_predictions, sample_weight, sample_mask,
                   random_state, X_csc=None, X_csr=None):
        if (not self._loss.is_multiclass or self.subsample < 1.0 or X_csc is not None
                or X_csr is not None or self.n_trees_per_iteration_ < 2):
            return super()._fit_stage(i, X, y, raw_predictions, sample_weight, sample_mask,
                                      random_state, X_csc, X_csr)
        neg_gradient = -self._loss.gradient(y_true=y, raw_prediction=raw_predictions,
                                            sample_weight=None)
        trees = []
        for _ in range(self.n_trees_per_iteration_):
            trees.append(DecisionTreeRegressor(
                criterion="squared_error", splitter="best", max_depth=self.max_depth,
                min_samples_split=self.min_samples_split,
                min_samples_leaf=self.min_samples_leaf,
                min_weight_fraction_leaf=self.min_weight_fraction_leaf,
                min_impurity_decrease=self.min_impurity_decrease,
                max_features=self.max_features, max_leaf_nodes=self.max_leaf_nodes,
                random_state=copy.deepcopy(random_state), ccp_alpha=self.ccp_alpha))
            random_state.randint(0, RAND_R_MAX)  # the draw the tree makes sequentially

        def fit(k):
            trees[k].fit(X, neg_gradient[:, k], sample_weight=sample_weight, check_input=False)

        for future in [tree_pool().submit(fit, k) for k in range(len(trees))]:
            future.result()
        for k, tree in enumerate(trees):
            _update_terminal_regions(self._loss, tree.tree_, X,
                                     np.array(y == k, dtype=np.float64), neg_gradient[:, k],
                                     raw_predictions, sample_weight, sample_mask,
                                     learning_rate=self.learning_rate, k=k)
            self.estimators_[i, k] = tree
        return raw_predictions
