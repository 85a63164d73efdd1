"""Training curves of a results folder, from the runs' `{run}.log.jsonl` (training/run_log.py):
per data set, each logged quantity against the step, per model the median over seeds and the
25-75 % band. A step counts the runs that reached it, so a run still in progress widens nothing
it has not logged yet."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from analysis.figures import save_figure
from analysis.results import COLOURS, GUMBEL, MODEL_NAMES
from models.registry import with_flags
from training.run_log import read_log

# `{dataset}{_gauss}{_qlae}{_factor<gamma>}_seed<seed>.log.jsonl` (configs.Config.run_name).
_NAME = re.compile(
    r"^(?P<dataset>.+?)(?P<gauss>_gauss)?(?P<qlae>_qlae)?(?:_factor(?P<gamma>[0-9.]+))?_seed(?P<seed>-?\d+)\.log\.jsonl$"
)
PANELS = [
    ("train", "recon", "reconstruction (nats)"),
    ("train", "kl", "KL (nats)"),
    ("train", "elbo", "ELBO loss"),
    ("train", "tc", "TC estimate"),
    ("train", "disc_loss", "discriminator loss"),
    ("train", "noise_scale", "Gumbel noise scale"),
    ("train", "bce", "cross-entropy per pixel (QLAE)"),
    ("train", "quantization", "quantization loss (QLAE)"),
    ("train", "commitment", "commitment loss (QLAE)"),
    ("eval", "mig", "training MIG"),
]


def parse_run_name(path: Path) -> dict | None:
    """{dataset, model, gamma, seed} from a log file's name, or None when it is not one."""
    match = _NAME.match(path.name)
    if match is None:
        return None
    tc = match["gamma"] is not None
    return {
        "dataset": match["dataset"],
        "model": with_flags(gaussian=match["gauss"] is not None, tc=tc, quantized=match["qlae"] is not None).name,
        "gamma": float(match["gamma"]) if tc else None,
        "seed": int(match["seed"]),
    }


def gather_logs(results_dir) -> list[dict]:
    """Every run log under `results_dir`: [{dataset, model, gamma, seed, path, records}]."""
    runs = []
    for path in sorted(Path(results_dir).rglob("*.log.jsonl")):
        run = parse_run_name(path)
        if run is not None:
            runs.append({**run, "path": str(path), "records": read_log(path)})
    return runs


def band(runs: list[dict], kind: str, key: str) -> tuple[np.ndarray, np.ndarray]:
    """(steps [T], percentiles [3, T]: 25th, median, 75th over the runs that logged each step)."""
    by_step: dict[int, list[float]] = {}
    for run in runs:
        for record in run["records"]:
            if record.get("kind") == kind and key in record:
                by_step.setdefault(int(record["step"]), []).append(float(record[key]))
    steps = np.array(sorted(by_step), dtype=int)
    if steps.size == 0:
        return steps, np.zeros((3, 0))
    return steps, np.array([np.percentile(by_step[s], [25, 50, 75]) for s in steps]).T


def shown(model: str, key: str) -> bool:
    """Models without Gumbel noise (Gaussian, QLAE) log a noise scale of 0: not a curve to show."""
    return key != "noise_scale" or model in GUMBEL


def panels_of(groups: dict) -> list[tuple[str, str, str]]:
    """The PANELS that at least one model of `groups` ({(model, label): runs}) has data for."""
    return [
        p
        for p in PANELS
        if any(shown(model, p[1]) and band(runs, p[0], p[1])[0].size for (model, _), runs in groups.items())
    ]


def plot_curves(results_dir, out_dir, suffix: str = "", heading: str = "", only=None) -> list[Path]:
    """`curves_<dataset><suffix>` of the run logs under `results_dir` (a folder or a list of
    them); `only`: the log paths to keep (one training budget's runs among several), `heading`
    ends the title."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folders = [results_dir] if isinstance(results_dir, (str, Path)) else list(results_dir)
    runs = [r for folder in folders for r in gather_logs(folder) if only is None or Path(r["path"]) in only]
    out_dir = Path(out_dir)
    written = []
    for dataset in sorted({r["dataset"] for r in runs}):
        groups = {}
        for run in (r for r in runs if r["dataset"] == dataset):
            label = MODEL_NAMES[run["model"]] + (f" γ={run['gamma']:g}" if run["gamma"] is not None else "")
            groups.setdefault((run["model"], label), []).append(run)
        panels = panels_of(groups)
        fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.0), squeeze=False)
        for ax, (kind, key, title) in zip(axes[0], panels):
            for (model, label), group in sorted(groups.items()):
                if not shown(model, key):
                    continue
                steps, (p25, median, p75) = band(group, kind, key)
                if steps.size:
                    ax.plot(
                        steps,
                        median,
                        color=COLOURS[model],
                        label=f"{label} (n={len(group)})",
                        marker="o" if kind == "eval" else None,
                        markersize=3,
                    )
                    ax.fill_between(steps, p25, p75, color=COLOURS[model], alpha=0.25, linewidth=0)
            if key in ("recon", "elbo", "kl", "bce"):
                ax.set_yscale("log")
            ax.set_title(title, fontsize=9)
            ax.set_xlabel("step", fontsize=8)
            ax.tick_params(labelsize=7)
        axes[0][0].legend(fontsize=7)
        fig.suptitle(f"{dataset}: training curves, median and 25–75 % over seeds{heading}", fontsize=10)
        fig.tight_layout()
        written += save_figure(fig, out_dir / f"curves_{dataset}{suffix}")
    return written
