"""The presorted booster (metrics/presorted_gbt.py) is sklearn's GradientBoostingClassifier up to
equally good splits, and its tie breaker picks only among equally good splits (exact ties built in)."""
import json

import numpy as np
import pytest
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.tree import DecisionTreeRegressor

from metrics import dci
from metrics.presorted_gbt import PresortedGradientBoostingClassifier, _fit_trees
from tests import REFERENCE_DIR
from tests.metrics_fixtures import exact_codes
from tests.reference import sklearn_1_2_2_reference as ref

EXPECTED = json.loads((REFERENCE_DIR / "sklearn_1_2_2.json").read_text())


def level_order(tree, depth):
    """sklearn Tree -> (feature, threshold) per slot 2^d - 1 + j; a leaf passes its samples left."""
    feature, threshold = np.full(2 ** depth - 1, -1), np.full(2 ** depth - 1, np.inf)

    def walk(node, d, j):
        if d == depth:
            return
        if tree.children_left[node] == -1:
            walk(node, d + 1, 2 * j)
            return
        feature[2 ** d - 1 + j], threshold[2 ** d - 1 + j] = tree.feature[node], tree.threshold[node]
        walk(tree.children_left[node], d + 1, 2 * j)
        walk(tree.children_right[node], d + 1, 2 * j + 1)

    walk(0, 0, 0)
    return feature, threshold


def same_partition(a, b):
    pairs = set(zip(a.tolist(), b.tolist()))
    return len(pairs) == len(set(a.tolist())) == len(set(b.tolist()))


def test_trees_are_sklearns():
    """Against today's DecisionTreeRegressor on continuous targets, with tied feature values
    (rounded features) and without: the same partition of the samples always; where sklearn's
    tree does not depend on its seed (no two equally good splits), the same tree and
    importances. scikit-learn >= 1.9 computes friedman_mse as squared_error, so the trees are
    compared with squared_error here; the friedman_mse trees of scikit-learn 1.2.2 (the
    booster's) are compared in test_booster_stage_by_stage_equals_sklearn_1_2_2."""
    rs = np.random.RandomState(1)
    exact = 0
    for trial in range(12):
        n, num_features, depth = [50, 300, 1000][trial % 3], 1 + trial % 5, 1 + trial % 4
        x = rs.randn(n, num_features).astype(np.float32)
        if trial % 2:
            x = np.round(x, 1)
        targets = rs.randn(3, n) + x[:, 0] * (trial % 3)
        values = np.ascontiguousarray(x.T)
        ours = _fit_trees(values, np.argsort(values, axis=1, kind="stable"), targets, depth,
                          np.random.RandomState(0), criterion="squared_error")
        for t in range(3):
            fits = [DecisionTreeRegressor(max_depth=depth, criterion="squared_error",
                                          random_state=seed).fit(x, targets[t])
                    for seed in range(4)]
            assert same_partition(fits[0].apply(x), ours["leaf"][t])
            trees = [level_order(f.tree_, depth) for f in fits]
            if all(np.array_equal(a[0], trees[0][0]) and np.array_equal(a[1], trees[0][1]) for a in trees):
                exact += 1
                np.testing.assert_array_equal(ours["feature"][t], trees[0][0])
                np.testing.assert_array_equal(ours["threshold"][t], trees[0][1])
                np.testing.assert_allclose(ours["importance"][t],
                                           fits[0].tree_.compute_feature_importances(normalize=False),
                                           rtol=1e-10, atol=1e-14)
    assert exact >= 20  # most trees here have no ties, so the exact comparison ran


@pytest.mark.parametrize("num_classes", [2, 3, 6])
def test_booster_is_sklearns_without_ties(num_classes):
    """Stumps on continuous features rarely meet two equally good splits: then the whole
    model - Newton leaf values, importances, predictions - is today's sklearn's. Today's
    sklearn starts multiclass models from centred log-priors, 1.2.2 (and this booster) from
    the log-priors themselves: raw predictions are compared up to that per-row shift, which
    changes no probability (the absolute values are 1.2.2's: test_booster_stage_by_stage...)."""
    rs = np.random.RandomState(num_classes)
    x = rs.randn(400, 4).astype(np.float32)
    y = (x[:, 0] * 3 + x[:, 1] + rs.randn(400)).round().astype(int) % num_classes
    x_test = rs.randn(200, 4).astype(np.float32)
    ref = GradientBoostingClassifier(n_estimators=10, max_depth=1, random_state=0).fit(x, y)
    ours = PresortedGradientBoostingClassifier(n_estimators=10, max_depth=1).fit(x, y)

    def centred(raw):
        return raw - raw.mean(axis=1, keepdims=True) if raw.ndim == 2 else raw
    for points in (x, x_test):
        np.testing.assert_allclose(centred(ours.decision_function(points)), centred(ref.decision_function(points)),
                                   rtol=0, atol=1e-12)
    np.testing.assert_allclose(ours.feature_importances_, ref.feature_importances_, rtol=1e-10, atol=1e-14)
    np.testing.assert_array_equal(ours.predict(x_test), ref.predict(x_test))
    np.testing.assert_array_equal(ours.classes_, ref.classes_)
    # The training predictions kept from the fit are those of the fitted model.
    np.testing.assert_array_equal(ours.train_raw_.squeeze(), ours.decision_function(x))
    np.testing.assert_array_equal(ours.predict_training(), ours.predict(x))


def routed_leaves(model, stage, tree, x):
    """The depth-3 slot each row of x reaches in one of our trees."""
    node = np.zeros(len(x), dtype=int)
    for d in range(model.max_depth):
        slot = node + 2 ** d - 1
        feature = np.maximum(model.feature_[stage, tree][slot], 0)
        node = 2 * node + (x[np.arange(len(x)), feature] > model.threshold_[stage, tree][slot])
    return node


@pytest.mark.parametrize("case", ref.GBT_CASES, ids=[c[0] for c in ref.GBT_CASES])
def test_booster_stage_by_stage_equals_sklearn_1_2_2(case):
    """scikit-learn 1.2.2's GradientBoostingClassifier(random_state=s) at its defaults (100
    stages, depth 3, friedman_mse), tree by tree in fitting order up to the first tree on which
    its seeds 0, 1, 2 disagree (tests/reference/sklearn_1_2_2_reference.py): the same split
    features and thresholds, the same Newton leaf values, the same raw predictions."""
    name, n, num_features, num_classes = case
    expected = EXPECTED["gbt"][name]
    x, y = ref.make_gbt_data(n, num_features, num_classes)
    ours = PresortedGradientBoostingClassifier().fit(x, y)
    assert len(expected["trees"]) >= 2
    for tree in expected["trees"]:
        stage, k = tree["stage"], tree["tree"]
        np.testing.assert_array_equal(ours.feature_[stage, k], tree["feature"])
        threshold = [np.inf if t is None else t for t in tree["threshold"]]
        np.testing.assert_array_equal(ours.threshold_[stage, k], threshold)
        reached = np.unique(routed_leaves(ours, stage, k, x))
        np.testing.assert_allclose(ours.leaf_value_[stage, k][reached],
                                   np.array(tree["value"], float)[reached], rtol=1e-12, atol=1e-15)
    stages = expected["complete_stages"]
    assert stages >= 1, "the reference case has no complete stage: the raw predictions cannot be compared"
    truncated = PresortedGradientBoostingClassifier()
    truncated.__dict__.update(ours.__dict__)
    for attr in ("feature_", "threshold_", "leaf_value_"):
        setattr(truncated, attr, getattr(ours, attr)[:stages])
    staged = np.array(expected["staged_raw"])        # [n, 1] for two classes, [n, 3] for three
    assert staged.shape == (n, 1 if num_classes == 2 else num_classes)
    np.testing.assert_allclose(truncated.decision_function(x).reshape(staged.shape), staged,
                               rtol=0, atol=1e-12)


def test_single_class_is_an_error():
    with pytest.raises(ValueError, match="single class"):
        PresortedGradientBoostingClassifier().fit(np.zeros((5, 2)), np.ones(5))


@pytest.mark.slow   # 20 fits of sklearn's booster: ~25 s
def test_dci_close_to_sklearns():
    """On codes like a trained model's (saturated, rounded, noise dimensions) DCI with the
    presorted booster lies within the spread of sklearn's own runs over 20 global seeds (no
    slack: with 3 seeds the spread is too narrow, informativeness_test then lies 0.012 below it)."""
    rs = np.random.RandomState(0)
    sizes = (3, 4, 6)

    def codes(n):
        ys = np.stack([rs.randint(s, size=n) for s in sizes])
        f = (ys / (np.array(sizes)[:, None] - 1)).T
        c = np.concatenate([np.tanh(3 * f - 1.5 + 0.1 * rs.randn(n, 3)), f[:, :2] @ rs.randn(2, 2),
                            rs.randn(n, 2)], axis=1)
        c[:, 0] = np.round(c[:, 0] * 7) / 7  # repeated values, as saturated codes have
        return c.T.astype(np.float32), ys

    (x_train, y_train), (x_test, y_test) = codes(400), codes(200)
    ours = dci.dci_from_codes(x_train, y_train, x_test, y_test)
    theirs = []
    for seed in range(20):
        np.random.seed(seed)
        theirs.append(dci.dci_from_codes(x_train, y_train, x_test, y_test, booster="sklearn", n_jobs=1))
    for key, value in ours.items():
        low, high = min(t[key] for t in theirs), max(t[key] for t in theirs)
        assert low <= value <= high, (key, value, low, high)
    assert 0.3 < ours["disentanglement"] < 1  # a non-trivial score
    # Deterministic: the tie breaker has a fixed seed.
    assert dci.dci_from_codes(x_train, y_train, x_test, y_test) == ours


# -- the presorted booster (DCI's default) on codes with exact ties ---------------------------
# Code 2 is a copy of code 0: every split on code 0 has a twin on code 2 that is equally good
# bitwise (the same float32 values in the same order), so the booster meets exact ties at
# nearly every node and its tie breaker (a RandomState(random_state)) decides between them.

def tied_codes(n=300, seed=0):
    """x [n, 3] float32: a code of factor 0 (labels [n] in 0..2, 20% of them flipped), a
    rounded noise code (repeated values), code 0 again. Values lie on a 1e-3 grid, so distinct
    values are further apart than the booster's 1e-7 feature threshold."""
    rs = np.random.RandomState(seed)
    c0 = np.round(rs.rand(n) * 3, 3)
    c1 = np.round(rs.randn(n), 1)
    flip = (rs.rand(n) < 0.2) * rs.randint(1, 3, size=n)
    labels = (np.minimum(np.floor(c0), 2) + flip).astype(int) % 3
    return np.stack([c0, c1, c0], axis=1).astype(np.float32), labels


def route(feature, threshold, x):
    """One level-order tree (feature/threshold [2^depth - 1]) applied to x [n, F]: each
    sample's node per depth ([depth][n]) and its leaf [n]. X <= threshold goes left; a leaf
    (feature -1, threshold +inf) passes its samples to its left child."""
    depth = int(np.log2(len(feature) + 1))
    node, per_depth = np.zeros(len(x), dtype=int), []
    for d in range(depth):
        per_depth.append(node)
        slot = 2 ** d - 1 + node
        node = 2 * node + (x[np.arange(len(x)), np.maximum(feature[slot], 0)] > threshold[slot])
    return per_depth, node


def split_gains(x, r):
    """Brute force, per feature of x [m, F]: the squared-error reduction (times m) of every
    split between two distinct sorted values, for targets r [m]:
    sum_l^2 / n_l + sum_r^2 / n_r - sum^2 / m (empty if the feature is constant)."""
    gains = []
    for f in range(x.shape[1]):
        order = np.argsort(x[:, f], kind="stable")
        xs, rs = x[order, f], r[order]
        n_left = np.arange(1, len(r))
        s_left = np.cumsum(rs)[:-1]
        s_right = rs.sum() - s_left
        gain = s_left ** 2 / n_left + s_right ** 2 / (len(r) - n_left) - rs.sum() ** 2 / len(r)
        gains.append(gain[xs[1:] > xs[:-1]])
    return gains


def check_tree(x, r, feature, threshold):
    """Asserts that every split of one tree fit to residuals r is one of the equally good
    splits of its node (its partition gains as much as the best split of any feature, up to
    rounding), and that a node left unsplit above the depth limit had nothing to split.
    Returns (splits, splits whose equally good set spans more than one feature)."""
    per_depth, _ = route(feature, threshold, x)
    real = {(0, 0)}  # nodes that exist (a leaf's left "child" is the leaf passed on)
    splits = tied = 0
    for d, node in enumerate(per_depth):
        for j in np.unique(node):
            if (d, j) not in real:
                continue
            slot, inside = 2 ** d - 1 + j, node == j
            ri = r[inside]
            gains = split_gains(x[inside], ri)
            best = max((g.max() for g in gains if g.size), default=None)
            if feature[slot] < 0:
                # sklearn's leaf rule: impurity <= float64 eps (here with room for rounding)
                assert best is None or np.var(ri) <= 1e-15, (d, j, best, np.var(ri))
                continue
            left = x[inside, feature[slot]] <= threshold[slot]
            assert 0 < left.sum() < len(ri)
            chosen = (ri[left].sum() ** 2 / left.sum() + ri[~left].sum() ** 2 / (~left).sum()
                      - ri.sum() ** 2 / len(ri))
            tolerance = 1e-9 * best
            assert chosen >= best - tolerance, (d, j, chosen, best)
            equally_good = [f for f, g in enumerate(gains) if g.size and g.max() >= best - tolerance]
            assert feature[slot] in equally_good, (d, j, feature[slot], equally_good)
            splits += 1
            tied += len(equally_good) > 1
            real |= {(d + 1, 2 * j), (d + 1, 2 * j + 1)}
    return splits, tied


@pytest.mark.parametrize("seed", [0, 1])
def test_presorted_booster_picks_only_equally_good_splits(seed):
    """Replays the fit: each stage's residuals are derived here (one-hot labels minus the
    softmax of the raw predictions, which start at the log prior (scikit-learn 1.2.2's) and add 0.1 times the
    fitted leaf values of each tree), and every split of every tree is checked against all
    splits of all features by brute force."""
    x, labels = tied_codes()
    model = PresortedGradientBoostingClassifier(n_estimators=30, random_state=seed).fit(x, labels)
    onehot = (labels[:, None] == np.arange(3)).astype(float)
    log_prior = np.log(np.bincount(labels) / len(labels))
    raw = np.tile(log_prior, (len(x), 1))
    splits = tied = 0
    for stage in range(model.n_estimators):
        p = np.exp(raw - raw.max(axis=1, keepdims=True))
        residual = onehot - p / p.sum(axis=1, keepdims=True)
        for k in range(3):
            feature, threshold = model.feature_[stage, k], model.threshold_[stage, k]
            s, t = check_tree(x, residual[:, k], feature, threshold)
            splits, tied = splits + s, tied + t
            raw[:, k] += model.learning_rate * model.leaf_value_[stage, k][route(feature, threshold, x)[1]]
    assert splits > 200 and tied > splits / 2  # the ties were real, and common
    # The replayed raw predictions are the model's own (so the residuals checked were its own).
    np.testing.assert_allclose(raw, model.train_raw_, rtol=0, atol=1e-9)


def test_presorted_booster_seed_only_picks_among_twins():
    """On codes that determine the factor, the only ties are between the twins (code 0 and
    its copy, code 2). A fixed random_state gives the same model; another one picks other
    twins and nothing else: the same trees with feature 2 read as feature 0, the same
    thresholds, leaf values and predictions. Its choices are fair: each twin wins about half
    of the splits (deterministic here, as the seeds are fixed)."""
    x, ys = exact_codes(np.random.RandomState(3), 400)
    fits = [PresortedGradientBoostingClassifier(random_state=s).fit(x.T, ys[0])
            for s in (0, 0, 1)]
    for attr in ("feature_", "threshold_", "leaf_value_", "tree_importance_", "train_raw_"):
        np.testing.assert_array_equal(getattr(fits[0], attr), getattr(fits[1], attr))
    a, b = fits[0], fits[2]
    assert not np.array_equal(a.feature_, b.feature_)
    np.testing.assert_array_equal(np.where(a.feature_ == 2, 0, a.feature_),
                                  np.where(b.feature_ == 2, 0, b.feature_))
    for attr in ("threshold_", "leaf_value_", "train_raw_"):
        np.testing.assert_array_equal(getattr(a, attr), getattr(b, attr))
    for model in (a, b):
        used = model.feature_[model.feature_ >= 0]
        assert len(used) > 200 and set(used.tolist()) == {0, 2}
        assert 0.4 < np.mean(used == 2) < 0.6
