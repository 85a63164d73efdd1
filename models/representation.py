"""The metric read-out as a numpy function, jitted and run on large fixed-size batches."""
from __future__ import annotations

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np

from models.model import Model, build_model
from models.networks import Encoder

# XLA:CPU hands convolutions, dots and elementwise ops to YNNPACK, fusing neighbours into one
# YNNPACK subgraph only around a "fusion starter". By default only reductions start a growing
# fusion: the D-VAE read-out (softmax reduces over K) becomes one subgraph, while the Gaussian
# read-out (posterior mean, no reduction) is cut into single-op calls with every bias add and
# ReLU as a separate pass over the activations, 3-5x slower (docs/performance.md). Naming the
# fusion types lets elementwise ops start fusions as well, so every model's encoder becomes
# one subgraph. The outputs are bit for bit those of the default compile (tested).
CPU_COMPILER_OPTIONS = {"xla_cpu_experimental_ynn_fusion_type": ",".join(
    f"LIBRARY_FUSION_TYPE_{kind}" for kind in ("ELTWISE", "DOT", "REDUCE", "INDIVIDUAL_CONVOLUTION"))}


def compile_encoder(model: Model, params, state, batch_size: int, transformed=None):
    """The encoder for images [batch_size, 64, 64, C] -> representation [batch_size, N] (or what
    another transform of the encoder, `transformed`, returns), compiled with
    `CPU_COMPILER_OPTIONS` on the CPU (plainly where a jaxlib does not know them)."""
    transformed = transformed if transformed is not None else model.encode
    shape = jax.ShapeDtypeStruct((batch_size, 64, 64, model.num_channels), jnp.float32)
    lowered = jax.jit(lambda images: transformed.apply(params, state, images)[0]).lower(shape)
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
    model = _forward_only(model)
    return _padded_batches(compile_encoder(model, params, state, batch_size), batch_size, model.config.num_latents)


def make_argmax_function(model: Model, params, state, batch_size: int = 1024):
    """observations (numpy [n, 64, 64, C]) -> the argmax read-out [n, N] (each latent's most
    likely category's value), or None for a latent without categories."""
    latent = model.spec.latent
    if not hasattr(latent, "argmax_read_out"):
        return None
    model = _forward_only(model)
    config = model.config

    def argmax_codes(images):
        features = Encoder(config.hidden_size, config.conv_impl)(images)
        return latent.argmax_read_out(latent.posterior(features, config), config)

    transformed = hk.without_apply_rng(hk.transform_with_state(argmax_codes))
    return _padded_batches(compile_encoder(model, params, state, batch_size, transformed), batch_size,
                           config.num_latents)


def _forward_only(model: Model) -> Model:
    """The model with XLA's own convolutions where `auto` would pick the fast ones: a read-out is
    forward-only, and XLA's run the encoder ~5x faster on the CPU than the fast layers, whose gain
    is in the backward pass. Both have the same parameters, so they are interchangeable here."""
    if model.config.conv_impl != "auto":
        return model
    return build_model(model.config.replace(conv_impl="xla"), model.num_channels)


def _padded_batches(encode, batch_size: int, num_latents: int):
    """A numpy function over any number of observations from a function compiled for
    `batch_size`: one compiled shape serves every call, so every observation goes through the
    same program however the calls are grouped."""

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
            return np.zeros((0, num_latents), np.float32)
        return np.concatenate(outputs)

    return representation_function


def make_udr_function(model: Model, params, state, batch_size: int = 10):
    """observations (numpy [n, 64, 64, C]) -> (representation [n, N], mean KL per latent [N]):
    UDR's representation function (metrics/udr.py). The codes are the metrics' read-out
    (`make_representation_function`), compiled for UDR's batch size: UDR calls it once per
    batch of `batch_size` observations, and padding each call to the metrics' 1,024 would
    encode a hundred times the images. The KL is each latent's posterior against its prior
    (Gaussian: N(0, 1); categorical: uniform over K), averaged over the observations; None for
    a latent without a prior (QLAE), which UDR then scores without its KL filter."""
    represent = make_representation_function(model, params, state, batch_size)
    if model.posterior_kl is None:
        return lambda observations: (represent(np.asarray(observations, dtype=np.float32)), None)
    kl = jax.jit(lambda images: model.posterior_kl.apply(params, state, images)[0])

    def udr_function(observations: np.ndarray):
        observations = np.asarray(observations, dtype=np.float32)
        return represent(observations), np.asarray(kl(observations), np.float64).mean(axis=0)

    return udr_function
