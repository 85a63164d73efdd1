"""UDR's inputs recorded per model, so that UDR can be scored after the checkpoints are gone.

UDR needs every model of a group (same settings, different seeds) at once, but a study that
spans sessions keeps only its logs and eval JSON: its checkpoints live for one session. What UDR
reads from a model is small, though: its codes [num_data_points, D] and mean KL per latent [D]
on observations drawn from `RandomState(udr_seed)`. The draw is the same for every model (the
representation functions draw nothing), so recording each model's codes alone gives exactly the
numbers of scoring the group from its checkpoints (tests/metrics/test_udr_records.py). The record
also keeps the RandomState as the draw left it, and the scores continue from it: each Lasso fit
draws from it as in disentanglement_lib (with sklearn's cyclic coordinate descent the draws do
not change the fits, but the stream stays the reference's).

`X.udr_codes.npz` (numpy's npz, no pickles), written atomically beside checkpoint `X.pkl`:
  codes [P, D] float64, kl [D] float64 ([0] for a model without a KL: QLAE), rng_keys [624]
  uint32, rng_position, rng_has_gauss, rng_cached_gaussian (numpy's MT19937 state), header (a
  JSON string: checkpoint name, config, udr_seed, batch_size, num_data_points, format).
"""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np

from data.atomic import atomic_write
from metrics.udr import UdrError, udr_from_representations

RECORD_SUFFIX = ".udr_codes.npz"
RECORD_FORMAT = 1
_ARRAYS = ("codes", "kl", "rng_keys", "rng_position", "rng_has_gauss", "rng_cached_gaussian", "header")
# A record holds P x D float64 codes: 1,000 x 10 by default (80 KB). A member declaring more
# than this once decompressed is refused before it is read.
MAX_MEMBER_BYTES = 64 * 2 ** 20


def record_path(checkpoint) -> Path:
    """X.pkl -> X.udr_codes.npz (next to the checkpoint)."""
    path = Path(checkpoint)
    return path.with_name(path.name.removesuffix(".pkl") + RECORD_SUFFIX)


def write_record(path, codes: np.ndarray, kl: np.ndarray | None, random_state: np.random.RandomState,
                 header: dict) -> Path:
    """One model's codes [P, D] and KL [D] (None: the model has none, stored as [0]), with the
    RandomState as the draw left it."""
    name, keys, position, has_gauss, cached = random_state.get_state()
    kl = np.zeros(0) if kl is None else kl
    arrays = {"codes": np.asarray(codes, np.float64), "kl": np.asarray(kl, np.float64),
              "rng_keys": np.asarray(keys, np.uint32), "rng_position": np.int64(position),
              "rng_has_gauss": np.int64(has_gauss), "rng_cached_gaussian": np.float64(cached),
              "header": np.array(json.dumps({**header, "format": RECORD_FORMAT}))}
    with atomic_write(path, "wb") as f:
        np.savez_compressed(f, **arrays)
    return Path(path)


def read_record(path) -> dict:
    """{codes, kl (None for a model without a KL), random_state, header} of a record, every
    field checked; a one-line UdrError says what is wrong and where."""
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            sizes = {info.filename: info.file_size for info in archive.infolist()}
        if sorted(sizes) != sorted(f"{k}.npy" for k in _ARRAYS):
            raise UdrError(f"{path}: not a UDR record (expected the arrays {', '.join(_ARRAYS)}, "
                           f"found {', '.join(sorted(sizes)) or 'none'})")
        if max(sizes.values()) > MAX_MEMBER_BYTES:
            raise UdrError(f"{path}: a member declares {max(sizes.values())} bytes, more than a UDR record holds")
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in _ARRAYS}
    except (OSError, zipfile.BadZipFile, ValueError, EOFError) as error:
        if isinstance(error, UdrError):
            raise
        raise UdrError(f"{path}: not a readable UDR record ({' '.join(str(error).split())})") from None
    return _validated(path, arrays)


def _validated(path: Path, arrays: dict) -> dict:
    try:
        header = json.loads(str(arrays["header"]))
    except (json.JSONDecodeError, TypeError):
        raise UdrError(f"{path}: the header is not JSON") from None
    fields = ("checkpoint", "config", "udr_seed", "batch_size", "num_data_points", "format")
    if not isinstance(header, dict) or sorted(header) != sorted(fields):
        raise UdrError(f"{path}: the header must hold {', '.join(fields)}")
    if header["format"] != RECORD_FORMAT:
        raise UdrError(f"{path}: record format {header['format']!r}, this code reads {RECORD_FORMAT}")
    codes, kl = arrays["codes"], arrays["kl"]
    points = header["num_data_points"]
    if codes.dtype != np.float64 or codes.ndim != 2 or codes.shape[0] != points or not codes.shape[1]:
        raise UdrError(f"{path}: codes must be float64 [{points}, D], got {codes.dtype} {list(codes.shape)}")
    if kl.dtype != np.float64 or kl.shape not in ((codes.shape[1],), (0,)):
        raise UdrError(f"{path}: kl must be float64 [{codes.shape[1]}] (or [0]: no KL), got {kl.dtype} "
                       f"{list(kl.shape)}")
    if not (np.isfinite(codes).all() and np.isfinite(kl).all()):
        raise UdrError(f"{path}: codes and kl must be finite")
    keys, position = arrays["rng_keys"], arrays["rng_position"]
    if keys.dtype != np.uint32 or keys.shape != (624,) or position.shape or not 0 <= int(position) <= 624:
        raise UdrError(f"{path}: the RandomState must be MT19937's 624 uint32 keys and a position in [0, 624]")
    random_state = np.random.RandomState()
    random_state.set_state(("MT19937", keys, int(position), int(arrays["rng_has_gauss"]),
                            float(arrays["rng_cached_gaussian"])))
    return {"codes": codes, "kl": kl if kl.size else None, "random_state": random_state, "header": header}


def score_records(records: list[dict], correlation_matrix: str = "lasso", filter_low_kl: bool = True,
                  kl_filter_threshold: float = 0.01) -> dict:
    """UDR of one group of records (as read by `read_record`): the scores of
    `udr_from_representations`. The records must come from the same draw: same seed, batch
    size, number of points and RandomState after the draw."""
    first = records[0]
    for record in records[1:]:
        for key in ("udr_seed", "batch_size", "num_data_points"):
            if record["header"][key] != first["header"][key]:
                raise UdrError(f"{record['header']['checkpoint']} was recorded with {key} {record['header'][key]}, "
                               f"{first['header']['checkpoint']} with {first['header'][key]}: not comparable")
        if not _same_state(record["random_state"], first["random_state"]):
            raise UdrError(f"{record['header']['checkpoint']} and {first['header']['checkpoint']} were recorded "
                           f"on different observations (another data set or sampler)")
    return udr_from_representations([r["codes"] for r in records], [r["kl"] for r in records],
                                    first["random_state"], correlation_matrix, filter_low_kl,
                                    include_raw_correlations=False, kl_filter_threshold=kl_filter_threshold)


def _same_state(a: np.random.RandomState, b: np.random.RandomState) -> bool:
    state_a, state_b = a.get_state(), b.get_state()
    return bool(np.array_equal(state_a[1], state_b[1])) and state_a[2:] == state_b[2:]
