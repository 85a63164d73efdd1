"""Every evaluated run keeps its codes: `X.codes.npz` beside `X.eval.json`.

A study's checkpoints live for one session; a score thought of later (InfoMEC, UDR, a metric
not yet written) should not need the model again. What most scores read from a model is small:
the ground-truth factors of a fixed sample of observations and the representation of each.
The sample is the one InfoMEC uses: `SAMPLE_SIZE` observations drawn by `data.sample` from
their own RandomState(eval seed), so recording changes no other metric's draws.

Content (numpy's npz, compressed, no pickles):
  factors [n, F] int64          the factor classes of the sample;
  codes [n, L] float32          the representation the metrics read (the model's read-out);
  argmax_codes [n, L] float32   for a categorical latent: each latent's most likely category's
                                value (a discrete code, how the QLAE line reads such a latent);
  header                        a JSON string: checkpoint, model, dataset, config, factor_sizes,
                                sample_seed, discrete (whether `codes` are discrete), format.
Reading one is as guarded as reading a checkpoint (`data._io.read_small_npz`): exact members,
bounded sizes read with the bound, every field checked before use.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from data._io import read_small_npz
from data.atomic import atomic_write
from data.base import DataError

SUFFIX = ".codes.npz"
FORMAT = 1
SAMPLE_SIZE = 10_000
# 10,000 x (10 codes float32 + 10 argmax float32 + 7 factors int64): about 1.4 MB; refuse more
# than a generous multiple of any real record.
MAX_MEMBER_BYTES = 256 * 2**20
HEADER_FIELDS = ("checkpoint", "model", "dataset", "config", "factor_sizes", "sample_seed", "discrete", "format")


def codes_path(checkpoint) -> Path:
    """X.pkl -> X.codes.npz (next to the checkpoint)."""
    path = Path(checkpoint)
    return path.with_name(path.name.removesuffix(".pkl") + SUFFIX)


def sample_codes(data, representation_function, seed: int, argmax_function=None, num: int = SAMPLE_SIZE,
                 chunk: int = 1_000) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(factors [num, F], codes [num, L], argmax codes [num, L] or None) of `num` observations
    drawn from their own RandomState(seed): the factors first, then the observations chunk by
    chunk (so that no more than `chunk` images are in memory at once)."""
    random_state = np.random.RandomState(seed)
    factors = data.sample_factors(num, random_state)
    codes, argmax_codes = [], []
    for start in range(0, num, chunk):
        observations = data.sample_observations_from_factors(factors[start:start + chunk], random_state)
        codes.append(np.asarray(representation_function(observations), np.float32))
        if argmax_function is not None:
            argmax_codes.append(np.asarray(argmax_function(observations), np.float32))
    return (np.asarray(factors, np.int64), np.concatenate(codes),
            np.concatenate(argmax_codes) if argmax_function is not None else None)


def write_codes_record(path, factors, codes, header: dict, argmax_codes=None) -> Path:
    """Write a record atomically; `header` holds every HEADER_FIELDS but the format."""
    arrays = {"factors": np.asarray(factors, np.int64), "codes": np.asarray(codes, np.float32),
              "header": np.array(json.dumps({**header, "format": FORMAT}))}
    if argmax_codes is not None:
        arrays["argmax_codes"] = np.asarray(argmax_codes, np.float32)
    with atomic_write(path, "wb") as f:
        np.savez_compressed(f, **arrays)
    return Path(path)


def read_codes_record(path) -> dict:
    """{factors, codes, argmax_codes (or None), header} of a record, every field checked; a
    one-line DataError says what is wrong and where."""
    arrays = read_small_npz(path, ("factors", "codes", "header"), ("argmax_codes",), MAX_MEMBER_BYTES)
    header = _header(path, arrays["header"])
    factors, codes = arrays["factors"], arrays["codes"]
    if factors.dtype != np.int64 or factors.ndim != 2 or not factors.shape[1]:
        raise DataError(f"{path}: factors must be int64 [n, F], got {factors.dtype} {list(factors.shape)}")
    sizes = header["factor_sizes"]
    if len(sizes) != factors.shape[1] or (factors < 0).any() or (factors >= np.array(sizes)).any():
        raise DataError(f"{path}: factors must be classes below the factor sizes {sizes}")
    for name in ("codes", "argmax_codes"):
        array = arrays.get(name)
        if array is None:
            continue
        if array.dtype != np.float32 or array.ndim != 2 or array.shape[0] != factors.shape[0] or not array.shape[1]:
            raise DataError(f"{path}: {name} must be float32 [{factors.shape[0]}, L], got {array.dtype} "
                            f"{list(array.shape)}")
        if not np.isfinite(array).all():
            raise DataError(f"{path}: {name} must be finite")
    return {"factors": factors, "codes": codes, "argmax_codes": arrays.get("argmax_codes"), "header": header}


def _header(path, raw: np.ndarray) -> dict:
    if raw.shape != () or raw.dtype.kind != "U":
        raise DataError(f"{path}: the header must be one JSON string")
    try:
        header = json.loads(str(raw))
    except json.JSONDecodeError:
        raise DataError(f"{path}: the header is not JSON") from None
    if not isinstance(header, dict) or sorted(header) != sorted(HEADER_FIELDS):
        raise DataError(f"{path}: the header must hold exactly {', '.join(HEADER_FIELDS)}")
    if header["format"] != FORMAT:
        raise DataError(f"{path}: record format {str(header['format'])[:20]!r}, this code reads {FORMAT}")
    sizes = header["factor_sizes"]
    if (not isinstance(sizes, list) or not sizes
            or not all(isinstance(s, int) and not isinstance(s, bool) and 0 < s < 2**31 for s in sizes)):
        raise DataError(f"{path}: factor_sizes must be a list of positive integers")
    if not isinstance(header["discrete"], bool):
        raise DataError(f"{path}: discrete must be true or false")
    return header
