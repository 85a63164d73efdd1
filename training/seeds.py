"""Several seeds of one configuration in one process (`run.py --seeds 1,2,3,4`).

The TrainStates of the seeds are stacked along a leading seed axis (params, optimiser states,
random keys, step counters) and `train_step` is `jax.vmap`ped over that axis while the images
array on the device is shared. Seed s starts from exactly `init_train_state` of
`config.replace(seed=s)` and each step's randomness is `fold_in(rng_s, step)` as in a single
run, so every seed follows its single-seed run to float tolerance (vmap may reorder sums).
Each seed writes its own checkpoint, the usual one of that seed (`..._seed<s>.pkl`), which
`run.py --resume` continues like any other.
"""
from __future__ import annotations

import math
import time
from functools import partial
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from tqdm import tqdm

from configs import Config
from data import GroundTruthData, get_dataset
from models import Model, build_model
from training import checkpoint
from training.step import TrainState, init_train_state, train_step


def seed_config(config: Config, seed: int) -> Config:
    """The single-seed config of one member of a multi-seed run (what its checkpoint stores)."""
    return config.replace(seed=seed, seeds="")


def init_stacked(model: Model, example_images, seeds: list[int]) -> TrainState:
    """The seeds' initial TrainStates stacked on a leading axis."""
    states = [init_train_state(model._replace(config=seed_config(model.config, s)), example_images) for s in seeds]
    return jax.tree_util.tree_map(lambda *leaves: jnp.stack(leaves), *states)


def unstack(ts: TrainState, i: int) -> TrainState:
    """Seed i's TrainState out of a stacked one."""
    return jax.tree_util.tree_map(lambda leaf: leaf[i], ts)


@partial(jax.jit, static_argnums=(0, 1, 4), donate_argnums=(3,))
def multi_train_steps(model: Model, data, images, ts: TrainState, steps: int):
    """`steps` updates of every seed in one dispatch; terms come back as [steps, seeds]."""
    unroll = steps if jax.default_backend() == "cpu" else 1       # see training.step.train_steps
    step = jax.vmap(lambda one: train_step(model, data, images, one))
    return jax.lax.scan(lambda carry, _: step(carry), ts, None, length=steps, unroll=unroll)


def train_seeds(config: Config, data: GroundTruthData | None = None, progress: bool = True,
                evaluate: Callable | None = None, log: Callable = print) -> TrainState:
    """Train every seed of `config.seed_list` to `config.steps`; returns the stacked TrainState."""
    from training.loop import TrainingDiverged, _next_boundary, checkpoint_payload

    seeds = config.seed_list
    data = data if data is not None else get_dataset(config.dataset)
    model = build_model(config, data.observation_shape[-1])
    example = jnp.zeros((config.batch_size, *data.observation_shape), jnp.float32)
    ts = init_stacked(model, example, seeds)
    images = jax.device_put(data.images)
    configs = [seed_config(config, s) for s in seeds]

    def save():
        for i, c in enumerate(configs):
            checkpoint.save_checkpoint(c.checkpoint_path(), checkpoint_payload(c, unstack(ts, i)))

    step = 0
    window: list[dict] = []
    bar = tqdm(total=config.steps, disable=not progress, unit="step", dynamic_ncols=True)
    started = time.perf_counter()
    while step < config.steps:
        chunk = _next_boundary(step, config) - step
        ts, terms = multi_train_steps(model, data, images, ts, chunk)
        means = {k: np.asarray(v).mean(axis=0) for k, v in jax.device_get(terms).items()}   # [seeds]
        if not all(np.all(np.isfinite(v)) for v in means.values()):
            bar.close()
            raise TrainingDiverged(f"non-finite loss between steps {step} and {step + chunk} (seeds {seeds}); "
                                   f"stopped, the last good checkpoints (if any) are in {config.save_path}")
        step += chunk
        window.append({k: (v, chunk) for k, v in means.items()})
        bar.update(chunk)
        if config.log_every and step % config.log_every == 0:
            rate = step / max(time.perf_counter() - started, 1e-9)
            for i, s in enumerate(seeds):
                averaged = {k: sum(w[k][0][i] * w[k][1] for w in window) / sum(w[k][1] for w in window)
                            for k in window[0]}
                bar.write(f"step {step} seed {s}: " + " ".join(f"{k} {v:.4f}" for k, v in averaged.items())
                          + f" ({rate:.1f} steps/s per seed)")
            window = []
        if evaluate is not None and config.eval_every and step % config.eval_every == 0:
            for i, s in enumerate(seeds):
                scores = evaluate(model._replace(config=configs[i]), unstack(ts, i), data)
                bar.write(f"step {step} seed {s}: " + " ".join(f"{k} {v:.4f}" for k, v in scores.items()))
        if (config.save_every and step % config.save_every == 0) or step == config.steps:
            save()
    bar.close()
    if not all(c.checkpoint_path().exists() for c in configs):
        save()
    return ts
