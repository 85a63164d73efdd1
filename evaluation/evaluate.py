"""Evaluate one checkpoint with the protocol of evaluation/protocol.py and write X.eval.json.

Per checkpoint: MIG, Modularity, SAP, FactorVAE score, BetaVAE score and DCI, always in that
order, with ONE numpy RandomState(seed) passed from each metric to the next (docs/design.md §8), then
(D-VAE / FactorDVAE only) the straight-through gap on 1,000 batches of 64 training images drawn
with jax.random(seed), and the negative ELBO (recon + KL, as trained) on a fixed sample of
10,000 training images drawn the same way (metrics/elbo.py), or for QLAE, which has no ELBO,
the reconstruction loss on the same images (metrics/reconstruction.py); then InfoMEC. Which
unsupervised scores a model gets is its registry entry's `scores`. For data sets whose observations
are plain stored images every stored image is encoded at most once (evaluation/index_cache.py),
with numbers identical to the plain path.

Parameters can be finite and still give numbers nothing can be computed from (every weight at
1e38: NaN codes, NaN losses). Such a quantity is not computed: its result keys are null, its
name goes into the result's `incomplete` (the reason into `incomplete_why`), and everything
else is still computed and written. The metrics share one RandomState, so once one metric
meets unusable codes, it and every metric after it are incomplete (their draws would no
longer be the protocol's).
"""
from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path

import jax
import numpy as np
import sklearn

import metrics as metrics_lib
from checkpoints.restore import Restored, load_model
from configs.text import printable
from data.atomic import plain_json, write_json_atomic
from evaluation.codes_record import codes_path, sample_codes, write_codes_record
from evaluation.early_dci import EarlyDci, plan_dci
from evaluation.index_cache import CachedRepresentation, IndexedData, index_settings, supports_index_cache
from evaluation.protocol import (
    INFOMEC_POINTS,
    METRIC_CHOICES,
    NOT_DEFINED,
    RESULT_FORMAT,
    RESULT_KEYS,
    is_paper_protocol,
    merge_settings,
    parse_metrics,
    result_path,
)
from evaluation.rescore import infomec_results
from metrics.elbo import compute_elbo
from metrics.reconstruction import compute_reconstruction
from metrics.st_gap import compute_st_gap
from metrics.utils import NotFinite
from models.representation import make_argmax_function, make_representation_function
from training.machine import describe_machine


@dataclasses.dataclass(frozen=True)
class EvalOptions:
    """What to compute and how. Only `metrics`, `seed`, `settings` and `fast` can change a
    number; the rest changes speed, output or where the work runs.

    `metrics`: names from METRIC_CHOICES (None: all); `settings`: {metric: {keyword: value}}
    overrides (also `st_gap`: num_batches, batch_size, batches_per_call); `fast`: FAST_SETTINGS.
    `use_cache`: encode every stored image at most once (evaluation/index_cache.py).
    `overlap`: compute the gap in a thread beside the metrics (the per-metric times then include
    the competition for the cores). `early_dci`: with the index cache, start DCI's boosters at
    once on its planned draws (evaluation/early_dci.py; used only if the RandomState reaches DCI
    exactly as planned). `write`: write X.eval.json.
    """
    metrics: tuple[str, ...] | None = None
    seed: int = 42
    settings: dict | None = None
    fast: bool = False
    progress: bool = True
    use_cache: bool = True
    overlap: bool = True
    early_dci: bool = True
    write: bool = True


@dataclasses.dataclass
class _Evaluation:
    """One checkpoint's evaluation as it proceeds: what was asked, and the results so far."""
    path: Path
    restored: Restored
    seed: int
    names: list
    settings: dict
    protocol: str       # "paper", or "custom" where the settings change a number
    results: dict = dataclasses.field(default_factory=dict)
    times: dict = dataclasses.field(default_factory=dict)
    incomplete: dict = dataclasses.field(default_factory=dict)    # name -> why it was not computed

    def not_computed(self, name: str, why: str):
        self.incomplete[name] = why
        self.results.update({key: None for key in RESULT_KEYS[name]})


def evaluate_checkpoint(path, options: EvalOptions = EvalOptions(), data=None, datasets: dict | None = None,
                        log=print) -> dict:
    """Evaluate the checkpoint at `path`; returns the result dict (written to X.eval.json).

    `data` (a GroundTruthData) replaces the checkpoint's data set (tests); `datasets` caches
    loaded data sets by name across checkpoints.
    """
    started = time.perf_counter()
    names = parse_metrics(",".join(options.metrics)) if options.metrics is not None else list(METRIC_CHOICES)
    restored = load_model(path, data, datasets)
    settings = merge_settings(options.fast, options.settings)
    run = _Evaluation(
        Path(path),
        restored,
        options.seed,
        names,
        settings,
        "paper" if is_paper_protocol(settings) else "custom",
        times={"load": time.perf_counter() - started},
    )
    read_out = _ReadOut(restored, names, run.settings, options.use_cache)
    gap = None
    gap_defined = "st_gap" in restored.model.spec.scores
    if "st_gap" in names and gap_defined:
        gap = _GapJob(
            restored, run.seed, run.settings.get("st_gap", {}), progress=options.progress and not options.overlap
        )
    # The gap draws nothing from the RandomState (nor numpy's global state), so it may run
    # beside the metrics; on few cores it fills what DCI's tree fitting leaves idle.
    overlap = options.overlap and gap is not None and bool(read_out.metric_names)
    if overlap:
        gap.start()
    try:
        dci_early_used = _run_metrics(read_out, run, options.early_dci, options.progress, log)
    finally:  # no thread outlives the evaluation, whatever failed
        if overlap:
            gap.join()
    if gap is not None:
        run.results.update(gap.results(run, log, overlap))
        if gap.value is not None:
            run.settings.setdefault("st_gap", {}).update(
                num_batches=gap.value["st_num_batches"], batch_size=gap.value["st_batch_size"]
            )
    scores = restored.model.spec.scores
    if "elbo" in names and "elbo" in scores:
        run.results.update(_fixed_images_results(run, "elbo", compute_elbo, log))
    if "reconstruction" in names and "reconstruction" in scores:
        run.results.update(_fixed_images_results(run, "reconstruction", compute_reconstruction, log))
    if "infomec" in names:
        try:
            run.results.update(_infomec_results(run, read_out.plain_representation, options.write, log))
        except NotFinite as error:   # codes no estimator can use: InfoMEC not computed, the rest kept
            run.not_computed("infomec", str(error))
            run.results.update({k: None for k in RESULT_KEYS["infomec"]})
    run.times["total"] = time.perf_counter() - started
    result = _result_record(run, overlap, dci_early_used, read_out.cache)
    for name in NOT_DEFINED:   # asked for, but not a score of this model: absent (not 0), and why
        if name in names and name not in scores:
            gaussian_gap = name == "st_gap" and not restored.model.spec.discrete
            result[f"{name}_note"] = "not defined for Gaussian models" if gaussian_gap else NOT_DEFINED[name]
    if options.write:
        result["json"] = str(write_json_atomic(result_path(path), result))
    return result


# The largest code the metrics compute with: squared and summed over a million samples it is
# still finite in float32 (codes of a trained model are within a few units).
MAX_CODE = 1e15


def usable_codes(representation_function):
    """`representation_function` whose codes are checked: NaN, infinite or beyond MAX_CODE is
    NotFinite("representation") instead of a metric failing somewhere inside on them."""
    def represent(observations):
        codes = np.asarray(representation_function(observations))
        if codes.dtype.kind == "f" and codes.size:
            with np.errstate(invalid="ignore", over="ignore"):
                largest = float(np.abs(codes).max())
            if not largest <= MAX_CODE:      # NaN fails too
                raise NotFinite("representation", f"codes of magnitude {largest:g} (NaN, infinite or beyond "
                                                  f"{MAX_CODE:g}), which the metrics cannot use")
        return codes
    return represent


class _ReadOut:
    """What the metrics see: the jitted read-out (its codes checked, `usable_codes`), and for
    stored-image data sets the index cache (every stored image encoded at most once) with the
    settings it needs."""

    def __init__(self, restored: Restored, names, settings, use_cache: bool):
        data = restored.data
        represent = usable_codes(make_representation_function(restored.model, restored.params, restored.state))
        self.metric_names = [n for n in names if n in metrics_lib.METRIC_NAMES]
        self.metric_settings = {k: v for k, v in settings.items() if k in metrics_lib.METRIC_NAMES}
        self.plain_representation = represent   # observations in, codes out (no index cache)
        self.ground_truth, self.representation_function, self.cache = data, represent, None
        if use_cache and self.metric_names and supports_index_cache(data):
            self.cache = CachedRepresentation(data, represent)
            self.ground_truth, self.representation_function = IndexedData(data), self.cache
            self.metric_settings = index_settings(self.metric_settings, self.metric_names)


def _run_metrics(read_out: _ReadOut, run: _Evaluation, early_dci: bool, progress: bool, log) -> bool:
    """The metrics one at a time, in the paper's order, on one RandomState(seed), into
    `run.results`; DCI's result taken from its early run when that run's plan held. Returns
    whether it was."""
    names, settings, times = read_out.metric_names, read_out.metric_settings, run.times
    early, early_used = None, False
    random_state = np.random.RandomState(run.seed)
    try:
        if early_dci and read_out.cache is not None and "dci" in names:
            start = time.perf_counter()
            plan = plan_dci(
                read_out.ground_truth,
                random_state,
                [n for n in names if n != "dci"],
                settings,
                run.restored.config.num_latents,
            )
            early = EarlyDci(plan, read_out.representation_function, settings.get("dci")).start()
            times["dci_plan"] = time.perf_counter() - start
        for i, name in enumerate(names):
            try:
                early_result = early.result(random_state) if (name == "dci" and early is not None) else None
                if early_result is not None:
                    out = metrics_lib.flat_results("dci", early_result)
                    times["dci"] = early.seconds  # its own run, beside the metrics before it
                    early_used = True
                else:
                    out = metrics_lib.evaluate_all(
                        read_out.ground_truth,
                        read_out.representation_function,
                        random_state,
                        metrics=[name],
                        progress=progress,
                        settings=settings,
                    )
                    times[name] = out.pop(f"time_{name}")
            except NotFinite as error:
                # This metric's draws stopped part-way: the shared RandomState is no longer where
                # the protocol has it for any metric after this one.
                for skipped in names[i:]:
                    run.not_computed(skipped, str(error))
                log(f"  {name:<11s}not computed, nor {', '.join(names[i + 1:]) or 'anything after it'}: {error}")
                break
            run.results.update(out)
            log(
                f"  {name:<11s}"
                + "  ".join(f"{k} {_fmt(out[k])}" for k in RESULT_KEYS[name])
                + f"  ({times[name]:.1f} s)"
            )
    finally:
        if early is not None:
            early.join()
    return early_used


class _GapJob:
    """The straight-through gap, run now or in a thread beside the metrics."""

    def __init__(self, restored: Restored, seed, options: dict, progress: bool):
        self._arguments = (restored.model, restored.params, restored.state, restored.params_disc, restored.data)
        self._options = dict(options, seed=seed, progress=progress)
        self._thread: threading.Thread | None = None
        self.value = self.error = self.seconds = None

    def _run(self):
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

    def results(self, run: _Evaluation, log, overlapped: bool) -> dict:
        """The gap's result keys (computed now unless it ran in a thread); its error re-raised,
        except a non-finite loss, which leaves the gap not computed (`run.not_computed`)."""
        if self._thread is None:
            self._run()
        run.times["st_gap"] = self.seconds
        if isinstance(self.error, NotFinite):
            run.not_computed("st_gap", str(self.error))
            log(f"  {'st_gap':<11s}not computed: {self.error}")
            return {}
        if self.error is not None:
            raise self.error
        out = {k: self.value[k] for k in RESULT_KEYS["st_gap"]}
        log(
            f"  {'st_gap':<11s}"
            + "  ".join(f"{k} {_fmt(v)}" for k, v in out.items())
            + f"  ({self.seconds:.1f} s{', beside the metrics' if overlapped else ''})"
        )
        return out


def _fixed_images_results(run: _Evaluation, name: str, compute, log) -> dict:
    """A score on the fixed sample of training images (metrics/elbo.py: the negative ELBO;
    metrics/reconstruction.py: the reconstruction loss, QLAE's), with its sample size and the
    noise scale it used."""
    restored, times = run.restored, run.times
    start = time.perf_counter()
    value = compute(
        restored.model,
        restored.params,
        restored.state,
        restored.data,
        step=int(restored.payload.get("step", 0)),
        seed=run.seed,
        **run.settings.get(name, {}),
    )
    times[name] = time.perf_counter() - start
    # Non-finite (a posterior that overflows) is recorded as null, as in the JSON, and the
    # score as not computed (one quantity: not half of it).
    out = {k: plain_json(v) for k, v in value.items()}
    bad = [k for k in RESULT_KEYS[name] if out.get(k) is None]
    if bad:
        run.not_computed(name, f"{name}: non-finite {', '.join(bad)} "
                               f"({', '.join(f'{k} {value.get(k)}' for k in RESULT_KEYS[name])})")
        out.update({k: None for k in RESULT_KEYS[name]})
    log(f"  {name:<10s} " + "  ".join(f"{k} {_fmt(v)}" for k, v in out.items()) + f"  ({times[name]:.1f} s)")
    return out


def _infomec_results(run: _Evaluation, represent, write_record: bool, log) -> dict:
    """InfoMEC on its own sample (evaluation/codes_record.py; the metrics' RandomState is not
    touched), for a categorical latent also on its argmax codes (`*_argmax`); the sample's
    factors and codes kept as X.codes.npz beside the eval JSON."""
    restored, start = run.restored, time.perf_counter()
    latent = restored.model.spec.latent
    argmax = make_argmax_function(restored.model, restored.params, restored.state)
    num_points = run.settings.get("infomec", {}).get("num_points", INFOMEC_POINTS)
    factors, codes, argmax_codes = sample_codes(restored.data, represent, run.seed, argmax, num=num_points)
    out = infomec_results(factors, codes, latent.DISCRETE_READ_OUT)
    if argmax_codes is not None:
        out.update(infomec_results(factors, argmax_codes, True, suffix="_argmax"))
    if write_record:
        config = restored.config
        header = {"checkpoint": run.path.name, "model": config.model_name, "dataset": config.dataset,
                  "config": config.to_dict(), "factor_sizes": [int(s) for s in restored.data.factors_num_values],
                  "sample_seed": run.seed, "discrete": bool(latent.DISCRETE_READ_OUT)}
        out["codes_record"] = str(write_codes_record(codes_path(run.path), factors, codes, header, argmax_codes))
    run.times["infomec"] = time.perf_counter() - start
    shown = [k for k in out if k.startswith("info") and not k.startswith("infomec")]
    log(f"  {'infomec':<11s}" + "  ".join(f"{k} {_fmt(out[k])}" for k in shown) + f"  ({run.times['infomec']:.1f} s)")
    return out


def _result_record(run: _Evaluation, overlapped: bool, dci_early_used: bool, cache) -> dict:
    """The eval JSON's content (fields: docs/metrics.md, "The JSON")."""
    payload, config, data = run.restored.payload, run.restored.config, run.restored.data
    return {
        "format_version": RESULT_FORMAT,
        "checkpoint": str(run.path),
        "source": payload.get("source", "lddr"),  # "authors": written by the authors' run.py
        "dataset": config.dataset,
        "data": data.describe() if hasattr(data, "describe") else type(data).__name__,
        "model": config.model_name,
        "gamma": config.gamma,
        "seed": config.seed,
        "step": int(payload.get("step", -1)),
        "config": config.to_dict(),
        "eval_seed": run.seed,
        "protocol": run.protocol,
        "settings": run.settings,
        "metrics": run.names,
        "results": run.results,
        "times": run.times,
        **({"incomplete": [n for n in run.names if n in run.incomplete],
            "incomplete_why": dict(run.incomplete)} if run.incomplete else {}),
        "st_gap_overlapped": overlapped,
        "dci_early": dci_early_used,
        "index_cache": (
            {
                "used": True,
                "images_encoded": cache.num_encoded,
                "images_stored": cache.num_images,
                "encode_seconds": cache.encode_seconds,
            }
            if cache is not None
            else {"used": False}
        ),
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
    lines = [
        f"{printable(result['checkpoint'], None)}: {result['model']} on {result['dataset']}, gamma {result['gamma']}, "
        f"seed {result['seed']}, step {result['step']} (eval seed {result['eval_seed']}, "
        f"{result['protocol']} protocol)",
        f"  {'metric':<28s}{'value':>12s}{'time (s)':>10s}",
    ]
    for name in result["metrics"]:
        keys = RESULT_KEYS[name] + [f"{k}_argmax" for k in RESULT_KEYS[name] if f"{k}_argmax" in result["results"]]
        if f"{name}_note" in result and keys[0] not in result["results"]:
            lines.append(f"  {name:<28s}{'-':>12s}{'':>10s}  ({result[f'{name}_note']})")
            continue
        for i, key in enumerate(keys):
            seconds = result["times"].get(name)
            time_text = (f"{seconds:10.1f}" if seconds is not None else f"{'-':>10s}") if i == 0 else ""
            lines.append(f"  {key:<28s}{_fmt(result['results'][key]):>12s}{time_text}")
    cache = result["index_cache"]
    extra = (
        f"; index cache: {cache['images_encoded']} of {cache['images_stored']} stored images encoded "
        f"in {cache['encode_seconds']:.1f} s"
        if cache.get("used")
        else ""
    )
    lines.append(f"  {'total':<28s}{'':>12s}{result['times']['total']:10.1f}{extra}")
    return "\n".join(lines)
