"""metrics/utils.py: chunked representation calls, the pipelined sampler (order, errors), and
histogram discretisation of a code numpy cannot split into bins."""
import numpy as np
import pytest

import metrics
from metrics import utils
from tests.metrics_fixtures import CountingRep, SyntheticData, collapsed_code


@pytest.fixture(scope="module")
def data():
    return SyntheticData()


def test_chunking_bounds_call_sizes(data):
    rep = CountingRep(data.factor_rep)
    metrics.compute_factor_vae(data, rep, np.random.RandomState(0), num_train=20,
                               num_eval=10, num_variance_estimate=300, chunk_size=256)
    # Variance estimate: 256 + 44; then 4 points (256 images) per call: 5 + 3 calls.
    assert rep.sizes[:2] == [256, 44]
    assert rep.sizes[2:] == [256] * 5 + [256, 256, 128]


def test_sampling_error_propagates():
    class Broken(SyntheticData):
        calls = 0

        def sample_observations_from_factors(self, factors, random_state):
            Broken.calls += 1
            if Broken.calls > 3:
                raise RuntimeError("disk gone")
            return super().sample_observations_from_factors(factors, random_state)

    data = Broken()
    with pytest.raises(RuntimeError, match="disk gone"):
        metrics.compute_mig(data, data.factor_rep, np.random.RandomState(0), num_train=200)


def test_pipelined_order_and_inline():
    assert list(utils.pipelined(iter(range(50)), prefetch=2)) == list(range(50))
    assert list(utils.pipelined(iter(range(5)), prefetch=0)) == list(range(5))


def test_collapsed_code_is_discretised_as_a_constant_one():
    rs = np.random.RandomState(0)
    normal = rs.normal(size=200).astype(np.float32)
    target = np.stack([collapsed_code(rs.randint(2, size=200)), normal])
    with pytest.raises(ValueError):        # what numpy (and disentanglement_lib) does with row 0
        np.histogram(target[0], 20)
    got = utils.histogram_discretize(target, 20)
    constant = np.full(200, np.float32(1))
    np.testing.assert_array_equal(got[0], np.digitize(constant, np.histogram(constant, 20)[1][:-1]))
    np.testing.assert_array_equal(got[1], np.digitize(normal, np.histogram(normal, 20)[1][:-1]))
    assert len(set(got[0])) == 1 and len(set(got[1])) > 5
    np.testing.assert_array_equal(utils.discrete_mutual_info(got[:1], rs.randint(3, size=(1, 200))), [[0.0]])
