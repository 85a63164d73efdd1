"""Evaluate one checkpoint with the protocol of metrics/protocol.py and write X.eval.json.

Per checkpoint: MIG, Modularity, SAP, FactorVAE score, BetaVAE score and DCI, always in that
order, with ONE numpy RandomState(seed) passed from each metric to the next (SPEC §4), then
(discrete models only) the straight-through gap on 1,000 batches of 64 training images drawn
with jax.random(seed), and the negative ELBO (recon + KL, as trained) on a fixed sample of
10,000 training images drawn the same way (metrics/elbo.py). For data sets whose observations
are plain stored images every stored image is encoded at most once (metrics/index_cache.py),
with numbers identical to the plain path.
"""
from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np

import metrics as metrics_lib
from data.atomic import plain_json, write_json_atomic
from metrics.protocol import (METRIC_CHOICES, RESULT_FORMAT, RESULT_KEYS, is_paper_protocol, merge_settings,
                              parse_metrics, result_path)
from training.machine import describe_machine
from training.restore import load_model


def evaluate_checkpoint(path, data=None, metrics=None, seed: int = 42, settings: dict | None = None,
                        fast: bool = False, progress: bool = True, use_cache: bool = True,
                        write: bool = True, log=print, datasets: dict | None = None,
                        overlap: bool = True, early_dci: bool = True) -> dict:
    """Evaluate the checkpoint at `path`; returns the result dict (written to X.eval.json).

    `metrics`: names from METRIC_CHOICES (default all); `settings`: {metric: {kwarg: value}}
    overrides (also `st_gap`: num_batches, batch_size, batches_per_call); `fast`: FAST_SETTINGS.
    `overlap`: compute the gap in a thread beside the metrics (same numbers; the per-metric
    times then include the competition for the cores). `early_dci`: with the index cache,
    start DCI's boosters at once on its planned draws (metrics/early_dci.py; same numbers, and
    used only if the RandomState reaches DCI exactly as planned).
    """
    keep_freed_memory()
    started = time.perf_counter()
    names = parse_metrics(",".join(metrics)) if metrics is not None else list(METRIC_CHOICES)
    settings = merge_settings(fast, settings)
    protocol = "paper" if is_paper_protocol(settings) else "custom"
    payload, config, data, model, params, state, params_disc = load_model(path, data, datasets)
    times: dict = {"load": time.perf_counter() - started}
    read_out = _ReadOut(data, model, params, state, names, settings, use_cache)

    gap = None
    if "st_gap" in names and not config.gaussian:
        gap = _GapJob(model, params, state, params_disc, data, seed, settings.get("st_gap", {}),
                      progress=progress and not overlap)
    # The gap draws nothing from the RandomState (nor numpy's global state), so it may run
    # beside the metrics; on few cores it fills what DCI's tree fitting leaves idle.
    overlap = overlap and gap is not None and bool(read_out.metric_names)
    if overlap:
        gap.start()
    try:
        results, dci_early_used = _run_metrics(read_out, seed, config.num_latents, early_dci, progress, times, log)
    finally:  # no thread outlives the evaluation, whatever failed
        if overlap:
            gap.join()
    if gap is not None:
        results.update(gap.results(times, log, overlap))
        settings.setdefault("st_gap", {}).update(num_batches=gap.value["st_num_batches"],
                                                 batch_size=gap.value["st_batch_size"])
    if "elbo" in names:
        results.update(_elbo_results(model, params, state, data, payload, seed, settings, times, log))
    times["total"] = time.perf_counter() - started
    result = _result_record(path, payload, config, data, seed, protocol, settings, names, results, times,
                            overlap, dci_early_used, read_out.cache)
    if "st_gap" in names and config.gaussian:
        result["st_gap_note"] = "not defined for Gaussian models"
    if write:
        result["json"] = str(write_json_atomic(result_path(path), result))
    return result


class _ReadOut:
    """What the metrics see: the jitted read-out, and for stored-image data sets the index
    cache (every stored image encoded at most once) with the settings it needs."""

    def __init__(self, data, model, params, state, names, settings, use_cache: bool):
        from metrics.index_cache import CachedRepresentation, IndexedData, index_settings, supports_index_cache
        from models.representation import make_representation_function

        represent = make_representation_function(model, params, state)
        self.metric_names = [n for n in names if n in metrics_lib.METRIC_NAMES]
        self.metric_settings = {k: v for k, v in settings.items() if k in metrics_lib.METRIC_NAMES}
        self.ground_truth, self.representation_function, self.cache = data, represent, None
        if use_cache and self.metric_names and supports_index_cache(data):
            self.cache = CachedRepresentation(data, represent)
            self.ground_truth, self.representation_function = IndexedData(data), self.cache
            self.metric_settings = index_settings(self.metric_settings, self.metric_names)


def _run_metrics(read_out: _ReadOut, seed: int, num_latents: int, early_dci: bool, progress: bool,
                 times: dict, log) -> tuple[dict, bool]:
    """The metrics one at a time, in the paper's order, on one RandomState(seed); DCI's result
    taken from its early run when that run's plan held. Returns (results, early DCI used)."""
    from metrics.early_dci import EarlyDci, plan_dci

    names, settings = read_out.metric_names, read_out.metric_settings
    results: dict = {}
    early, early_used = None, False
    random_state = np.random.RandomState(seed)
    try:
        if early_dci and read_out.cache is not None and "dci" in names:
            start = time.perf_counter()
            plan = plan_dci(read_out.ground_truth, random_state, [n for n in names if n != "dci"], settings,
                            num_latents)
            early = EarlyDci(plan, read_out.representation_function, settings.get("dci")).start()
            times["dci_plan"] = time.perf_counter() - start
        for name in names:
            early_result = early.result(random_state) if (name == "dci" and early is not None) else None
            if early_result is not None:
                out = metrics_lib.flat_results("dci", early_result)
                times["dci"] = early.seconds  # its own run, beside the metrics before it
                early_used = True
            else:
                out = metrics_lib.evaluate_all(read_out.ground_truth, read_out.representation_function,
                                               random_state, metrics=[name], progress=progress, settings=settings)
                times[name] = out.pop(f"time_{name}")
            results.update(out)
            log(f"  {name:<11s}" + "  ".join(f"{k} {_fmt(out[k])}" for k in RESULT_KEYS[name])
                + f"  ({times[name]:.1f} s)")
    finally:
        if early is not None:
            early.join()
    return results, early_used


class _GapJob:
    """The straight-through gap, run now or in a thread beside the metrics."""

    def __init__(self, model, params, state, params_disc, data, seed, options: dict, progress: bool):
        self._arguments = (model, params, state, params_disc, data)
        self._options = dict(options, seed=seed, progress=progress)
        self._thread: threading.Thread | None = None
        self.value = self.error = self.seconds = None

    def _run(self):
        from metrics.st_gap import compute_st_gap
        start = time.perf_counter()
        try:
            self.value = compute_st_gap(*self._arguments, **self._options)
        except BaseException as error:  # noqa: BLE001 - re-raised in the main thread by results()
            self.error = error
        self.seconds = time.perf_counter() - start

    def start(self):
        self._thread = threading.Thread(target=self._run, name="st-gap", daemon=True)
        self._thread.start()

    def join(self):
        self._thread.join()

    def results(self, times: dict, log, overlapped: bool) -> dict:
        """The gap's result keys (computed now unless it ran in a thread); its error re-raised."""
        if self._thread is None:
            self._run()
        if self.error is not None:
            raise self.error
        times["st_gap"] = self.seconds
        out = {k: self.value[k] for k in RESULT_KEYS["st_gap"]}
        log(f"  {'st_gap':<11s}" + "  ".join(f"{k} {_fmt(v)}" for k, v in out.items())
            + f"  ({self.seconds:.1f} s{', beside the metrics' if overlapped else ''})")
        return out


def _elbo_results(model, params, state, data, payload, seed, settings, times, log) -> dict:
    """The negative ELBO on a fixed sample of images (metrics/elbo.py), with its sample size and
    the noise scale it used."""
    from metrics.elbo import compute_elbo
    start = time.perf_counter()
    value = compute_elbo(model, params, state, data, step=int(payload.get("step", 0)), seed=seed,
                         **settings.get("elbo", {}))
    times["elbo"] = time.perf_counter() - start
    # Non-finite (a posterior that overflows) is recorded as null, as in the JSON.
    out = {k: plain_json(value[k]) for k in (*RESULT_KEYS["elbo"], "elbo_num_images", "elbo_noise_scale")}
    log(f"  {'elbo':<11s}" + "  ".join(f"{k} {_fmt(v)}" for k, v in out.items()) + f"  ({times['elbo']:.1f} s)")
    return out


def _result_record(path, payload, config, data, seed, protocol, settings, names, results, times,
                   overlapped, dci_early_used, cache) -> dict:
    """The eval JSON's content (fields: docs/metrics.md, "The JSON")."""
    import jax
    import sklearn
    return {
        "format_version": RESULT_FORMAT,
        "checkpoint": str(Path(path)),
        "source": payload.get("source", "lddr"),   # "authors": written by the authors' run.py
        "dataset": config.dataset,
        "data": data.describe() if hasattr(data, "describe") else type(data).__name__,
        "model": config.model_name,
        "gamma": config.gamma,
        "seed": config.seed,
        "step": int(payload.get("step", -1)),
        "config": config.to_dict(),
        "eval_seed": seed,
        "protocol": protocol,
        "settings": settings,
        "metrics": names,
        "results": results,
        "times": times,
        "st_gap_overlapped": overlapped,
        "dci_early": dci_early_used,
        "index_cache": ({"used": True, "images_encoded": cache.num_encoded,
                         "images_stored": cache.num_images, "encode_seconds": cache.encode_seconds}
                        if cache is not None else {"used": False}),
        "versions": {"jax": jax.__version__, "sklearn": sklearn.__version__, "numpy": np.__version__},
        "machine": describe_machine(),
        "solvers": metrics_lib.solver_settings(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def _fmt(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return str(int(value))
    return f"{float(value):.4f}"


def format_table(result: dict) -> str:
    """A readable table of one result dict."""
    lines = [f"{result['checkpoint']}: {result['model']} on {result['dataset']}, gamma {result['gamma']}, "
             f"seed {result['seed']}, step {result['step']} (eval seed {result['eval_seed']}, "
             f"{result['protocol']} protocol)",
             f"  {'metric':<28s}{'value':>12s}{'time (s)':>10s}"]
    for name in result["metrics"]:
        keys = RESULT_KEYS[name]
        if name == "st_gap" and "st_gap" not in result["results"]:
            lines.append(f"  {'st_gap':<28s}{'-':>12s}{'':>10s}  ({result.get('st_gap_note', '')})")
            continue
        for i, key in enumerate(keys):
            time_text = f"{result['times'][name]:10.1f}" if i == 0 else ""
            lines.append(f"  {key:<28s}{_fmt(result['results'][key]):>12s}{time_text}")
    cache = result["index_cache"]
    extra = (f"; index cache: {cache['images_encoded']} of {cache['images_stored']} stored images encoded "
             f"in {cache['encode_seconds']:.1f} s" if cache.get("used") else "")
    lines.append(f"  {'total':<28s}{'':>12s}{result['times']['total']:10.1f}{extra}")
    return "\n".join(lines)


_MALLOC_SET = False


def keep_freed_memory() -> None:
    """Ask glibc's malloc to keep freed memory instead of returning it to the OS at once.

    Called by `evaluate_checkpoint`, so every path that evaluates (eval.py, sweeps, benchmarks)
    gets it; once per process. DCI's boosters allocate and free megabyte-sized numpy
    temporaries hundreds of thousands of times; by default each one is a fresh mmap, and the
    page faults cost a sixth of DCI's time (docs/metrics.md). Does nothing where mallopt is
    missing.
    """
    global _MALLOC_SET
    if _MALLOC_SET:
        return
    _MALLOC_SET = True
    import ctypes
    import ctypes.util
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        m_trim_threshold, m_top_pad, m_mmap_threshold = -1, -2, -3
        libc.mallopt(m_mmap_threshold, 1 << 30)
        libc.mallopt(m_trim_threshold, (1 << 31) - 1)
        libc.mallopt(m_top_pad, 1 << 28)
    except (OSError, AttributeError):
        pass
