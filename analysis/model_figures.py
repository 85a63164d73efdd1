"""Figures of one checkpoint (the library behind scripts/visualize.py), written as PNG and PDF
(matplotlib, Agg):
- {run}_traversals: one row per latent. D-VAE: the decoder input z_n is set to the codebook
  value c_k of selected categories k (evenly spaced over the K ordered categories); QLAE: to
  latent n's own learned codebook values, in increasing order; VAE: standard-normal quantiles.
  The other latents stay at the read-out of a reference image.
- {run}_reconstructions: inputs (top) above sigmoid(decoder(read-out)) (bottom).
- {run}_scatter: two latents of the read-out of sampled images, coloured by a ground-truth
  factor (the paper's Figure 1 idea on real data); with a second model, its panel is drawn
  next to it (e.g. D-VAE next to VAE) on the same images.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from analysis.figures import save_figure as save
from checkpoints.restore import load_model
from models.networks import Decoder
from models.registry import spec_for

# Names of the latent factors of the dSprites-layout data sets (others: "factor i").
FACTOR_NAMES = {
    "dsprites": ["shape", "scale", "orientation", "position x", "position y"],
    "shapes3d": ["floor hue", "wall hue", "object hue", "scale", "shape", "orientation"],
    "smallnorb": ["category", "elevation", "azimuth", "lighting"],
    "cars3d": ["elevation", "azimuth", "object"],
    "mpi3d": ["colour", "shape", "size", "camera height", "background", "DOF 1", "DOF 2"],
    "isaac3d": ["object shape", "robot x", "robot y", "camera height", "object scale",
                "lighting intensity", "lighting y-dir", "object colour", "wall colour"],
    "falcor3d": ["lighting intensity", "lighting x-dir", "lighting y-dir", "lighting z-dir",
                 "camera x", "camera y", "camera z"],
}


def factor_names(dataset: str, num: int) -> list[str]:
    for key, names in FACTOR_NAMES.items():
        if key in dataset and len(names) == num:
            return names
    return [f"factor {i}" for i in range(num)]


class Loaded:
    """A checkpoint's model with numpy-facing encode/decode functions."""

    def __init__(self, path, data=None):
        import haiku as hk
        import jax


        self.path = Path(path)
        payload, self.config, self.data, self.model, self.params, self.state, _ = load_model(path, data)
        self.channels = self.data.observation_shape[-1]
        self.name = self.config.run_name
        self.spec = spec_for(self.config)
        self.label = self.spec.display_name + (f" γ={self.config.gamma:g}" if self.spec.discriminator else "")
        self._encode = jax.jit(lambda x: self.model.encode.apply(self.params, self.state, x)[0])
        decoder = hk.without_apply_rng(hk.transform(
            lambda z: Decoder(self.channels, self.config.hidden_size)(z)))
        dec_params = {k: v for k, v in self.params.items() if k.startswith("dec_")}
        self._decode = jax.jit(lambda z: jax.nn.sigmoid(decoder.apply(dec_params, z)))

    def encode(self, images) -> np.ndarray:
        return np.asarray(self._encode(np.asarray(images, np.float32)))

    def decode(self, z) -> np.ndarray:
        return np.asarray(self._decode(np.asarray(z, np.float32)))

    def traversal_values(self, steps: int) -> tuple[np.ndarray, list[str]]:
        """[N, steps] decoder inputs per latent and the column labels (the latent's own grid)."""
        return self.spec.latent.traversal(self.params, self.config, steps)


def _grid(images: np.ndarray) -> np.ndarray:
    """[rows, cols, H, W, C] -> one [rows*H, cols*W, C] image with 1-pixel white separators."""
    rows, cols, h, w, c = images.shape
    canvas = np.ones((rows * (h + 1) - 1, cols * (w + 1) - 1, c), np.float32)
    for i in range(rows):
        for j in range(cols):
            canvas[i * (h + 1):i * (h + 1) + h, j * (w + 1):j * (w + 1) + w] = images[i, j]
    return canvas


def _show(ax, canvas):
    ax.imshow(canvas[..., 0] if canvas.shape[-1] == 1 else np.clip(canvas, 0, 1),
              cmap="gray" if canvas.shape[-1] == 1 else None, vmin=0, vmax=1, interpolation="nearest")


def traversals(loaded: Loaded, reference: np.ndarray, steps: int = 10):
    """(figure, grid [N, steps, H, W, C]) of latent traversals around `reference`'s read-out."""
    import matplotlib.pyplot as plt

    base = loaded.encode(reference[None])[0]                                    # [N]
    values, labels = loaded.traversal_values(steps)
    n = loaded.config.num_latents
    z = np.tile(base, (n, steps, 1))                                            # [N, steps, N]
    for i in range(n):
        z[i, :, i] = values[i]
    images = loaded.decode(z.reshape(n * steps, n)).reshape(n, steps, *reference.shape)
    fig, ax = plt.subplots(figsize=(0.75 * steps + 1.2, 0.75 * n + 0.8))
    _show(ax, _grid(images))
    h = reference.shape[0] + 1
    ax.set_yticks([i * h + h / 2 for i in range(n)], [f"z{i} ({base[i]:+.2f})" for i in range(n)], fontsize=7)
    ax.set_xticks([j * h + h / 2 for j in range(steps)], labels, fontsize=6, rotation=45)
    what = loaded.spec.latent.TRAVERSAL
    ax.set_title(f"{loaded.label} {loaded.config.dataset} seed {loaded.config.seed}: traversals over {what}\n"
                 f"(row label: the reference image's read-out)", fontsize=8)
    fig.tight_layout()
    return fig, images


def reconstructions(loaded: Loaded, images: np.ndarray):
    import matplotlib.pyplot as plt

    recon = loaded.decode(loaded.encode(images))
    grid = np.stack([images, recon])                                            # [2, n, H, W, C]
    fig, ax = plt.subplots(figsize=(0.8 * len(images) + 0.6, 2.2))
    _show(ax, _grid(grid))
    h = images.shape[1] + 1
    ax.set_yticks([h / 2, h + h / 2], ["input", "recon"], fontsize=8)
    ax.set_xticks([])
    ax.set_title(f"{loaded.label} {loaded.config.dataset} seed {loaded.config.seed}: "
                 f"sigmoid(decoder(read-out))", fontsize=8)
    fig.tight_layout()
    return fig, grid


def pick_latents(representation: np.ndarray) -> tuple[int, int]:
    """The two latents whose read-out varies most over the sample."""
    order = np.argsort(-representation.var(axis=0), kind="stable")
    return int(order[0]), int(order[1])


def pick_factor(representation: np.ndarray, factors: np.ndarray, latent: int) -> int:
    """The factor with the largest |Spearman correlation| with `latent` (ties: the first)."""
    from scipy.stats import spearmanr
    scores = []
    for f in range(factors.shape[1]):
        if np.all(factors[:, f] == factors[0, f]) or np.all(representation[:, latent] == representation[0, latent]):
            scores.append(0.0)
        else:
            scores.append(abs(float(spearmanr(representation[:, latent], factors[:, f])[0])))
    return int(np.argmax(scores))


def scatter(models: list[Loaded], factors: np.ndarray, observations: np.ndarray, latents=None, factor=None):
    """Side-by-side scatters of two latents per model, coloured by one factor."""
    import matplotlib.pyplot as plt

    reps = [m.encode(observations) for m in models]
    chosen = [tuple(latents) if latents else pick_latents(r) for r in reps]
    if factor is None:
        factor = pick_factor(reps[0], factors, chosen[0][0])
    names = factor_names(models[0].config.dataset, factors.shape[1])
    fig, axes = plt.subplots(1, len(models), figsize=(4.2 * len(models), 4.0), squeeze=False)
    for ax, model, rep, (i, j) in zip(axes[0], models, reps, chosen):
        points = ax.scatter(rep[:, i], rep[:, j], c=factors[:, factor], s=4, cmap="viridis", alpha=0.7)
        ax.set_xlabel(f"z{i}")
        ax.set_ylabel(f"z{j}")
        ax.set_title(f"{model.label} (seed {model.config.seed})", fontsize=9)
        if model.spec.discrete:  # the read-out lies within each latent's codebook values
            ends = model.traversal_values(2)[0]                     # [N, 2]: smallest, largest
            for set_limits, latent in ((ax.set_xlim, i), (ax.set_ylim, j)):
                low, high = ends[latent]
                set_limits(low - 0.025 * (high - low), high + 0.025 * (high - low))
    fig.colorbar(points, ax=axes[0].tolist(), label=names[factor])
    fig.suptitle(f"{models[0].config.dataset}: read-out of {len(observations)} images, coloured by {names[factor]}",
                 fontsize=9)
    return fig, {"latents": chosen, "factor": factor, "factor_name": names[factor]}


def visualize(save_file, out=None, compare=None, data=None, steps=10, num_images=8, num_points=2000,
              latents=None, factor=None, reference=0, seed=0) -> list[Path]:
    """Write the three figures of `save_file` (PNG and PDF); returns the paths."""
    import matplotlib
    matplotlib.use("Agg")

    loaded = Loaded(save_file, data)
    out = Path(out) if out else loaded.path.parent / "figures"
    rs = np.random.RandomState(seed)
    factors, observations = loaded.data.sample(max(num_points, num_images, reference + 1), rs)
    observations = np.asarray(observations, np.float32)
    written = []
    fig, _ = traversals(loaded, observations[reference], steps)
    written += save(fig, out / f"{loaded.name}_traversals")
    fig, _ = reconstructions(loaded, observations[:num_images])
    written += save(fig, out / f"{loaded.name}_reconstructions")
    models = [loaded]
    if compare:
        other = Loaded(compare, loaded.data if data is not None else None)
        if other.config.dataset != loaded.config.dataset:
            raise ValueError(f"--compare {compare} is on {other.config.dataset}, not {loaded.config.dataset}")
        models.append(other)
    fig, _ = scatter(models, np.asarray(factors), observations[:num_points], latents, factor)
    suffix = f"_vs_{models[1].name}" if compare else ""
    written += save(fig, out / f"{loaded.name}{suffix}_scatter")
    return written
