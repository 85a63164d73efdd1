"""Small data and untrained checkpoints for the eval.py / st_gap tests."""
from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import configs
from data.procedural import ProceduralDSprites
from models import build_model
from training import checkpoint
from training.loop import checkpoint_payload
from training.step import init_train_state


def small_data(cache_dir) -> ProceduralDSprites:
    """384 images, factors [3, 2, 4, 4, 4]."""
    return ProceduralDSprites(num_scales=2, num_orientations=4, num_positions=4,
                              cache_dir=cache_dir, verbose=False)


def make_checkpoint(folder, data, seed: int = 1, perturb: float = 0.0, **config_fields) -> Path:
    """A checkpoint of a freshly initialised model (optionally with perturbed parameters)."""
    config = configs.Config(save_path=str(folder), seed=seed, steps=10, eval_every=0, **config_fields)
    model = build_model(config, data.observation_shape[-1])
    # Jitted: one compile instead of many op-by-op ones (much faster on the CPU).
    ts = jax.jit(lambda x: init_train_state(model, x))(jnp.zeros((1, *data.observation_shape), jnp.float32))
    if perturb:
        leaves, treedef = jax.tree_util.tree_flatten(ts.params)
        keys = jax.random.split(jax.random.PRNGKey(seed + 100), len(leaves))
        leaves = [p + perturb * jax.random.normal(k, p.shape) * (np.std(np.asarray(p)) + 1e-2)
                  for p, k in zip(leaves, keys)]
        ts = ts._replace(params=jax.tree_util.tree_unflatten(treedef, leaves))
    return checkpoint.save_checkpoint(config.checkpoint_path(), checkpoint_payload(config, ts))
