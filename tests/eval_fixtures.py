"""Small data and untrained checkpoints for the eval.py / st_gap tests."""
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
