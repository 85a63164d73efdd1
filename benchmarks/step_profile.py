"""Where one training step spends its time: XLA:CPU's own per-op profile, grouped by kind.

    XDG_CACHE_HOME=/tmp/lddrcache python benchmarks/step_profile.py [--models dvae,factor_dvae]
        [--dispatches 2] [--top 12]

Compiles `training.step.train_steps` (10 steps per dispatch, as `run.py`), runs a few warm-up
dispatches, then traces `--dispatches` more with `jax.profiler`. Every thunk the CPU runtime
executes appears in the trace under its HLO instruction name; each name is looked up in the
compiled module's HLO text and classified:

  convolution   a YNNPACK or Eigen call whose computation holds a convolution
  matmul        one that holds a dot (and no convolution)
  ynn other     the other YNNPACK subgraphs (elementwise work that YNNPACK took over)
  elementwise   XLA's own loop / input fusions (bias adds, ReLU masks, Adam, Gumbel noise ...)
  copy/layout   copies, transposes, concatenates, pads, slices outside fusions
  other         the rest (random bits, gathers, reductions, small ops)

Times are the summed durations of the executed ops per training step. XLA:CPU may run two
independent ops at once (then the sum exceeds the wall time, as it did in the first breakdown
of docs/performance.md), but mostly runs them one after another, each spreading its own work
over the cores; the wall time per step is printed beside the sum, and when the sum is below it
the difference is time between ops.
The largest single ops are listed with their output shapes.
"""
from __future__ import annotations

import argparse
import collections
import glob
import re
import tempfile
import time

import jax
import jax.numpy as jnp

from configs import Config
from data import get_dataset
from models import build_model
from models.registry import REGISTRY
from training.step import images_on_device, init_train_state, train_steps

# Every model of the registry; the TC models at the gamma of the authors' README.
MODELS = {name: spec.config_fields(gamma=30.0) for name, spec in REGISTRY.items()}
CHUNK = 10
INSTRUCTION = re.compile(r"^\s*(?:ROOT )?%?([\w.\-]+) = (\S+?)(?:\{[^}]*\})? (\w[\w\-]*)\(")
COMPUTATION = re.compile(r"^(?:ENTRY )?%?([\w.\-]+) ")
CALLS = re.compile(r"calls=%?([\w.\-]+)")
OP_NAME = re.compile(r'op_name="([^"]*)"')
LAYER = re.compile(r"(enc_\w+|dec_\w+|codebook|discriminator\w*|linear\w*|adam|scale_by_adam)")


def parse_hlo(text: str):
    """({instruction: (opcode, shape, called computation, where)}, {computation: set of opcodes}):
    `where` is the layer the instruction comes from and "backward" for gradients, read from
    the op_name metadata of the instruction or of its called computation's root."""
    instructions, opcodes, current, roots = {}, collections.defaultdict(set), None, {}
    for line in text.splitlines():
        if line and not line.startswith(" ") and line.rstrip().endswith("{"):
            match = COMPUTATION.match(line)
            current = match.group(1) if match else None
            continue
        match = INSTRUCTION.match(line)
        if match:
            name, shape, opcode = match.groups()
            called = CALLS.search(line)
            op_name = OP_NAME.search(line)
            instructions[name] = [opcode, shape, called.group(1) if called else None,
                                  op_name.group(1) if op_name else ""]
            if current is not None:
                opcodes[current].add(opcode)
                if line.lstrip().startswith("ROOT") and op_name:
                    roots[current] = op_name.group(1)
    for entry in instructions.values():
        op_name = entry[3] or roots.get(entry[2], "")
        layer = LAYER.findall(op_name)
        entry[3] = (layer[-1] if layer else "-") + (" backward" if "transpose(" in op_name else "")
    return instructions, opcodes


def classify(name: str, instructions: dict, opcodes: dict) -> str:
    opcode, _, called, _ = instructions.get(name, (None, None, None, None))
    inner = set(opcodes.get(called, ())) if called else set()
    # Nested calls (a fusion calling a computation that calls another) are rare here; one level
    # is enough to see a convolution or a dot.
    if opcode == "convolution" or "convolution" in inner:
        return "convolution"
    if opcode == "dot" or "dot" in inner:
        return "matmul"
    if name.startswith("ynn_fusion"):
        return "ynn other"
    if opcode in ("copy", "transpose", "concatenate", "pad", "slice", "dynamic-slice", "bitcast") or (
            opcode == "fusion" and inner <= {"parameter", "copy", "transpose", "bitcast", "slice",
                                             "concatenate", "pad", "reshape", "broadcast"}):
        return "copy/layout"
    if opcode == "fusion":
        return "elementwise"
    return "other"


def profile(name: str, data, images, dispatches: int, top: int):
    model = build_model(Config(**MODELS[name], steps=300_000), data.observation_shape[-1])
    ts = init_train_state(model, jnp.zeros((model.config.batch_size, *data.observation_shape), jnp.float32))
    hlo = train_steps.lower(model, data, images, ts, CHUNK).compile().as_text()
    instructions, opcodes = parse_hlo(hlo)
    for _ in range(3):                               # compile, the recompile of a first call, warm-up
        ts, _ = train_steps(model, data, images, ts, CHUNK)
    jax.block_until_ready(ts)
    with tempfile.TemporaryDirectory() as folder:
        jax.profiler.start_trace(folder)
        start = time.perf_counter()
        for _ in range(dispatches):
            ts, _ = train_steps(model, data, images, ts, CHUNK)
        jax.block_until_ready(ts)
        wall = (time.perf_counter() - start) / (dispatches * CHUNK)
        jax.profiler.stop_trace()
        trace = jax.profiler.ProfileData.from_file(glob.glob(f"{folder}/**/*.xplane.pb", recursive=True)[-1])
    per_op = collections.Counter()
    for plane in trace.planes:
        for line in plane.lines:
            for event in line.events:
                if event.name in instructions:
                    per_op[event.name] += event.duration_ns
    steps = dispatches * CHUNK
    by_kind = collections.Counter()
    for op, ns in per_op.items():
        by_kind[classify(op, instructions, opcodes)] += ns
    total = sum(by_kind.values())
    print(f"\n{name}: wall {wall * 1e3:.1f} ms/step; thread time in ops {total / 1e6 / steps:.1f} ms/step")
    for kind, ns in by_kind.most_common():
        print(f"  {kind:12s} {ns / 1e6 / steps:7.1f} ms/step  {100 * ns / total:5.1f} %")
    # The same op appears once per unrolled step (under another name): group by kind and shape.
    grouped = collections.Counter()
    for op, ns in per_op.items():
        grouped[(classify(op, instructions, opcodes), instructions[op][1], instructions[op][3])] += ns
    print(f"  largest ({top}), by kind, output shape and layer, summed over the unrolled steps:")
    for (kind, shape, where), ns in grouped.most_common(top):
        print(f"    {ns / 1e6 / steps:7.2f} ms/step  {kind:12s} {shape:22s} {where}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="dvae,factor_dvae")
    parser.add_argument("--dispatches", type=int, default=2)
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args()
    data = get_dataset("dsprites_procedural")
    images = images_on_device(data)
    print(f"backend {jax.default_backend()}, jax {jax.__version__}, batch {Config().batch_size}, "
          f"{CHUNK} steps per dispatch")
    for name in args.models.split(","):
        profile(name, data, images, args.dispatches, args.top)


if __name__ == "__main__":
    main()
