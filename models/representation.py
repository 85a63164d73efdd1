"""The metric read-out as a numpy function, jitted and run on large fixed-size batches."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from models.model import Model, build_model

# XLA:CPU hands convolutions, dots and elementwise ops to YNNPACK, fusing neighbours into one
# YNNPACK subgraph only around a "fusion starter". By default only reductions start a growing
# fusion: the D-VAE read-out (softmax reduces over K) becomes one subgraph, while the Gaussian
# read-out (posterior mean, no reduction) is cut into single-op calls with every bias add and
# ReLU as a separate pass over the activations, 3-5x slower (docs/performance.md). Naming the
# fusion types lets elementwise ops start fusions as well, so every model's encoder becomes
# one subgraph. The outputs are bit for bit those of the default compile (tested).
CPU_COMPILER_OPTIONS = {"xla_cpu_experimental_ynn_fusion_type": ",".join(
    f"LIBRARY_FUSION_TYPE_{kind}" for kind in ("ELTWISE", "DOT", "REDUCE", "INDIVIDUAL_CONVOLUTION"))}


def compile_encoder(model: Model, params, state, batch_size: int):
    """The encoder for images [batch_size, 64, 64, C] -> representation [batch_size, N], compiled
    with `CPU_COMPILER_OPTIONS` on the CPU (plainly where a jaxlib does not know them)."""
    shape = jax.ShapeDtypeStruct((batch_size, 64, 64, model.num_channels), jnp.float32)
    lowered = jax.jit(lambda images: model.encode.apply(params, state, images)[0]).lower(shape)
    if jax.default_backend() == "cpu":
        try:
            return lowered.compile(compiler_options=CPU_COMPILER_OPTIONS)
        except jax.errors.JaxRuntimeError:
            pass  # an XLA without these options: correct, only slower for Gaussian models
    return lowered.compile()


def make_representation_function(model: Model, params, state, batch_size: int = 1024):
    """observations (numpy [n, 64, 64, C]) -> representation (numpy [n, N]).

    Batches are padded to `batch_size` so one compiled shape serves every call: every
    observation goes through the same program, however the calls are grouped. (Another batch
    shape is another program; on some CPUs, e.g. an AMD EPYC, it changes the Gaussian read-out
    in the last bits.)
    """
    if model.config.conv_impl == "auto":
        # The read-out is forward-only: XLA's own convolutions run the encoder ~5x faster on the
        # CPU than the fast layers, whose gain is in the backward pass. Both have the same
        # parameters, so they are interchangeable here.
        model = build_model(model.config.replace(conv_impl="xla"), model.num_channels)
    encode = compile_encoder(model, params, state, batch_size)

    def representation_function(observations: np.ndarray) -> np.ndarray:
        observations = np.asarray(observations, dtype=np.float32)
        outputs = []
        for start in range(0, len(observations), batch_size):
            chunk = observations[start:start + batch_size]
            size = len(chunk)
            if size < batch_size:
                chunk = np.concatenate([chunk, np.zeros((batch_size - size, *chunk.shape[1:]), chunk.dtype)])
            outputs.append(np.asarray(encode(chunk))[:size])
        if not outputs:
            return np.zeros((0, model.config.num_latents), np.float32)
        return np.concatenate(outputs)

    return representation_function


def make_udr_function(model: Model, params, state, batch_size: int = 10):
    """observations (numpy [n, 64, 64, C]) -> (representation [n, N], mean KL per latent [N]):
    UDR's representation function (metrics/udr.py). The codes are the metrics' read-out
    (`make_representation_function`), compiled for UDR's batch size: UDR calls it once per
    batch of `batch_size` observations, and padding each call to the metrics' 1,024 would
    encode a hundred times the images. The KL is each latent's posterior against its prior
    (Gaussian: N(0, 1); categorical: uniform over K), averaged over the observations."""
    represent = make_representation_function(model, params, state, batch_size)
    kl = jax.jit(lambda images: model.posterior_kl.apply(params, state, images)[0])

    def udr_function(observations: np.ndarray):
        observations = np.asarray(observations, dtype=np.float32)
        return represent(observations), np.asarray(kl(observations), np.float64).mean(axis=0)

    return udr_function
