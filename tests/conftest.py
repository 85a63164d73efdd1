"""Shared fixtures: a small procedural dSprites, a fast training config, perturbed checkpoints for
the evaluation tests and hostile checkpoint files for the reader's tests."""
import pytest

from configs import Config
from data.procedural import ProceduralDSprites
from tests.eval_fixtures import perturbed_checkpoints, small_data
from tests.hostile_files import hostile_files, real_payload


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory):
    """3 shapes x 2 scales x 4 orientations x 4 x 4 positions = 384 images, 64x64x1."""
    return ProceduralDSprites(num_scales=2, num_orientations=4, num_positions=4,
                              cache_dir=tmp_path_factory.mktemp("procedural"), verbose=False)


@pytest.fixture
def tiny_config(tmp_path):
    """A D-VAE config that trains in seconds: batch 8, 2 steps per dispatch.

    Compiled steps are shared by every run whose config differs only in bookkeeping
    (models.model.BOOKKEEPING_FIELDS), so the TC tests all use gamma 5: one compile each.
    """
    return Config(steps=8, batch_size=8, log_every=4, eval_every=0, save_every=4,
                  steps_per_dispatch=2, save_path=str(tmp_path))


# Module-scoped: a module that changes one of these files cannot reach another module's copy.
@pytest.fixture(scope="module")
def eval_data(tmp_path_factory):
    """tests.eval_fixtures.small_data: 384 images, factors [3, 2, 4, 4, 4]."""
    return small_data(tmp_path_factory.mktemp("evaldata"))


@pytest.fixture(scope="module")
def eval_checkpoints(tmp_path_factory, eval_data):
    """{"dvae": path, "vae": path}: freshly initialised models with perturbed parameters."""
    return perturbed_checkpoints(tmp_path_factory.mktemp("ckpts"), eval_data)


@pytest.fixture(scope="module")
def hostile_payload():
    """A real checkpoint's payload, the base of every hostile file."""
    return real_payload()


@pytest.fixture(scope="module")
def hostile_checkpoints(hostile_payload, tmp_path_factory):
    """{name: (path, regex of its refusal)}: every hostile file, in a temporary folder."""
    return hostile_files(tmp_path_factory.mktemp("hostile"), hostile_payload)


def pytest_runtest_setup(item):
    """Tests marked `slurm` need a reachable cluster (tests/slurm_cluster.py): skip, or fail in CI."""
    if item.get_closest_marker("slurm") is not None:
        from tests.slurm_cluster import require_cluster
        require_cluster()
