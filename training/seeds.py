"""Several seeds of one configuration in one process (`run.py --seeds 1,2,3,4`).

The TrainStates of the seeds are stacked along a leading seed axis (params, optimiser states,
random keys, step counters) and `train_step` is `jax.vmap`ped over that axis (unrolled per seed
on the CPU) while the images array on the device is shared; `training.loop.train` drives it.
Seed s starts from exactly `init_train_state` of `config.replace(seed=s)` and each step's
randomness is `fold_in(rng_s, step)` as in a single run, so every seed follows its single-seed
run to float tolerance (vmap may reorder sums). Each seed writes its own checkpoint, the usual
one of that seed (`..._seed<s>.pkl`), which `run.py --resume` continues like any other.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

from configs import Config
from models import Model
from training.step import TrainState, committed, init_train_state, train_step


def seed_config(config: Config, seed: int) -> Config:
    """The single-seed config of one member of a multi-seed run (what its checkpoint stores)."""
    return config.replace(seed=seed, seeds="")


def init_stacked(model: Model, example_images, seeds: list[int]) -> TrainState:
    """The seeds' initial TrainStates stacked on a leading axis."""
    states = [init_train_state(model._replace(config=seed_config(model.config, s)), example_images) for s in seeds]
    return committed(jax.tree_util.tree_map(lambda *leaves: jnp.stack(leaves), *states))


def unstack(ts: TrainState, i: int) -> TrainState:
    """Seed i's TrainState out of a stacked one."""
    return jax.tree_util.tree_map(lambda leaf: leaf[i], ts)


@partial(jax.jit, static_argnums=(0, 1, 4, 5), donate_argnums=(3,))
def multi_train_steps(model: Model, data, images, ts: TrainState, steps: int, vmap: bool | None = None):
    """`steps` updates of every seed in one dispatch; terms come back as [steps, seeds].

    On accelerators the step is `jax.vmap`ped over the seed axis. On the CPU, vmap turns every
    convolution into a grouped convolution that XLA:CPU runs about 5x slower than the seeds
    one by one, so there the seeds' steps are unrolled side by side in the same program.
    `vmap` forces one or the other (tests run the accelerator path on the CPU).
    """
    num_seeds = ts.step.shape[0]
    if vmap is None:
        vmap = jax.default_backend() != "cpu"
    if not vmap:

        def step(stacked):
            results = [train_step(model, data, images, unstack(stacked, i)) for i in range(num_seeds)]
            return jax.tree_util.tree_map(lambda *leaves: jnp.stack(leaves), *results)
    else:
        step = jax.vmap(lambda one: train_step(model, data, images, one))
    unroll = steps if jax.default_backend() == "cpu" else 1  # see training.step.train_steps
    return jax.lax.scan(lambda carry, _: step(carry), ts, None, length=steps, unroll=unroll)
