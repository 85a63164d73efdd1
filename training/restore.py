"""A checkpoint's model, parameters and data set, ready to evaluate (eval.py, scripts, benchmarks)."""
from __future__ import annotations

import glob
import os
from pathlib import Path


def expand_checkpoint_paths(items) -> list[Path]:
    """Paths and glob patterns -> checkpoint paths (sorted per pattern, duplicates dropped);
    a pattern that matches nothing or a path that is no file is a one-line CheckpointError."""
    from training.checkpoint import CheckpointError
    paths: list[Path] = []
    for item in items:
        if any(c in item for c in "*?["):
            matches = sorted(glob.glob(os.path.expanduser(item)))
            if not matches:
                raise CheckpointError(f"no file matches {item}")
            paths.extend(Path(m) for m in matches)
        else:
            path = Path(item).expanduser()
            if not path.is_file():
                raise CheckpointError(f"no checkpoint at {path}")
            paths.append(path)
    return list(dict.fromkeys(paths))


def model_and_example(config, data=None, batch_size: int = 1):
    """(model, zero images [batch_size, 64, 64, C]) for `config`, with C from `data` or, without
    it, from the data set's registry entry: a checkpoint is checked against its model before
    any data set is loaded."""
    import jax.numpy as jnp

    from data import IMAGE_SIZE, num_channels
    from models import build_model

    channels = data.observation_shape[-1] if data is not None else num_channels(config.dataset)
    return build_model(config, channels), jnp.zeros((batch_size, *IMAGE_SIZE, channels), jnp.float32)


def load_model(path, data=None, datasets: dict | None = None):
    """(payload, config, data, model, params, state, params_disc) of the checkpoint at `path`.

    `data` (a GroundTruthData) replaces the data set named in the checkpoint (tests);
    `datasets` caches loaded data sets by name across checkpoints.
    """
    import configs
    from data import get_dataset
    from training import checkpoint
    from training.loop import restore_parameters

    payload = checkpoint.load_checkpoint(path)
    config = configs.from_dict(payload["config"], where=str(path))
    model, example = model_and_example(config, data)   # parameters checked before data loads
    params, state, params_disc = restore_parameters(model, example, payload, path)
    if data is None:
        datasets = datasets if datasets is not None else {}
        if config.dataset not in datasets:
            datasets[config.dataset] = get_dataset(config.dataset)
        data = datasets[config.dataset]
    return payload, config, data, model, params, state, params_disc
