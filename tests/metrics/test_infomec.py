"""InfoMEC (metrics/infomec.py) gives the numbers of the QLAE authors' own code, run by
tests/reference/infomec_reference.py on cases of ours (committed as tests/reference/infomec.json),
and numbers derived by hand on cases small enough to reason about."""
import json
import math

import numpy as np
import pytest

from metrics.infomec import active_latents, compute_infomec, modularity_and_compactness
from tests import REFERENCE_DIR
from tests.reference import infomec_reference as ref

EXPECTED = json.loads((REFERENCE_DIR / "infomec.json").read_text())["cases"]


@pytest.mark.parametrize("name,discrete,n,seed", ref.CASES, ids=[c[0] for c in ref.CASES])
def test_matches_the_authors_code(name, discrete, n, seed):
    sources, latents = ref.make_case(name, n, seed)
    result = compute_infomec(sources, latents, discrete)
    expected = EXPECTED[name]
    for key in ("infom", "infoe", "infoc"):
        assert result[key] == pytest.approx(expected[key], abs=1e-9), key
    np.testing.assert_allclose(result["nmi"], np.array(expected["nmi"]), rtol=0, atol=1e-9)
    assert result["active_latents"].tolist() == expected["active_latents"]


def test_the_pruning_rules_on_the_reference_cases():
    # discrete: the constant latent (5) is inactive, the almost-constant one (6) active;
    # continuous: the constant (5) and the near-constant (6, range ~1e-2 of the widest) inactive.
    assert EXPECTED["discrete_aligned"]["active_latents"] == [True] * 5 + [False, True, True, True, True]
    assert EXPECTED["continuous_aligned"]["active_latents"] == [True] * 5 + [False, False, True, True]


def test_one_to_one_discrete_code_is_perfect():
    """Each latent a relabelling of one source: NMI is the identity, InfoM = InfoC = 1, and a
    logistic regression on the one-hot codes predicts every source exactly (InfoE ~ 1)."""
    rs = np.random.RandomState(0)
    sources = np.stack([rs.randint(4, size=600), rs.randint(3, size=600)], axis=1).astype(float)
    latents = np.stack([0.25 * sources[:, 1] - 1, -sources[:, 0]], axis=1)   # swapped and relabelled
    result = compute_infomec(sources, latents, discrete_latents=True)
    np.testing.assert_allclose(result["nmi"], [[0, 1], [1, 0]], atol=0.02)   # plug-in MI of independent columns ~ 0
    assert result["infom"] > 0.97 and result["infoc"] > 0.97
    assert result["infoe"] > 0.99


def test_modularity_and_compactness_by_hand():
    # Two sources, three active latents. Latent 0 tells only source 0, latent 1 splits 1:1, latent 2
    # only source 1. InfoM = (mean(1, 1/2, 1) - 1/2) / (1 - 1/2) = 2/3.
    # InfoC: source 0 has (0.6, 0.2, 0) -> 0.6/0.8; source 1 has (0, 0.2, 0.4) -> 0.4/0.6;
    # (mean(3/4, 2/3) - 1/3) / (1 - 1/3) = (17/24 - 8/24) * 3/2 = 9/16.
    nmi = np.array([[0.6, 0.2, 0.0], [0.0, 0.2, 0.4]])
    infom, infoc = modularity_and_compactness(nmi, num_sources=2)
    assert infom == pytest.approx(2 / 3, abs=1e-15)
    assert infoc == pytest.approx(9 / 16, abs=1e-15)


def test_a_latent_without_information_gives_nan_as_the_reference_does():
    infom, _ = modularity_and_compactness(np.array([[0.5, 0.0], [0.5, 0.0]]), num_sources=2)
    assert math.isnan(infom)


def test_active_latents_rules():
    latents = np.array([[0.0, 1.0, 5.0, 0.0], [0.0, 1.0, 5.0, 0.04], [0.0, 2.0, 6.0, 0.06]])
    # discrete: any spread counts; continuous: a range above 1/20 of the widest (1.0): 0.06 > 0.05.
    assert active_latents(latents, True).tolist() == [False, True, True, True]
    assert active_latents(latents, False).tolist() == [False, True, True, True]
    assert active_latents(latents[:, :3] * [1, 1, 30], False).tolist() == [False, False, True]
