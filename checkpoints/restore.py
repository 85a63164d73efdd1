"""A checkpoint's parameters restored into its model, and its model, parameters and data set
ready to evaluate (eval.py, the scripts, the benchmarks)."""
from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

import configs
from checkpoints import checkpoint
from configs import Config, describe, shown_keys
from configs.text import path_text
from data import IMAGE_SIZE, GroundTruthData, get_dataset, num_channels
from models import Model, build_model


class Restored(NamedTuple):
    """A checkpoint ready to evaluate: what `load_model` returns."""
    payload: dict
    config: Config
    data: GroundTruthData
    model: Model
    params: dict
    state: dict
    params_disc: dict | None


def model_and_example(config: Config, data=None, batch_size: int = 1):
    """(model, zero images [batch_size, 64, 64, C]) for `config`, with C from `data` or, without
    it, from the data set's registry entry: a checkpoint is checked against its model before
    any data set is loaded."""
    channels = data.observation_shape[-1] if data is not None else num_channels(config.dataset)
    return build_model(config, channels), jnp.zeros((batch_size, *IMAGE_SIZE, channels), jnp.float32)


def restore_parameters(model: Model, example_images, payload: dict, path):
    """(params, state, params_disc) from a checkpoint payload, names and shapes checked
    against a fresh model; all that evaluation and figures need (no optimiser state)."""
    # Shapes only (jax.eval_shape): running the initialisers op by op takes seconds on the CPU.
    params, state, params_disc = jax.eval_shape(lambda x: model.init(jax.random.PRNGKey(0), x), example_images)
    params = _match(params, payload["params"], f"{path_text(path)} params")
    state = _match(state, payload["state"], f"{path_text(path)} state")
    if params_disc is not None:
        params_disc = _match(params_disc, payload["params_disc"], f"{path_text(path)} discriminator params")
    return params, state, params_disc


def _match(template: dict, stored: dict, what: str):
    """`stored` nested dict in the exact structure of `template` (same keys and shapes)."""
    if not isinstance(stored, dict):     # checkpoints.schema has refused this already; never iterated
        raise checkpoint.CheckpointError(f"{what}: expected a dict of parameters, got {describe(stored)}")
    if set(stored) != set(template):
        missing = sorted(set(template) - set(stored))
        extra = sorted(set(stored) - set(template))
        raise checkpoint.CheckpointError(f"{what}: parameter names differ (missing [{shown_keys(missing)}], "
                                         f"unexpected [{shown_keys(extra)}])")
    out = {}
    for key, value in template.items():
        if isinstance(value, dict):
            out[key] = _match(value, stored[key], f"{what}/{key}")
        else:
            got = stored[key]
            if not isinstance(got, np.ndarray) or got.shape != tuple(value.shape) or got.dtype != value.dtype:
                raise checkpoint.CheckpointError(
                    f"{what}/{key}: {describe(got)}, the model expects a {value.dtype} array of shape "
                    f"{tuple(value.shape)}"
                )
            out[key] = jnp.asarray(got)
    return out


def load_model(path, data=None, datasets: dict | None = None) -> Restored:
    """The checkpoint at `path` with its model, parameters and data set.

    `data` (a GroundTruthData) replaces the data set named in the checkpoint (tests);
    `datasets` caches loaded data sets by name across checkpoints.
    """
    payload = checkpoint.load_checkpoint(path)
    config = configs.from_dict(payload["config"], where=path_text(path))
    model, example = model_and_example(config, data)  # parameters checked before data loads
    params, state, params_disc = restore_parameters(model, example, payload, path)
    if data is None:
        datasets = datasets if datasets is not None else {}
        if config.dataset not in datasets:
            datasets[config.dataset] = get_dataset(config.dataset)
        data = datasets[config.dataset]
    return Restored(payload, config, data, model, params, state, params_disc)
