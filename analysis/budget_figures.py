"""The figures of several training budgets: each score against the budget per setting
(`budget_<dataset>`), and the change of every verdict from the smaller budget to the larger
(`verdicts_<dataset>`), each written as PNG and PDF by analysis/figures.save_figure."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from analysis.budgets import CHANGES, question_label
from analysis.figures import save_figure
from analysis.pools import settings_of
from analysis.results import COLOURS, MODEL_NAMES, NAMES, score_names
from analysis.study import budget_key, budget_text

# One colour per change of verdict (keeps, loses, reverses, gains, stays undecided, too few runs).
CHANGE_COLOURS = dict(zip(CHANGES, ("tab:green", "tab:orange", "tab:red", "tab:blue", "lightgrey", "wheat")))
MARKERS = "osD^v<>"


def _setting_line(ax, rows, setting, budgets, offset, marker) -> None:
    """One setting on one score's panel: every run a point at its budget, the medians a line."""
    model, gamma = setting
    label = MODEL_NAMES[model] + ("" if gamma is None else f" γ={gamma:g}")
    xs, medians = [], []
    for i, budget in enumerate(budgets):
        values = [r["value"] for r in rows if r["budget"] == budget and (r["model"], r["gamma"]) == setting]
        if values:
            ax.scatter([i + offset] * len(values), values, s=12, color=COLOURS[model], marker=marker, alpha=0.7)
            xs.append(i + offset)
            medians.append(float(np.median(values)))
    ax.plot(xs, medians, color=COLOURS[model], marker=marker, label=label, linewidth=1.2)


def budget_panels(rows: list[dict]) -> tuple[dict, list]:
    """What `budget_<dataset>` shows of one data set's records: (scores {key: name}, settings
    [(model, gamma)]): the settings trained at more than one budget (a setting at one budget has
    no trend to show; the per-budget figures have it), and the scores those settings' runs have
    at more than one budget (InfoMEC only where both budgets recorded it)."""
    budgets_of = {}
    for r in rows:
        budgets_of.setdefault((r["model"], r["gamma"]), set()).add(r["budget"])
    settings = [s for s in settings_of(rows) if len(budgets_of[s]) > 1]
    chosen = [r for r in rows if (r["model"], r["gamma"]) in settings]
    scores = {key: name for key, name in score_names(chosen).items()
              if len({r["budget"] for r in chosen if r["values"].get(key) is not None}) > 1}
    return scores, settings


def plot_budget(records: list[dict], out_dir) -> list[Path]:
    """`budget_<dataset>`: one panel per score (three a row), each setting (model, gamma) a line
    through its medians at each budget with every run a point; budgets at equal spacing. Only
    the settings and scores `budget_panels` picks; no figure for a data set without them."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    for dataset in sorted({r["dataset"] for r in records}):
        rows = [r for r in records if r["dataset"] == dataset]
        scores, settings = budget_panels(rows)
        if not (scores and settings):
            continue
        budgets = sorted({r["budget"] for r in rows if (r["model"], r["gamma"]) in settings}, key=budget_key)
        offsets = np.linspace(-0.2, 0.2, len(settings)) if len(settings) > 1 else [0.0]
        columns = min(3, len(scores))
        lines = -(-len(scores) // columns)
        fig, axes = plt.subplots(lines, columns, figsize=(3.4 * columns, 3.0 * lines), squeeze=False)
        for ax, (key, title) in zip(axes.flat, scores.items()):
            points = [{**r, "value": r["values"][key]} for r in rows if r["values"].get(key) is not None]
            for setting, offset, marker in zip(settings, offsets, MARKERS * len(settings)):
                _setting_line(ax, points, setting, budgets, offset, marker)
            ax.set_xticks(range(len(budgets)), [budget_text(b).replace(" steps", "") for b in budgets], fontsize=7)
            ax.set_xlabel("training steps", fontsize=8)
            ax.set_title(title, fontsize=9)
        for ax in list(axes.flat)[len(scores):]:
            ax.set_visible(False)
        axes[0][0].legend(fontsize=6)
        fig.suptitle(f"{dataset}: each score against the training budget (median line, every run)", fontsize=10)
        fig.tight_layout()
        written += save_figure(fig, Path(out_dir) / f"budget_{dataset}")
    return written


def _row_label(v: dict, several: bool) -> str:
    """A grid row: the comparison, and its pair of budgets when there are more than two budgets."""
    return question_label(v) + (f" ({v['budget_small']:,}→{v['budget_large']:,})" if several else "")


def plot_verdicts(rows: list[dict], out_dir) -> list[Path]:
    """`verdicts_<dataset>`: a grid of comparisons (rows; with the pair of budgets when there
    are more than two) by scores (columns), each cell coloured by the change of its verdict from
    the smaller budget to the larger, '±' where the sign of the difference of medians flipped."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    written = []
    for dataset in sorted({v["dataset"] for v in rows}):
        chosen = [v for v in rows if v["dataset"] == dataset]
        several = len({(v["budget_small"], v["budget_large"]) for v in chosen}) > 1
        row_labels = [_row_label(v, several) for v in chosen]
        labels = list(dict.fromkeys(row_labels))
        metrics = list(dict.fromkeys(v["metric"] for v in chosen))
        grid = np.full((len(labels), len(metrics)), np.nan)
        fig, ax = plt.subplots(figsize=(1.0 + 0.9 * len(metrics), 1.2 + 0.35 * len(labels)))
        for v, label in zip(chosen, row_labels):
            i, j = labels.index(label), metrics.index(v["metric"])
            grid[i, j] = CHANGES.index(v["change"])
            if v["sign_flipped"]:
                ax.text(j, i, "±", ha="center", va="center", fontsize=8)
        ax.imshow(np.ma.masked_invalid(grid), cmap=ListedColormap([CHANGE_COLOURS[c] for c in CHANGES]), vmin=-0.5,
                  vmax=len(CHANGES) - 0.5, aspect="auto")
        ax.set_xticks(range(len(metrics)), [NAMES[m] for m in metrics], rotation=40, ha="right", fontsize=7)
        ax.set_yticks(range(len(labels)), labels, fontsize=7)
        ax.legend(handles=[Patch(color=CHANGE_COLOURS[c], label=c) for c in CHANGES], fontsize=6,
                  loc="upper left", bbox_to_anchor=(1.01, 1.0))
        ax.set_title(f"{dataset}: verdicts, smaller → larger budget (±: sign of the difference flipped)", fontsize=8)
        fig.tight_layout()
        written += save_figure(fig, Path(out_dir) / f"verdicts_{dataset}")
    return written
