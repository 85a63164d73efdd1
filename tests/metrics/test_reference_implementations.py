"""The fast batched metrics against per-batch reference implementations (tests/metrics_reference.py)."""
import numpy as np
import pytest

import metrics
from metrics import utils
from tests.metrics_fixtures import CountingRep, SyntheticData, same_state
from tests.metrics_reference import ref_beta_vae, ref_factor_code, ref_factor_vae, ref_mig, ref_modularity, ref_sap


@pytest.fixture(scope="module")
def data():
    return SyntheticData()


@pytest.mark.parametrize("rep_name", ["factor_rep_plus", "rotated_rep"])
def test_mig_matches_reference(data, rep_name):
    rep = getattr(data, rep_name)
    rs_fast, rs_ref = np.random.RandomState(5), np.random.RandomState(5)
    counting = CountingRep(rep)
    fast = metrics.compute_mig(data, counting, rs_fast, num_train=3000, chunk_size=1024)
    ref = ref_mig(data, rep, rs_ref, num_train=3000)
    assert fast["discrete_mig"] == ref
    assert same_state(rs_fast, rs_ref)
    # Batched: 3000 points in chunks of >= 1024 observations, not 188 calls of 16.
    assert len(counting.sizes) == 3 and sum(counting.sizes) == 3000


@pytest.mark.parametrize("rep_name", ["factor_rep_plus", "rotated_rep"])
def test_modularity_matches_reference(data, rep_name):
    """Exact: the same points (train, then the unreported test points), bins, MI and formula;
    factor_rep_plus has a constant code (max MI 0: scored 0) and a noise code."""
    rep = getattr(data, rep_name)
    rs_fast, rs_ref = np.random.RandomState(17), np.random.RandomState(17)
    fast = metrics.compute_modularity(data, rep, rs_fast, num_train=1500, num_test=700,
                                      chunk_size=512)
    ref = ref_modularity(data, rep, rs_ref, num_train=1500, num_test=700)
    assert fast["modularity_score"] == ref
    assert same_state(rs_fast, rs_ref)


@pytest.mark.parametrize("rep_name", ["factor_rep_plus", "rotated_rep"])
def test_sap_matches_reference(data, rep_name):
    """Exact: the same points and one LinearSVC per (code, factor) with the same settings."""
    rep = getattr(data, rep_name)
    rs_fast, rs_ref = np.random.RandomState(19), np.random.RandomState(19)
    fast = metrics.compute_sap(data, rep, rs_fast, num_train=600, num_test=300, chunk_size=256)
    ref = ref_sap(data, rep, rs_ref, num_train=600, num_test=300)
    assert fast["SAP_score"] == ref
    assert same_state(rs_fast, rs_ref)


def test_factor_code_matches_reference(data):
    rs_fast, rs_ref = np.random.RandomState(9), np.random.RandomState(9)
    mus, ys = utils.generate_batch_factor_code(data, data.rotated_rep, 1000, rs_fast, 16,
                                               chunk_size=100)
    mus_r, ys_r = ref_factor_code(data, data.rotated_rep, 1000, rs_ref, 16)
    assert mus.dtype == mus_r.dtype == np.float32  # dtype kept: bin edges depend on it
    np.testing.assert_array_equal(mus, mus_r)
    np.testing.assert_array_equal(ys, ys_r)


@pytest.mark.parametrize("rep_name", ["factor_rep_plus", "rotated_rep"])
def test_factor_vae_matches_reference(data, rep_name):
    rep = getattr(data, rep_name)
    rs_fast, rs_ref = np.random.RandomState(11), np.random.RandomState(11)
    fast = metrics.compute_factor_vae(data, rep, rs_fast, num_train=300, num_eval=200,
                                      num_variance_estimate=1000, chunk_size=640)
    train, ev = ref_factor_vae(data, rep, rs_ref, num_train=300, num_eval=200,
                               num_variance_estimate=1000)
    assert fast["train_accuracy"] == train and fast["eval_accuracy"] == ev
    assert same_state(rs_fast, rs_ref)


def test_beta_vae_matches_reference(data):
    rs_fast, rs_ref = np.random.RandomState(13), np.random.RandomState(13)
    fast = metrics.compute_beta_vae(data, data.rotated_rep, rs_fast, num_train=200,
                                    num_eval=100, chunk_size=1000)
    train, ev = ref_beta_vae(data, data.rotated_rep, rs_ref, num_train=200, num_eval=100)
    assert fast["train_accuracy"] == train and fast["eval_accuracy"] == ev
    assert same_state(rs_fast, rs_ref)
