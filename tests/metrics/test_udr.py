"""UDR (metrics/udr.py) gives disentanglement_lib's numbers: its own udr.py, run by
tests/reference/udr_reference.py on synthetic models (committed as tests/reference/udr.json)."""
import json

import numpy as np
import pytest

from metrics.udr import UdrError, compute_udr_sklearn, relative_strength
from tests import REFERENCE_DIR
from tests.reference import udr_reference as ref

EXPECTED = json.loads((REFERENCE_DIR / "udr.json").read_text())


def run_case(name):
    _, models, matrix, filter_low_kl, threshold, batch_size, num_points, seed = next(
        c for c in ref.CASES if c[0] == name
    )
    random_state = np.random.RandomState(seed)
    scores = compute_udr_sklearn(
        ref.UniformFactors(),
        ref.make_models(models),
        random_state,
        batch_size,
        num_points,
        correlation_matrix=matrix,
        filter_low_kl=filter_low_kl,
        include_raw_correlations=True,
        kl_filter_threshold=threshold,
    )
    return scores, random_state


def test_reference_covers_every_case():
    assert set(EXPECTED["cases"]) == {c[0] for c in ref.CASES}
    assert EXPECTED["versions"]["sklearn"] == "1.2.2"  # the authors' pinned scikit-learn
    assert EXPECTED["source"].endswith("udr/metrics/udr.py")


@pytest.mark.parametrize("name", [c[0] for c in ref.CASES])
def test_matches_disentanglement_lib(name):
    expected = EXPECTED["cases"][name]
    scores, random_state = run_case(name)
    np.testing.assert_allclose(scores["model_scores"], expected["model_scores"], rtol=0, atol=1e-9)
    np.testing.assert_allclose(
        scores["pairwise_disentanglement_scores"], expected["pairwise_disentanglement_scores"], rtol=0, atol=1e-9
    )
    raw = np.asarray(scores["raw_correlations"])
    np.testing.assert_array_equal(np.isnan(raw), expected["raw_correlations_nan"])
    np.testing.assert_allclose(np.nan_to_num(raw, nan=-1.0), expected["raw_correlations"], rtol=0, atol=1e-9)
    # The RandomState is left where disentanglement_lib leaves it (the Lasso fits draw from it).
    assert random_state.randint(2**31 - 1) == expected["next_randint"]


def test_known_structure():
    """What UDR is for: a permuted, rescaled copy scores as the original; a rotation scores low;
    a dead latent is filtered, so it does not pull its model down."""
    scores = EXPECTED["cases"]["lasso_filtered"]["model_scores"]  # disentangled, permuted, rotated, dead
    assert scores[0] == pytest.approx(scores[1]) and scores[2] < scores[0] - 0.3
    assert scores[3] >= scores[0] - 1e-6
    unfiltered = EXPECTED["cases"]["lasso_unfiltered"]["model_scores"]
    assert unfiltered[0] < scores[0]  # without the filter the dead latent's zero rows count


def test_relative_strength_by_hand():
    # A zero row and a zero column (a zeroed latent): their 0/0 terms count as 0, not as missing.
    matrix = np.array([[2.0, 1.0, 0.0], [0.5, 3.0, 0.0], [0.0, 0.0, 0.0]])
    columns = [(2.0**2) / 2.5, (3.0**2) / 4.0, 0.0]
    rows = [(2.0**2) / 3.0, (3.0**2) / 3.5, 0.0]
    assert relative_strength(matrix) == pytest.approx((np.mean(columns) + np.mean(rows)) / 2, abs=1e-15)


def test_bad_input_one_line():
    with pytest.raises(UdrError, match="multiple of batch_size"):
        compute_udr_sklearn(
            ref.UniformFactors(), ref.make_models(["disentangled", "permuted"]), np.random.RandomState(0), 7, 100
        )
    with pytest.raises(UdrError, match="at least 2"):
        compute_udr_sklearn(ref.UniformFactors(), ref.make_models(["disentangled"]), np.random.RandomState(0), 10, 100)
    with pytest.raises(UdrError, match="lasso' or 'spearman"):
        compute_udr_sklearn(
            ref.UniformFactors(),
            ref.make_models(["disentangled", "permuted"]),
            np.random.RandomState(0),
            10,
            100,
            correlation_matrix="pearson",
        )
