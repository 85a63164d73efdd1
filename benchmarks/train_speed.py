"""Steady-state training speed (compilation excluded), batch 64, measured side by side.

    XDG_CACHE_HOME=/tmp/lddrcache PYTHONPATH=. python benchmarks/train_speed.py [--quick]
        [--models dvae,vae,factor_vae,factor_dvae,qlae] [--seeds 1,4,8]

For each model:
  baseline  straightforward: hk layers (conv_impl=xla), a batch drawn host-side with numpy
            (`data.sample_observations`), one jitted call per step of the project's update
            (`training.step.train_step_on`);
  hk-scan   our training path (`training.step.train_steps`, batch drawn on the device, steps
            fused in an unrolled lax.scan) with hk's convolutions (conv_impl=xla);
  fast      the same path with the fast layers (conv_impl=fast).
Then the multi-seed path (`training.seeds.multi_train_steps`, conv_impl=auto): total and
per-seed steps/s for each seed count. Rounds alternate between the variants, and the median
of the rounds is reported, so that load on a shared machine hits all of them alike.

    python benchmarks/train_speed.py --side_by_side dvae,qlae --seeds ""

measures the models' training paths (`fast`) in the same alternating rounds instead, so that
their ratio (each against the first) does not depend on when each was measured.
"""
from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np

import configs
from configs import Config
from data import get_dataset
from models import build_model
from models.registry import REGISTRY
from training.seeds import init_stacked, multi_train_steps
from training.step import images_on_device, init_train_state, train_step_on, train_steps

# Every model of the registry; the TC models at the gamma of the authors' README, each with its
# own defaults (configs.MODEL_DEFAULTS: QLAE's learning rate).
MODELS = {name: spec.config_fields(gamma=30.0) for name, spec in REGISTRY.items()}


def baseline_runner(config, data):
    """The straightforward loop: numpy batch on the host, one jitted update per call (the
    project's step, `training.step.train_step_on`, fed the host batch)."""
    if config.discriminator_second_batch:
        raise ValueError("the baseline feeds one host batch per step; discriminator_second_batch needs two")
    model = build_model(config, data.observation_shape[-1])
    ts = init_train_state(model, jnp.zeros((config.batch_size, *data.observation_shape), jnp.float32))

    @jax.jit
    def step(ts, x):
        ts, terms = train_step_on(model, ts, lambda key: x)
        return ts, terms["loss"]

    random_state = np.random.RandomState(0)
    holder = {"ts": ts}

    def run(n):
        for _ in range(n):
            x = data.sample_observations(config.batch_size, random_state).astype(np.float32)
            holder["ts"], loss = step(holder["ts"], x)
        jax.block_until_ready(holder["ts"])
    return run


def scan_runner(config, data, images, chunk, seeds=None):
    model = build_model(config, data.observation_shape[-1])
    example = jnp.zeros((config.batch_size, *data.observation_shape), jnp.float32)
    holder = {"ts": init_train_state(model, example) if seeds is None else init_stacked(model, example, seeds)}
    fn = train_steps if seeds is None else multi_train_steps

    def run(n):                                         # n steps, in dispatches of `chunk`
        for _ in range(max(1, n // chunk)):
            holder["ts"], _ = fn(model, data, images, holder["ts"], chunk)
        jax.block_until_ready(holder["ts"])
    return run


def measure(runners: dict, steps: dict, rounds: int) -> dict:
    """Median steps/s per runner; compile + one warm-up call first, then alternating rounds."""
    compile_s = {}
    for name, run in runners.items():
        t = time.perf_counter()
        run(steps[name])
        compile_s[name] = time.perf_counter() - t
    times = {name: [] for name in runners}
    for _ in range(rounds):
        for name, run in runners.items():
            t = time.perf_counter()
            run(steps[name])
            times[name].append(steps[name] / (time.perf_counter() - t))
    return {name: (float(np.median(v)), compile_s[name]) for name, v in times.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer steps and rounds (about 5 minutes)")
    parser.add_argument("--models", default=",".join(["dvae"] + [name for name in REGISTRY if name != "dvae"]))
    parser.add_argument("--seeds", default="1,4", help="seed counts for the multi-seed numbers, e.g. 1,4,8")
    parser.add_argument("--chunk", type=int, default=10, help="steps per dispatch of the scan paths")
    parser.add_argument("--side_by_side", default=None, metavar="MODELS",
                        help="instead of --models: these models' fast paths in the same rounds, e.g. dvae,qlae")
    args = parser.parse_args()
    rounds = 2 if args.quick else 3
    chunk = 5 if args.quick else args.chunk
    steps = chunk * (2 if args.quick else 3)

    data = get_dataset("dsprites_procedural")
    images = images_on_device(data)
    print(f"backend {jax.default_backend()}, {jax.device_count()} device(s), jax {jax.__version__}; "
          f"batch 64, {steps} steps per round, {rounds} rounds, scan chunk {chunk}")
    if args.side_by_side:
        names = args.side_by_side.split(",")
        runners = {name: scan_runner(configs.from_dict({**MODELS[name], "steps": 300_000, "conv_impl": "fast"}),
                                     data, images, chunk) for name in names}
        result = measure(runners, {k: steps for k in runners}, rounds)
        first = result[names[0]][0]
        for name, (v, c) in result.items():
            print(f"{name:12s} fast {v:6.2f} steps/s (x{v / first:.2f} of {names[0]}, compile {c:.0f}s)", flush=True)
    ratios = {}
    for name in args.models.split(",") if not args.side_by_side else []:
        config = configs.from_dict({**MODELS[name], "steps": 300_000}, where="--models")
        runners = {"baseline": baseline_runner(config.replace(conv_impl="xla"), data),
                   "hk-scan": scan_runner(config.replace(conv_impl="xla"), data, images, chunk),
                   "fast": scan_runner(config.replace(conv_impl="fast"), data, images, chunk)}
        result = measure(runners, {k: steps for k in runners}, rounds)
        base = result["baseline"][0]
        print(f"{name:12s} " + "  ".join(f"{k} {v:6.2f} steps/s (x{v / base:.2f}, compile {c:.0f}s)"
                                         for k, (v, c) in result.items()), flush=True)
        ratios[name] = result["fast"][0] / base
    if ratios:
        print("fast / baseline: " + ", ".join(f"{k} x{v:.2f}" for k, v in ratios.items()))

    counts = [int(s) for s in args.seeds.split(",") if s]
    if counts:
        config = Config(steps=300_000, conv_impl="auto")
        runners = {n: scan_runner(config, data, images, chunk, seeds=list(range(1, n + 1))) for n in counts}
        result = measure(runners, {n: steps for n in counts}, rounds)
        for n, (v, c) in result.items():
            print(
                f"dvae {n} seed(s) ({'vmap' if jax.default_backend() != 'cpu' else 'seeds unrolled'}, conv_impl auto): "
                f"{v * n:6.2f} total steps/s, {v:6.2f} per seed (compile {c:.0f}s)"
            )


if __name__ == "__main__":
    main()
