"""Shared helpers for the disentanglement metrics.

The one rule that makes our numbers identical to disentanglement_lib's: every call on the
`random_state` (a `numpy.random.RandomState`) happens in exactly the same order, with the same
arguments, as in disentanglement_lib. What we change is only *when* the (deterministic)
representation function is called: observations are drawn in the reference order, buffered,
and represented in large chunks (`chunk_size` images per call) instead of 16 or 64 at a time.

Sampling runs in a background producer thread (it alone touches `random_state`, in order), so
drawing the next chunk of observations overlaps with representing the current one; the main
thread consumes the chunks in order. At most `prefetch` chunks wait in the queue, which bounds
memory to roughly (prefetch + 2) * chunk_size observations.

Representations keep the dtype the representation function returns (disentanglement_lib stacks
them with `np.vstack`, which also keeps it): the histogram bin edges depend on that dtype.
"""
from __future__ import annotations

import queue
import threading
from typing import Callable, Iterable, Iterator

import numpy as np
import sklearn.metrics

# Images per representation call (256 float32 64x64x3 images are 12.6 MB). On CPU, larger
# chunks are slower (cache); on an accelerator 256 already amortises the per-call overhead
# (4x-8x fewer calls than disentanglement_lib's 64 or 16); raise it there if profiling says so.
DEFAULT_CHUNK_SIZE = 256
# Chunks drawn ahead of the representation function.
DEFAULT_PREFETCH = 2


class NotFinite(FloatingPointError):
    """A quantity came out NaN or infinite (or too large to compute with): `quantity` names it.
    Raised rather than computing on with it, so an evaluation can keep what it has."""

    def __init__(self, quantity: str, detail: str):
        super().__init__(f"{quantity}: {detail}")
        self.quantity = quantity


def stack(arrays: list) -> np.ndarray:
    """np.concatenate along axis 0, without a copy for a single array."""
    return arrays[0] if len(arrays) == 1 else np.concatenate(arrays, axis=0)


def represent(representation_function: Callable, observations) -> np.ndarray:
    """`representation_function(observations)` as a numpy array (dtype kept)."""
    return np.asarray(representation_function(observations))


# ----------------------------------------------------------------------------------------
# Producer/consumer pipeline
# ----------------------------------------------------------------------------------------
_DONE = object()


class _Failure:
    def __init__(self, exc: BaseException):
        self.exc = exc


def pipelined(producer: Iterable, prefetch: int | None = None) -> Iterator:
    """Iterate over `producer` while it runs ahead in a background thread.

    Items come out in the producer's order; an exception in the producer is re-raised here.
    `prefetch=0` runs the producer inline (no thread); None means `DEFAULT_PREFETCH` (read at
    call time, so it can be changed globally).
    """
    if prefetch is None:
        prefetch = DEFAULT_PREFETCH
    if prefetch <= 0:
        yield from producer
        return
    q: queue.Queue = queue.Queue(maxsize=prefetch)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run():
        try:
            for item in producer:
                if not put(item):
                    return
            put(_DONE)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            put(_Failure(exc))

    thread = threading.Thread(target=run, name="metrics-sampler", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is _DONE:
                break
            if isinstance(item, _Failure):
                raise item.exc
            yield item
    finally:
        stop.set()
        thread.join()


def progress_bar(progress: bool, total: int, desc: str):
    """A tqdm bar when `progress`, else a no-op object with the same `update`/`close`."""
    if progress:
        from tqdm.auto import tqdm
        return tqdm(total=total, desc=desc, unit="pt", leave=False)

    class _Null:
        def update(self, n=1):
            pass

        def close(self):
            pass

    return _Null()


# ----------------------------------------------------------------------------------------
# Drawing points
# ----------------------------------------------------------------------------------------
def generate_batch_factor_code(ground_truth_data, representation_function, num_points: int,
                               random_state: np.random.RandomState, batch_size: int,
                               chunk_size: int = DEFAULT_CHUNK_SIZE,
                               prefetch: int | None = None, bar=None):
    """(mus [num_codes, num_points], ys [num_factors, num_points]) as disentanglement_lib.

    Reference call sequence on `random_state`: for i = 0, b, 2b, ...:
    `ground_truth_data.sample(min(batch_size, num_points - i), random_state)`.
    Observations are buffered and represented `chunk_size` at a time.
    """
    factors_list: list[np.ndarray] = []

    def produce():
        obs_buf: list[np.ndarray] = []
        buffered = 0
        i = 0
        while i < num_points:
            n = min(num_points - i, batch_size)
            factors, observations = ground_truth_data.sample(n, random_state)
            factors_list.append(np.asarray(factors))
            obs_buf.append(np.asarray(observations))
            buffered += n
            i += n
            if buffered >= chunk_size or i >= num_points:
                yield stack(obs_buf), buffered
                obs_buf, buffered = [], 0

    reps: list[np.ndarray] = []
    for chunk, n in pipelined(produce(), prefetch):
        reps.append(represent(representation_function, chunk))
        del chunk
        if bar is not None:
            bar.update(n)
    mus = np.concatenate(reps, axis=0)
    ys = np.concatenate(factors_list, axis=0)
    assert mus.shape[0] == num_points and ys.shape[0] == num_points
    return np.transpose(mus), np.transpose(ys)


def generate_train_test_codes(ground_truth_data, representation_function, num_train: int, num_test: int,
                              random_state: np.random.RandomState, batch_size: int, progress: bool,
                              desc: str, chunk_size: int = DEFAULT_CHUNK_SIZE):
    """(mus_train, ys_train, mus_test, ys_test): train points, then test points, as the
    reference draws them (each via `generate_batch_factor_code`), under one progress bar."""
    bar = progress_bar(progress, num_train + num_test, desc)
    try:
        train = generate_batch_factor_code(ground_truth_data, representation_function, num_train,
                                           random_state, batch_size, chunk_size=chunk_size, bar=bar)
        test = generate_batch_factor_code(ground_truth_data, representation_function, num_test,
                                          random_state, batch_size, chunk_size=chunk_size, bar=bar)
    finally:
        bar.close()
    return (*train, *test)


def skip_batch_factor_code(ground_truth_data, num_points: int,
                           random_state: np.random.RandomState, batch_size: int, bar=None) -> None:
    """Make the `random_state` calls of `generate_batch_factor_code` without representing.

    For points disentanglement_lib draws but whose scores we do not report (Modularity's
    explicitness): the representation function draws nothing, so it can be skipped.
    """
    i = 0
    while i < num_points:
        n = min(num_points - i, batch_size)
        ground_truth_data.sample(n, random_state)
        i += n
        if bar is not None:
            bar.update(n)


def obtain_representation(observations, representation_function,
                          chunk_size: int = DEFAULT_CHUNK_SIZE) -> np.ndarray:
    """[num, num_codes] representations of given observations, `chunk_size` per call."""
    num = observations.shape[0]
    out = [represent(representation_function, observations[i:i + chunk_size])
           for i in range(0, num, chunk_size)]
    return np.concatenate(out, axis=0)


# ----------------------------------------------------------------------------------------
# Discretisation and information
# ----------------------------------------------------------------------------------------
def histogram_discretize(target: np.ndarray, num_bins: int = 20) -> np.ndarray:
    """Per row: `np.digitize(x, np.histogram(x, num_bins)[1][:-1])` (disentanglement_lib).

    A finite row whose range is too small for `num_bins` distinct edges in its dtype (a
    collapsed code whose values differ by a few float32 ulps) makes numpy's histogram raise,
    in disentanglement_lib too. Such a row carries nothing at that resolution, so it is
    discretised as an exactly constant row is: all in one bin (zero information)."""
    discretized = np.zeros(target.shape, dtype=np.int64)
    for i in range(target.shape[0]):
        row = target[i, :]
        try:
            edges = np.histogram(row, num_bins)[1][:-1]
        except ValueError:
            if not np.isfinite(row).all():
                raise
            row = np.full_like(row, row.min())
            edges = np.histogram(row, num_bins)[1][:-1]
        discretized[i, :] = np.digitize(row, edges)
    return discretized


def discrete_mutual_info(mus: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """[num_codes, num_factors] MI (nats) between discretised codes and factors."""
    m = np.zeros([mus.shape[0], ys.shape[0]])
    for i in range(mus.shape[0]):
        for j in range(ys.shape[0]):
            m[i, j] = sklearn.metrics.mutual_info_score(ys[j, :], mus[i, :])
    return m


def discrete_entropy(ys: np.ndarray) -> np.ndarray:
    """[num_factors] entropy (nats) of each discrete factor, as MI of a factor with itself."""
    h = np.zeros(ys.shape[0])
    for j in range(ys.shape[0]):
        h[j] = sklearn.metrics.mutual_info_score(ys[j, :], ys[j, :])
    return h
