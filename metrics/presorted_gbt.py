"""sklearn's `GradientBoostingClassifier()` (default settings) fit on presorted features.

DCI fits one booster per factor: 100 stages x (number of classes) depth-3 regression trees on
the same 10,000 codes, 11,300 trees for dSprites. sklearn re-sorts every feature at every node
of every tree, which dominates DCI's time (docs/performance.md). The features never change,
so this module sorts each one once and grows all trees of a stage together, level by level,
with numpy: each tree keeps, per feature, its samples in an order that is sorted by value
within each node, and the order for the next level is a stable partition of it.

The model is sklearn's, rule for rule:

- the initial raw prediction is 1.2.2's: the class prior clipped to float32's eps, as
  log-probabilities (log-odds for two classes, which use one tree per stage), and the
  multiclass probabilities are exp(raw - logsumexp(raw));
- each tree fits the negative gradient of the half multinomial (binomial) loss with the
  `friedman_mse` criterion as scikit-learn 1.2.2 computes it: the best split maximises
  (n_right sum_left - n_left sum_right)^2 / (n_left n_right) over the split positions between
  sorted values that differ by more than 1e-7 (`FEATURE_THRESHOLD`), the threshold is the
  midpoint of the two values, and a node is a leaf at depth 3, with fewer than 2 samples, with
  impurity <= float64 eps, or without a valid split;
- each leaf's value is one Newton step (sklearn's `_update_terminal_regions`), shrunk by the
  learning rate;
- importances: per tree, the weighted impurity decrease of each split summed per feature and
  divided by the number of samples; averaged over the trees whose root was split; normalised.

What differs is the order of floating-point additions (the left sums are cumulative sums from
each node's first sample, as sklearn's running sums mostly are; node totals are summed in
sample order, sklearn's order at the root) and the draw that breaks exact ties between
features: sklearn tries the features in a random order (a seed per tree from numpy's global
random state, as DCI passes no `random_state`) and keeps the first of the best, i.e. a uniformly
random one of them, run to run; here a RandomState(`random_state`) picks one uniformly, so a fit
is reproducible. Between split positions of one feature the first wins in both. Exact ties are
common in boosting (the residuals take few distinct values, so isolating one sample or another
can gain exactly the same), and which of equal candidates wins can also hinge on rounding, so
the trees are sklearn's only up to such choices: tests/metrics/test_presorted_gbt.py checks that they
always partition the samples as sklearn's do, equal sklearn's where its tree does not depend
on its seed, and that DCI stays within the spread of sklearn's own runs.
"""

from __future__ import annotations

import numpy as np

# sklearn.tree._partitioner: a float32 constant, added to float32 values in float32 arithmetic.
FEATURE_THRESHOLD = np.float32(1e-7)  # values closer than this are not split apart
EPSILON = np.finfo(np.float64).eps  # sklearn.tree._tree: a node this pure is a leaf


class PresortedGradientBoostingClassifier:
    """`GradientBoostingClassifier(n_estimators, learning_rate, max_depth)` with the other
    settings at sklearn's defaults (no subsampling, min_samples_split=2, min_samples_leaf=1).

    After `fit(X [n, F], y [n])`: `classes_`, `feature_importances_` [F], `predict(X)`,
    `decision_function(X)`; `train_raw_` [n, trees per stage] holds the training samples' raw
    predictions (equal to `decision_function` on the training X), `predict_training()` their
    labels. `random_state` seeds the choice among equally good features.
    """

    def __init__(self, n_estimators: int = 100, learning_rate: float = 0.1, max_depth: int = 3, random_state=0):
        self.n_estimators = int(n_estimators)
        self.learning_rate = float(learning_rate)
        self.max_depth = int(max_depth)
        self.random_state = random_state

    # -- fitting ----------------------------------------------------------------------------
    def fit(self, X, y):
        X = np.asarray(X, dtype=np.float32)  # sklearn's trees see float32 features
        if X.ndim != 2 or len(X) != len(y):
            raise ValueError(
                f"X must be [num_samples, num_features] with one label per row, got X {X.shape} and {len(y)} labels"
            )
        self.classes_, labels = np.unique(np.asarray(y), return_inverse=True)
        num_classes = len(self.classes_)
        if num_classes < 2:
            raise ValueError(f"y has a single class ({self.classes_[0]!r}); gradient boosting needs at least 2")
        self.num_features_ = X.shape[1]
        self.multiclass_ = num_classes > 2
        targets = (labels[:, None] == np.arange(num_classes)[None]) if self.multiclass_ else (labels[:, None] == 1)
        targets = targets.astype(np.float64)  # [n, trees]

        self.init_ = self._initial_raw_prediction(labels, num_classes)  # [trees]
        raw = np.tile(self.init_, (len(X), 1))  # [n, trees]
        values = np.ascontiguousarray(X.T)  # [F, n] float32
        order = np.argsort(values, axis=1, kind="stable")  # [F, n]
        tie_breaker = np.random.RandomState(self.random_state)

        stages = []
        for _ in range(self.n_estimators):
            negative_gradient = targets - self._probabilities(raw)  # [n, trees]
            tree = _fit_tree_groups(values, order, negative_gradient.T, self.max_depth, tie_breaker)
            leaf_values = _newton_leaf_values(
                tree["leaf"], targets.T, negative_gradient.T, 2**self.max_depth, num_classes
            )
            raw += self.learning_rate * np.take_along_axis(leaf_values, tree["leaf"], axis=1).T
            stages.append((tree["feature"], tree["threshold"], leaf_values, tree["importance"]))
        self.feature_ = np.stack([s[0] for s in stages])  # [stages, trees, 2^depth - 1]
        self.threshold_ = np.stack([s[1] for s in stages])  # [stages, trees, 2^depth - 1]
        self.leaf_value_ = np.stack([s[2] for s in stages])  # [stages, trees, 2^depth]
        self.tree_importance_ = np.stack([s[3] for s in stages])  # [stages, trees, F]
        self.train_raw_ = raw
        return self

    def _initial_raw_prediction(self, labels, num_classes):
        """scikit-learn 1.2.2's initial raw prediction (`_gb_losses`): the DummyClassifier's
        class prior clipped to float32's eps, as log-odds (two classes) or log-probabilities.
        (From 1.3 on, sklearn centres the log-probabilities: the same probabilities, other
        rounding.)"""
        prior = np.bincount(labels, minlength=num_classes) / len(labels)
        eps = np.finfo(np.float32).eps
        prior = np.clip(prior, eps, 1 - eps)
        if not self.multiclass_:
            p = prior[1]
            return np.array([np.log(p / (1 - p))])
        return np.log(prior).astype(np.float64)

    def _probabilities(self, raw):
        """raw [n, trees] -> predicted probabilities of each tree's target."""
        if not self.multiclass_:
            return 1.0 / (1.0 + np.exp(-raw))
        # 1.2.2's MultinomialDeviance: exp(raw - logsumexp(raw)), with scipy 1.11's logsumexp
        # written out (max-shifted sum of exponentials) so that its rounding is the same.
        largest = raw.max(axis=1, keepdims=True)
        largest[~np.isfinite(largest)] = 0
        log_sum = np.log(np.sum(np.exp(raw - largest), axis=1, keepdims=True)) + largest
        return np.nan_to_num(np.exp(raw - log_sum))

    # -- prediction ---------------------------------------------------------------------------
    def decision_function(self, X):
        """X [n, F] -> raw predictions [n, classes] ([n] for two classes)."""
        values = np.ascontiguousarray(np.asarray(X, dtype=np.float32).T)  # [F, n]
        n = values.shape[1]
        columns = np.arange(n)
        raw = np.tile(self.init_, (n, 1))
        for stage in range(len(self.feature_)):  # in stage order, as sklearn's predict_stages
            node = np.zeros((self.feature_.shape[1], n), dtype=np.intp)
            for depth in range(self.max_depth):
                slot = node + (2**depth - 1)
                feature = np.maximum(np.take_along_axis(self.feature_[stage], slot, 1), 0)
                threshold = np.take_along_axis(self.threshold_[stage], slot, 1)
                node = 2 * node + (values[feature, columns] > threshold)  # leaves pass left: +inf
            raw += self.learning_rate * np.take_along_axis(self.leaf_value_[stage], node, 1).T
        return raw if self.multiclass_ else raw[:, 0]

    def predict(self, X):
        return self._labels(self.decision_function(X))

    def predict_training(self):
        """predict(X) of the training X, from the raw predictions kept during the fit."""
        return self._labels(self.train_raw_ if self.multiclass_ else self.train_raw_[:, 0])

    def _labels(self, raw):
        encoded = np.argmax(raw, axis=1) if raw.ndim == 2 else (raw >= 0).astype(int)
        return self.classes_[encoded]

    @property
    def feature_importances_(self):
        """[F] impurity-based importances, sklearn's definition (zeros if no tree split)."""
        split = self.feature_[:, :, 0] >= 0
        if not split.any():
            return np.zeros(self.num_features_, dtype=np.float64)
        average = np.mean(self.tree_importance_[split], axis=0, dtype=np.float64)
        return average / np.sum(average)


# Trees grown together per call: their [trees, features, samples] arrays then stay in the cache
# (4 per call beat a whole 40-class stage at once: docs/performance.md).
TREES_PER_CALL = 4


def _fit_tree_groups(values, order, targets, max_depth, tie_breaker):
    """`_fit_trees` on groups of TREES_PER_CALL rows of `targets`, results concatenated."""
    groups = [
        _fit_trees(values, order, targets[i : i + TREES_PER_CALL], max_depth, tie_breaker)
        for i in range(0, len(targets), TREES_PER_CALL)
    ]
    return {key: np.concatenate([g[key] for g in groups]) for key in groups[0]}


def _fit_trees(values, order, targets, max_depth, tie_breaker, criterion="friedman_mse"):
    """Grow one regression tree per row of `targets` [T, n], level by level.

    `values` [F, n]: the float32 features; `order` [F, n]: each feature's sample indices sorted
    by value; `tie_breaker`: a RandomState that picks among equally good features, as sklearn's
    random feature order does; `criterion`: "friedman_mse" (the booster's, as scikit-learn 1.2.2
    computes it) or "squared_error".

    Returns `feature` and `threshold` [T, 2^depth - 1] (node j at depth d is slot 2^d - 1 + j,
    its children are 2j, 2j + 1 one level down; a leaf has feature -1 and threshold +inf, so it
    passes its samples to its left child), `leaf` [T, n] (the depth-`max_depth` node each
    sample ends in) and `importance` [T, F] (sklearn's unnormalised importances of each tree).
    """
    num_trees, n = targets.shape
    num_features = values.shape[0]
    positions = np.arange(n)
    trees = np.arange(num_trees)[:, None]
    feature = np.full((num_trees, 2**max_depth - 1), -1, dtype=np.intp)
    threshold = np.full((num_trees, 2**max_depth - 1), np.inf)
    importance = np.zeros((num_trees, num_features))

    # `ordered[t, f]`: the samples of tree t sorted by node, then by feature f's value, as flat
    # indices t * n + sample into `targets` (so one np.take gathers them); `to_values` turns
    # them into flat indices f * n + sample into `values`.
    ordered = np.broadcast_to(order + (np.arange(num_trees) * n)[:, None, None], (num_trees, num_features, n))
    to_values = ((np.arange(num_features)[None, :] - np.arange(num_trees)[:, None]) * n)[:, :, None]
    sorted_values = np.take_along_axis(values, order, 1)
    root_invalid = np.ones((num_features, n), dtype=bool)
    root_invalid[:, :-1] = sorted_values[:, 1:] <= sorted_values[:, :-1] + FEATURE_THRESHOLD

    node = np.zeros((num_trees, n), dtype=np.intp)  # node of each sample
    count, total, impurity, pure = _node_statistics(node, targets, 1)
    start = np.zeros((num_trees, 1), dtype=np.intp)  # first position of each node
    splittable = (count >= 2) & ~pure & (max_depth > 0)

    for depth in range(max_depth):
        num_nodes = 2**depth
        if not splittable.any():
            node = node * 2 ** (max_depth - depth)
            break
        node_at, n_left, n_right = _position_sides(start, count, n)

        y = np.take(targets, ordered)  # [T, F, n]
        if depth == 0:
            invalid = np.broadcast_to(root_invalid, y.shape).copy()
        else:
            x = np.take(values, ordered + to_values)  # [T, F, n]
            invalid = np.ones(y.shape, dtype=bool)
            np.less_equal(x[:, :, 1:], x[:, :, :-1] + FEATURE_THRESHOLD, out=invalid[:, :, :-1])
        invalid |= ~((n_right > 0) & np.take_along_axis(splittable, node_at, 1))[:, None, :]

        proxy = _split_proxies(y, invalid, total, count, start, splittable, n_left, n_right, criterion)
        best_feature, position, split = _best_splits(proxy, start, count, tie_breaker)

        midpoint = _thresholds(values, ordered, best_feature, position)
        slots = slice(num_nodes - 1, 2 * num_nodes - 1)
        feature[:, slots] = np.where(split, best_feature, -1)
        threshold[:, slots] = np.where(split, midpoint, np.inf)

        # Route the samples: X <= threshold goes left.
        sample_feature = np.maximum(np.take_along_axis(feature[:, slots], node, 1), 0)
        goes_right = values[sample_feature, positions[None]] > np.take_along_axis(threshold[:, slots], node, 1)
        child = 2 * node + goes_right
        child_count, child_total, child_impurity, child_pure = _node_statistics(child, targets, 2 * num_nodes)

        # Importance: weighted impurity decrease of each split, summed per feature.
        decrease = (
            count * impurity
            - child_count[:, 0::2] * child_impurity[:, 0::2]
            - child_count[:, 1::2] * child_impurity[:, 1::2]
        )
        np.add.at(importance, (np.broadcast_to(trees, split.shape)[split], best_feature[split]), decrease[split])

        splittable = np.repeat(split, 2, axis=1) & (child_count >= 2) & ~child_pure & (depth + 1 < max_depth)
        if splittable.any():
            ordered = _children_orders(ordered, goes_right, node_at)
        start = np.stack([start, start + child_count[:, 0::2]], axis=2).reshape(num_trees, 2 * num_nodes)
        node, count, total, impurity = child, child_count, child_total, child_impurity
    return {"feature": feature, "threshold": threshold, "leaf": node, "importance": importance / n}


def _position_sides(start, count, n):
    """Per position of the node-sorted samples [T, n] (the same for every feature): its node, and
    the sizes of the two sides of a split after it (float64, as the proxies use them).
    `start`, `count` [T, nodes]: each node's first position and its number of samples."""
    num_trees, num_nodes = count.shape
    positions = np.arange(n)
    node_at = np.repeat(np.tile(np.arange(num_nodes), num_trees), count.ravel()).reshape(num_trees, n)
    n_left = (positions - np.repeat(start.ravel(), count.ravel()).reshape(num_trees, n) + 1).astype(np.float64)
    n_right = np.repeat(count.ravel(), count.ravel()).reshape(num_trees, n) - n_left
    return node_at, n_left, n_right


def _thresholds(values, ordered, best_feature, position):
    """Each node's split threshold [T, nodes], as sklearn sets it: the midpoint of the values on
    either side of the split, or the lower one if rounding reaches the upper."""
    num_trees, _, n = ordered.shape
    trees = np.arange(num_trees)[:, None]
    low_sample = ordered[trees, best_feature, position] - trees * n
    high_sample = ordered[trees, best_feature, np.minimum(position + 1, n - 1)] - trees * n
    low = values[best_feature, low_sample].astype(np.float64)
    high = values[best_feature, high_sample].astype(np.float64)
    midpoint = low / 2.0 + high / 2.0
    return np.where((midpoint == high) | np.isinf(midpoint), low, midpoint)


def _children_orders(ordered, goes_right, node_at):
    """The per-feature sample orders [T, F, n] one level down: a stable sort by child, which
    keeps each node's left and right samples in value order."""
    child_at = np.take(goes_right, ordered).astype(np.uint8)
    child_at += (2 * node_at).astype(np.uint8)[:, None, :]
    return np.take_along_axis(ordered, np.argsort(child_at, axis=2, kind="stable"), 2)


def _split_proxies(y, invalid, total, count, start, splittable, n_left, n_right, criterion):
    """The split criterion's proxy [T, F, n] of a split after each sorted position (-inf where
    no split may go), from the targets `y` [T, F, n] in each feature's node-then-value order.

    Overwrites `y`. As in sklearn, the left sum runs from the node's first sample in sorted
    order, and the right one is the node's total (summed in sample order, sklearn's order at
    the root) minus it.
    """
    num_trees, num_features, _ = y.shape
    num_nodes = count.shape[1]
    if num_nodes == 1:
        sum_left = np.cumsum(y, axis=2, out=y)
    else:
        sum_left = y
        for t, j in zip(*np.nonzero(splittable)):
            part = sum_left[t, :, start[t, j] : start[t, j] + count[t, j]]
            np.cumsum(part, axis=1, out=part)
    sum_right = np.repeat(
        np.broadcast_to(total[:, None, :], (num_trees, num_features, num_nodes)).ravel(),
        np.broadcast_to(count[:, None, :], (num_trees, num_features, num_nodes)).ravel(),
    )
    sum_right = sum_right.reshape(y.shape) - sum_left
    with np.errstate(divide="ignore", invalid="ignore"):
        if criterion == "friedman_mse":
            # scikit-learn 1.2.2's FriedmanMSE proxy (GradientBoostingClassifier's default):
            # (n_right * sum_left - n_left * sum_right)^2 / (n_left * n_right), in that
            # order. Equal to the squared-error proxy up to constants, not in rounding, and
            # rounding decides between equally good splits.
            proxy = np.multiply(sum_left, n_right[:, None, :], out=sum_left)
            sum_right *= n_left[:, None, :]
            proxy -= sum_right
            np.square(proxy, out=proxy)
            proxy /= (n_left * n_right)[:, None, :]
        else:
            # squared_error: sum_left^2 / n_left + sum_right^2 / n_right (scikit-learn
            # >= 1.9 maps friedman_mse to this one).
            proxy = np.square(sum_left, out=sum_left)
            proxy /= n_left[:, None, :]
            np.square(sum_right, out=sum_right)
            sum_right /= n_right[:, None, :]
            proxy += sum_right
    np.copyto(proxy, -np.inf, where=invalid)
    return proxy


def _best_splits(proxy, start, count, tie_breaker):
    """(best feature, its first best position, whether to split) [T, num_nodes] per node.

    Best value per (tree, feature, node), then the best feature per node, then its first best
    position. sklearn tries the features in a random order and keeps the first of equals, i.e.
    a uniformly random one of them: so does the tie breaker.
    """
    num_trees, num_features, n = proxy.shape
    num_nodes = count.shape[1]
    if num_nodes == 1:
        best_proxy = proxy.max(axis=2, keepdims=True)
    else:
        rows = (np.arange(num_trees * num_features) * n).reshape(num_trees, num_features, 1)
        first = np.minimum(rows + start[:, None, :], proxy.size - 1).ravel()
        best_proxy = np.maximum.reduceat(proxy.ravel(), first).reshape(num_trees, num_features, num_nodes)
        best_proxy[np.broadcast_to(count[:, None, :] == 0, best_proxy.shape)] = -np.inf
    is_best = best_proxy == best_proxy.max(axis=1, keepdims=True)
    best_feature = np.where(is_best, tie_breaker.random_sample(is_best.shape), -1.0).argmax(axis=1)
    split = np.isfinite(np.take_along_axis(best_proxy, best_feature[:, None, :], 1)[:, 0])
    position = np.zeros((num_trees, num_nodes), dtype=np.intp)
    for t, j in zip(*np.nonzero(split)):
        a = start[t, j]
        position[t, j] = a + proxy[t, best_feature[t, j], a : a + count[t, j]].argmax()
    return best_feature, position, split


def _node_statistics(node, targets, num_nodes):
    """(count, total, impurity, pure) [T, num_nodes] of `targets` [T, n] grouped by `node` [T, n].

    Impurity is the squared-error criterion's: mean of y^2 minus the squared mean. `pure`:
    sklearn's leaf rule impurity <= EPSILON; a node whose targets are all equal counts as pure
    whatever the rounding of its impurity (sklearn's, summed in another order, is ~0 there too).
    """
    num_trees = len(targets)
    index = (node + num_nodes * np.arange(num_trees)[:, None]).ravel()
    size = num_trees * num_nodes
    count = np.bincount(index, minlength=size).reshape(num_trees, num_nodes)
    total = np.bincount(index, targets.ravel(), minlength=size).reshape(num_trees, num_nodes)
    squares = np.bincount(index, (targets**2).ravel(), minlength=size).reshape(num_trees, num_nodes)
    with np.errstate(divide="ignore", invalid="ignore"):
        impurity = np.where(count > 0, squares / count - (total / count) ** 2, 0.0)
    member = np.zeros(size)
    member[index] = targets.ravel()  # some member's target for each node
    differing = np.bincount(index, (targets.ravel() != member[index]), minlength=size)
    pure = (differing.reshape(num_trees, num_nodes) == 0) | (impurity <= EPSILON)
    return count, total, impurity, pure


def _newton_leaf_values(leaf, targets, negative_gradient, num_leaves, num_classes):
    """Leaf values [T, num_leaves]: sklearn's one Newton step per leaf.

    mean(negative gradient) / mean(p (1 - p)) with p = target - negative gradient, times
    (K - 1) / K for K > 2 classes; 0 where the denominator is below 1e-150 (`_safe_divide`).
    """
    num_trees = len(leaf)
    index = (leaf + num_leaves * np.arange(num_trees)[:, None]).ravel()
    size = num_trees * num_leaves
    probability = targets - negative_gradient
    count = np.bincount(index, minlength=size)
    numerator = np.bincount(index, negative_gradient.ravel(), minlength=size)
    denominator = np.bincount(index, (probability * (1 - probability)).ravel(), minlength=size)
    with np.errstate(divide="ignore", invalid="ignore"):
        numerator, denominator = numerator / count, denominator / count
        if num_classes > 2:
            numerator = numerator * ((num_classes - 1) / num_classes)
        value = np.where(np.abs(denominator) < 1e-150, 0.0, numerator / denominator)
    return np.where(count > 0, value, 0.0).reshape(num_trees, num_leaves)


__all__ = ["PresortedGradientBoostingClassifier", "FEATURE_THRESHOLD", "EPSILON"]
