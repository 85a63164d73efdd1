"""The parallel-stage booster is sklearn's GradientBoostingClassifier, tree for tree."""
import numpy as np
import pytest
from sklearn.ensemble import GradientBoostingClassifier

from metrics.gbt import ParallelGradientBoostingClassifier


@pytest.mark.parametrize("num_classes", [2, 5])
def test_same_model_as_sklearn(num_classes):
    rs = np.random.RandomState(0)
    x = np.round(rs.randn(300, 4), 1)  # rounded: many tied splits, so seeds matter
    y = (x[:, 0] * 2 + x[:, 1] + 0.5 * rs.randn(300) > 0).astype(int) if num_classes == 2 \
        else rs.randint(num_classes, size=300)
    x_test = np.round(rs.randn(100, 4), 1)
    seed_a, seed_b = np.random.RandomState(5), np.random.RandomState(5)
    ref = GradientBoostingClassifier(n_estimators=20, random_state=seed_a).fit(x, y)
    par = ParallelGradientBoostingClassifier(n_estimators=20, random_state=seed_b).fit(x, y)
    np.testing.assert_array_equal(ref.feature_importances_, par.feature_importances_)
    np.testing.assert_array_equal(ref.decision_function(x_test), par.decision_function(x_test))
    assert seed_a.randint(1 << 30) == seed_b.randint(1 << 30)
    # Seeds matter here, so the comparison can fail: another seed gives another model.
    other = GradientBoostingClassifier(n_estimators=20, random_state=6).fit(x, y)
    assert not np.array_equal(other.feature_importances_, par.feature_importances_)
