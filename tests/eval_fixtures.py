"""Small data and untrained checkpoints for the tests of evaluation, metrics, UDR and figures."""
from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import configs
from checkpoints import checkpoint
from data.procedural import ProceduralDSprites
from models import build_model
from training.resume import checkpoint_payload
from training.step import init_train_state


def small_data(cache_dir) -> ProceduralDSprites:
    """384 images, factors [3, 2, 4, 4, 4]."""
    return ProceduralDSprites(num_scales=2, num_orientations=4, num_positions=4,
                              cache_dir=cache_dir, verbose=False)


def make_checkpoint(folder, data, seed: int = 1, perturb: float = 0.0, **config_fields) -> Path:
    """A checkpoint of a freshly initialised model (optionally with perturbed parameters)."""
    config = configs.Config(save_path=str(folder), seed=seed, steps=10, eval_every=0, **config_fields)
    model = build_model(config, data.observation_shape[-1])
    # Op by op, as `train` does: each primitive compiles once per process, so every checkpoint
    # after the first costs well under a second (a fresh jit of the whole init takes ~10 s).
    ts = init_train_state(model, jnp.zeros((1, *data.observation_shape), jnp.float32))
    if perturb:
        # numpy noise: jax.random.normal would compile once per parameter shape.
        rng = np.random.RandomState(seed + 100)

        def noisy(p):
            p = np.asarray(p)
            return (p + perturb * (p.std() + 1e-2) * rng.standard_normal(p.shape)).astype(p.dtype)
        ts = ts._replace(params=jax.tree_util.tree_map(noisy, ts.params))
    return checkpoint.save_checkpoint(config.checkpoint_path(), checkpoint_payload(config, ts))


def perturbed_checkpoints(folder, data) -> dict[str, Path]:
    """A D-VAE and a VAE checkpoint (seed 1) with perturbed parameters, so that their codes vary."""
    return {"dvae": make_checkpoint(folder, data, perturb=3.0),
            "vae": make_checkpoint(folder, data, perturb=3.0, gaussian=True)}


def random_checkpoint(tmp_path, **overrides) -> Path:
    """A checkpoint with random weights, built from shapes only (no init compile: fast tests)."""
    config = configs.Config(batch_size=8, steps=8, eval_every=0, save_path=str(tmp_path), **overrides)
    model = build_model(config, 1)
    params, state = jax.eval_shape(model.forward.init, jax.random.PRNGKey(0), jnp.zeros((1, 64, 64, 1)))
    rs = np.random.RandomState(0)
    fill = lambda leaf: (0.05 * rs.standard_normal(leaf.shape)).astype(leaf.dtype)
    params = jax.tree_util.tree_map(fill, params)
    params = {k: {n: np.asarray(v) for n, v in d.items()} for k, d in params.items()}
    if "codebook" in params:
        params["codebook"]["embed"] = np.broadcast_to(np.linspace(-1, 1, 64, dtype=np.float32)[None, :, None],
                                                      (10, 64, 1)).copy()
        state = {"codebook": {"scale": np.float32(0.5), "lambda": np.float32(1.0), "hard": np.bool_(False)}}
    payload = {"model": config.model_name, "dataset": config.dataset, "step": 8, "config": config.to_dict(),
               "params": params, "state": checkpoint.to_numpy(state), "opt_state": [], "params_disc": None,
               "state_disc": {}, "opt_state_disc": None, "rng": np.zeros(2, np.uint32)}
    return checkpoint.save_checkpoint(config.checkpoint_path(), payload)


class PoisonedData:
    """Wraps a data set and turns every observation into NaN: the loss must stop the run."""

    def __init__(self, data):
        self.__dict__.update(data.__dict__)
        self._data = data

    def __getattr__(self, name):
        return getattr(self._data, name)

    @property
    def observation_shape(self):
        return self._data.observation_shape

    def to_observations(self, key, pixels):
        return self._data.to_observations(key, pixels) * jnp.nan
