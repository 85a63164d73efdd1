"""Per layer of docs/design.md §1: the time of one backward pass (input and weight gradient), batch 64,
for the fast layers against the Haiku/XLA form, alternating in one process.

    XDG_CACHE_HOME=/tmp/lddrcache python benchmarks/layer_grads.py [--rounds 5] [--repeats 10]

Each variant is one jitted function returning (dx, dw) of <layer(x, w), cotangent>; the forward
pass runs inside it too (a VJP needs it), so the times are forward + backward. Rounds alternate
between the variants; min and median over all calls are printed, with the largest relative
difference between the two variants' gradients (they compute the same linear maps).
"""
from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from models.layers import _DN, _DN_T, conv2d_fast, conv2d_transpose_fast

# name, kind, input H = W, input channels, output channels, kernel (stride 2 everywhere)
LAYERS = [("enc_conv0", "conv", 64, 1, 32, 4), ("enc_conv1", "conv", 32, 32, 32, 4),
          ("enc_conv2", "conv", 16, 32, 64, 2), ("enc_conv3", "conv", 8, 64, 64, 2),
          ("dec_deconv0", "transpose", 4, 64, 64, 4), ("dec_deconv1", "transpose", 8, 64, 32, 4),
          ("dec_deconv2", "transpose", 16, 32, 32, 4), ("dec_deconv3", "transpose", 32, 32, 1, 4)]


def layer_functions(kind: str):
    """{variant: f(x, w)} for one kind of layer."""
    if kind == "conv":
        return {"xla": lambda x, w: lax.conv_general_dilated(x, w, (2, 2), "SAME", dimension_numbers=_DN),
                "fast": lambda x, w: conv2d_fast(x, w, 2)}
    return {"xla": lambda x, w: lax.conv_transpose(x, w, (2, 2), "SAME", dimension_numbers=_DN_T),
            "fast": lambda x, w: conv2d_transpose_fast(x, w, 2)}


def gradient_fn(f):
    @jax.jit
    def gradients(x, w, cotangent):
        _, vjp = jax.vjp(f, x, w)
        return vjp(cotangent)
    return gradients


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=10, help="calls per variant per round")
    args = parser.parse_args()
    print(f"backend {jax.default_backend()}, jax {jax.__version__}; batch 64, forward + backward, ms "
          f"(min / median of {args.rounds} x {args.repeats} calls)")
    for name, kind, size, cin, cout, k in LAYERS:
        keys = jax.random.split(jax.random.PRNGKey(size * 1000 + cin), 3)
        x = jax.random.normal(keys[0], (64, size, size, cin))
        w_shape = (k, k, cin, cout) if kind == "conv" else (k, k, cout, cin)
        w = jax.random.normal(keys[1], w_shape) / np.sqrt(k * k * cin)
        functions = layer_functions(kind)
        variants = {v: gradient_fn(f) for v, f in functions.items()}
        out_shape = jax.eval_shape(functions["xla"], x, w).shape
        cotangent = jax.random.normal(keys[2], out_shape)
        results = {v: jax.block_until_ready(g(x, w, cotangent)) for v, g in variants.items()}  # compile
        times = {v: [] for v in variants}
        for _ in range(args.rounds):
            for v, g in variants.items():
                for _ in range(args.repeats):
                    t = time.perf_counter()
                    jax.block_until_ready(g(x, w, cotangent))
                    times[v].append(1e3 * (time.perf_counter() - t))
        diff = max(float(jnp.max(jnp.abs(a - b)) / jnp.max(jnp.abs(b)))
                   for a, b in zip(results["fast"], results["xla"]))
        xla_min, fast_min = min(times["xla"]), min(times["fast"])
        print(f"{name:12s} xla {xla_min:7.2f} / {np.median(times['xla']):7.2f}   "
              f"fast {fast_min:7.2f} / {np.median(times['fast']):7.2f}   x{xla_min / fast_min:5.2f}   "
              f"max rel. difference {diff:.1e}", flush=True)


if __name__ == "__main__":
    main()
