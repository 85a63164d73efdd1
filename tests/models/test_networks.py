"""Networks (models/networks.py): the discriminator's permutation of the latents."""
import jax
import jax.numpy as jnp
import numpy as np

from models.networks import permute_dims


def test_permute_dims_permutes_each_column_independently():
    z = jnp.tile(jnp.arange(50.0)[:, None], (1, 4))
    permuted = np.asarray(permute_dims(jax.random.PRNGKey(0), z))
    for n in range(4):
        assert sorted(permuted[:, n]) == list(range(50))
    assert not np.array_equal(permuted[:, 0], permuted[:, 1])
