"""DCI: formulas on fixed importance matrices; the presorted booster's choices among equally
good splits (exact ties built in), and DCI on tied codes within a bound derived by hand."""
import numpy as np
import pytest

from metrics import dci
from metrics.presorted_gbt import PresortedGradientBoostingClassifier


def test_dci_formulas_by_hand():
    imp = np.array([[0.6, 0.0], [0.0, 0.3], [0.05, 0.05]])
    # Code rows: entropies base 2 (num_factors) of (1, 0), (0, 1), (0.5, 0.5) -> 0, 0, 1.
    d_expected = (0.6 * 1 + 0.3 * 1 + 0.1 * 0) / 1.0
    assert dci.disentanglement(imp) == pytest.approx(d_expected, abs=1e-8)
    # Factor columns, base 3 (num_codes): p = (0.6, 0, 0.05)/0.65 and (0, 0.3, 0.05)/0.35.
    def h3(col):
        p = col / col.sum()
        p = p[p > 0]
        return -np.sum(p * np.log(p)) / np.log(3)
    c_expected = (0.65 * (1 - h3(imp[:, 0])) + 0.35 * (1 - h3(imp[:, 1]))) / 1.0
    assert dci.completeness(imp) == pytest.approx(c_expected, abs=1e-8)
    zero = np.zeros((3, 2))
    assert np.isfinite(dci.disentanglement(zero)) and np.isfinite(dci.completeness(zero))


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


def exact_codes(rs, n):
    """Codes (factor 0 + noise, factor 1 + noise, code 0 again) [3, n] float32 and factors
    [2, n] (4 and 3 values). Each noise is < 0.3, so a code determines its factor exactly."""
    ys = np.stack([rs.randint(4, size=n), rs.randint(3, size=n)])
    c = np.round(ys + 0.3 * rs.rand(2, n), 3)
    return np.concatenate([c, c[:1]]).astype(np.float32), ys


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


def test_dci_on_tied_codes_is_within_the_hand_bound():
    """exact_codes: factor 1's trees can only use code 1, factor 0's use codes 0 and 2
    (isolating a class leaves nodes whose residuals are all equal, so nothing else is split).
    Importances [codes, factors]: (a, 0), (0, 1), (1 - a, 0) with a the share the tie breaker
    gives code 0. Then every code row has one non-zero entry: disentanglement = 1; factor 1's
    column is one-hot; factor 0's has entropy H(a) = -a ln a - (1-a) ln(1-a) <= ln 2, so
    completeness = 1/2 + 1/2 (1 - H(a) / ln 3), in [1 - ln 2 / (2 ln 3), 1]; and the factors
    are predicted exactly: informativeness 1. With ties split (0 < a < 1) completeness < 1."""
    rs = np.random.RandomState(3)
    (x_train, y_train), (x_test, y_test) = exact_codes(rs, 400), exact_codes(rs, 200)
    importance, train_acc, test_acc = dci.importance_gbt(x_train, y_train, x_test, y_test, n_jobs=1)
    assert importance[1, 0] == importance[0, 1] == importance[2, 1] == 0.
    assert train_acc == test_acc == 1.
    scores = dci.dci_from_codes(x_train, y_train, x_test, y_test, n_jobs=1)
    assert scores["disentanglement"] == pytest.approx(1., abs=1e-8)
    low = 1 - np.log(2) / (2 * np.log(3))
    assert low - 1e-8 <= scores["completeness"] < 1 - 1e-3
    a = importance[0, 0]
    assert 0.2 < a < 0.8  # ties split between the twins, so near the lower end
    assert scores["completeness"] == pytest.approx(
        0.5 + 0.5 * (1 + (a * np.log(a) + (1 - a) * np.log(1 - a)) / np.log(3)), abs=1e-8)


def test_gbt_random_state_reaches_sklearns_booster():
    """booster="sklearn" with gbt_random_state: the same DCI whatever numpy's global state
    (sklearn would otherwise seed each tree from it, and the twins make its draws matter);
    the presorted booster has its own fixed seed and refuses one."""
    rs = np.random.RandomState(4)
    codes = (*exact_codes(rs, 200), *exact_codes(rs, 100))
    runs, saved = [], np.random.get_state()
    try:
        for global_seed in (0, 1):
            np.random.seed(global_seed)
            runs.append(dci.dci_from_codes(*codes, n_jobs=1, booster="sklearn", gbt_random_state=7))
    finally:
        np.random.set_state(saved)
    assert runs[0] == runs[1]
    with pytest.raises(ValueError, match="gbt_random_state"):
        dci.dci_from_codes(*codes, gbt_random_state=7)
