"""A study's figures: box plots per metric (every run a dot), the effect of gamma and the
gap against each metric, each written as PNG and PDF by `save_figure`."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from analysis.pools import LATENTS, by_gamma
from analysis.report import number_text
from analysis.results import COLOURS, GUMBEL, MODEL_NAMES, score_names
from analysis.statistics import spearman, summarize
from analysis.tables import gamma_effect


def save_figure(fig, stem: Path, dpi: int = 100) -> list[Path]:
    """Write `fig` as stem.png and stem.pdf (stem may hold dots, e.g. `_factor30.0`), close it."""
    import matplotlib.pyplot as plt
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_name(stem.name + ".png"), stem.with_name(stem.name + ".pdf")]
    for path in paths:
        # No creation date in the PDF, so that regenerating unchanged figures changes no file.
        fig.savefig(path, dpi=dpi, metadata={"CreationDate": None} if path.suffix == ".pdf" else None)
    plt.close(fig)
    return paths


def distributions(rows: list[dict], metric: str) -> list[tuple[str, list[float]]]:
    """[(model, values over its runs)] of one data set's rows, models in MODEL_NAMES order,
    those without a value for `metric` left out."""
    out = []
    for model in MODEL_NAMES:
        values = [r["values"][metric] for r in rows if r["model"] == model and r["values"].get(metric) is not None]
        if values:
            out.append((model, values))
    return out


def _boxes(ax, groups, points: bool = False) -> None:
    """One box per model; with `points`, every run as a dot on its box (no run hidden)."""
    if not groups:
        return
    box = ax.boxplot([values for _, values in groups], patch_artist=True, showfliers=not points)
    ax.set_xticks(range(1, len(groups) + 1), [MODEL_NAMES[m] for m, _ in groups], rotation=30)
    for position, (patch, (model, values)) in enumerate(zip(box["boxes"], groups), start=1):
        patch.set_facecolor(COLOURS[model])
        patch.set_alpha(0.6)
        if points:  # a fixed spread, so the figure is the same on every run of the script
            offsets = np.linspace(-0.12, 0.12, len(values)) if len(values) > 1 else [0.0]
            ax.scatter(position + np.asarray(offsets), values, s=16, color="black", zorder=3)


def plot(records: list[dict], out_dir, suffix: str = "", heading: str = "") -> list[Path]:
    """Per data set: box plots of every metric in one figure (`boxplots_<dataset>`), one figure
    per metric with every run's value (`metric_<dataset>_<metric>`), and gap-vs-metric scatters.
    `suffix` ends every file name and `heading` every title (one training budget's figures
    among several: `_30000steps`, ` (30,000 steps)`); both empty for a single budget."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for dataset in sorted({r["dataset"] for r in records}):
        rows = [r for r in records if r["dataset"] == dataset]
        scores = score_names(rows)      # the six metrics, and InfoMEC where recorded
        fig, axes = plt.subplots(1, len(scores), figsize=(3.0 * len(scores), 3.2), squeeze=False)
        for ax, metric in zip(axes[0], scores):
            _boxes(ax, distributions(rows, metric))
            ax.set_title(scores[metric], fontsize=9)
        fig.suptitle(f"{dataset}: metrics across seeds (TC models: all γ){heading}", fontsize=10)
        fig.tight_layout()
        written += save_figure(fig, out_dir / f"boxplots_{dataset}{suffix}")

        for metric, title in scores.items():
            groups = distributions(rows, metric)
            if not groups:
                continue
            fig, ax = plt.subplots(figsize=(3.6, 3.4))
            _boxes(ax, groups, points=True)
            runs = ", ".join(f"{MODEL_NAMES[m]} n={len(v)}" for m, v in groups)
            ax.set_title(f"{dataset}: {title}{heading}\n({runs})", fontsize=9)
            fig.tight_layout()
            written += save_figure(fig, out_dir / f"metric_{dataset}_{metric}{suffix}")

        written += plot_gamma(rows, dataset, out_dir, suffix, heading)
        discrete = [r for r in rows if r["model"] in GUMBEL and r["values"].get("st_gap") is not None]
        if discrete:
            fig, axes = plt.subplots(1, len(scores), figsize=(3.0 * len(scores), 3.2), squeeze=False)
            for ax, metric in zip(axes[0], scores):
                for m in GUMBEL:
                    pts = [(r["values"]["st_gap"], r["values"][metric]) for r in discrete
                           if r["model"] == m and r["values"].get(metric) is not None]
                    if pts:
                        ax.scatter(*zip(*pts), s=18, color=COLOURS[m], label=MODEL_NAMES[m], alpha=0.8)
                pts = [
                    (r["values"]["st_gap"], r["values"][metric])
                    for r in discrete
                    if r["values"].get(metric) is not None
                ]
                rho = spearman(*zip(*pts))[0] if len(pts) > 1 else float("nan")
                ax.set_title(f"{scores[metric]} (ρ={number_text(rho)})", fontsize=9)
                ax.set_xlabel("straight-through gap", fontsize=8)
            axes[0][0].legend(fontsize=7)
            fig.suptitle(f"{dataset}: straight-through gap vs metric (discrete models){heading}", fontsize=10)
            fig.tight_layout()
            written += save_figure(fig, out_dir / f"gap_{dataset}{suffix}")
    return written


def plot_gamma(rows: list[dict], dataset: str, out_dir: Path, suffix: str = "", heading: str = "") -> list[Path]:
    """`gamma_<dataset>`: each metric against gamma (0 = without TC) for both latent types:
    median line, 25–75 % band, every run a dot. Gammas sit at equal spacing (0, 10, 30, 100)."""
    import matplotlib.pyplot as plt

    effects = [e for e in gamma_effect(rows) if e["dataset"] == dataset]
    if not effects:
        return []
    gammas = sorted({g for e in effects for g in e["cells"]})
    scores = score_names(rows)
    fig, axes = plt.subplots(1, len(scores), figsize=(3.0 * len(scores), 3.2), squeeze=False)
    for ax, metric in zip(axes[0], scores):
        for offset, (latent, models) in zip((-0.08, 0.08), LATENTS):
            colour = COLOURS[models[1]]
            groups = by_gamma([r for r in rows if r["model"] in models])
            xs = [gammas.index(g) + offset for g in groups]
            summaries = [summarize(r["values"].get(metric) for r in rs) for rs in groups.values()]
            kept = [(x, s) for x, s in zip(xs, summaries) if s]
            if not kept:
                continue
            ax.plot([x for x, _ in kept], [s["median"] for _, s in kept], color=colour, label=latent)
            ax.fill_between(
                [x for x, _ in kept], [s["p25"] for _, s in kept], [s["p75"] for _, s in kept], color=colour, alpha=0.2
            )
            for x, rs in zip(xs, groups.values()):
                values = [r["values"][metric] for r in rs if r["values"].get(metric) is not None]
                ax.scatter([x] * len(values), values, s=10, color=colour, zorder=3)
        ax.set_xticks(range(len(gammas)), [f"{g:g}" for g in gammas])
        ax.set_xlabel("γ (0: no TC)", fontsize=8)
        ax.set_title(scores[metric], fontsize=9)
    axes[0][0].legend(fontsize=7)
    fig.suptitle(f"{dataset}: the effect of γ (median, 25–75 %, every run){heading}", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, out_dir / f"gamma_{dataset}{suffix}")
