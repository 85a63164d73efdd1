"""DCI (metrics/dci.py): formulas on fixed importance matrices, DCI on tied codes within a bound
derived by hand, and sklearn's booster made reproducible by gbt_random_state (the presorted
booster: tests/metrics/test_presorted_gbt.py)."""
import numpy as np
import pytest

from metrics import dci
from tests.metrics_fixtures import exact_codes


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
