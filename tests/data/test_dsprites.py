"""dSprites loaders on a small npz written in the real format (pickled metadata dict)."""
import json

import numpy as np
import pytest
from PIL import Image

from data import get_dataset
from data.base import DataError
from data.dsprites import DSPRITES_FILE, SCREAM_FILE, _thumbnail_like_pillow6
from tests import REFERENCE_DIR
from tests.reference import pillow_6_thumbnail_reference as thumb_ref

SIZES = [1, 3, 2, 4, 2, 2]          # colour, shape, scale, orientation, x, y
N = int(np.prod(SIZES))


def write_dsprites(data_root, imgs=None, metadata="default", **extra):
    """The real layout: imgs uint8 [n, 64, 64] of 0/1, latents_*, metadata (a pickled dict)."""
    rng = np.random.RandomState(0)
    if imgs is None:
        imgs = (rng.rand(N, 64, 64) < 0.3).astype(np.uint8)
    grid = np.stack(np.meshgrid(*[np.arange(s) for s in SIZES], indexing="ij"), -1).reshape(-1, 6)
    if metadata == "default":
        metadata = {"latents_sizes": np.array(SIZES), "title": "dSprites"}
    arrays = dict(imgs=imgs, latents_classes=grid, latents_values=grid.astype(float), **extra)
    if metadata is not None:
        arrays["metadata"] = np.array(metadata, dtype=object)
    path = data_root / DSPRITES_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **arrays)
    return imgs


def write_scream(data_root, size=(300, 400)):
    """A JPEG (portrait, like the real Scream) of a smooth colour gradient."""
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    rgb = np.stack([xx * 255 // w, yy * 255 // h, (xx + yy) * 255 // (w + h)], -1)
    path = data_root / SCREAM_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb.astype(np.uint8)).save(path, quality=95)


def replay(seed, n, latent, nuisance_sizes):
    """What disentanglement_lib draws: latent factors, then nuisance factors, in order."""
    rs = np.random.RandomState(seed)
    factors = np.stack([rs.randint(SIZES[i], size=n) for i in latent], 1)
    all_factors = np.zeros((n, 6), np.int64)
    all_factors[:, latent] = factors
    for i in [i for i in range(6) if i not in latent]:
        all_factors[:, i] = rs.randint(SIZES[i], size=n)
    return rs, factors, all_factors


def test_dsprites_full_factors_and_mapping(data_root, c_index):
    imgs = write_dsprites(data_root)
    ds = get_dataset("dsprites_full")
    assert ds.num_factors == 5 and ds.factors_num_values == [3, 2, 4, 2, 2]
    assert ds.observation_shape == [64, 64, 1]
    assert ds.images.dtype == np.uint8
    factors, obs = ds.sample(50, np.random.RandomState(7))
    _, want_factors, all_factors = replay(7, 50, [1, 2, 3, 4, 5], SIZES)
    np.testing.assert_array_equal(factors, want_factors)
    assert obs.dtype == np.float32 and obs.shape == (50, 64, 64, 1)
    np.testing.assert_array_equal(obs[..., 0], imgs[c_index(all_factors, SIZES)])


def test_dsprites_noshape_draws_shape_as_nuisance(data_root, c_index):
    imgs = write_dsprites(data_root)
    ds = get_dataset("dsprites_noshape")
    assert ds.factors_num_values == [2, 4, 2, 2]
    rs = np.random.RandomState(3)
    factors, obs = ds.sample(40, rs)
    rs2, want_factors, all_factors = replay(3, 40, [2, 3, 4, 5], SIZES)
    np.testing.assert_array_equal(factors, want_factors)
    np.testing.assert_array_equal(obs[..., 0], imgs[c_index(all_factors, SIZES)])
    assert rs.randint(1 << 30) == rs2.randint(1 << 30)   # same number of draws


def test_color_dsprites_replay(data_root, c_index):
    imgs = write_dsprites(data_root)
    ds = get_dataset("color_dsprites")
    assert ds.observation_shape == [64, 64, 3]
    rs = np.random.RandomState(11)
    obs = ds.sample_observations(30, rs)
    rs2, _, all_factors = replay(11, 30, [1, 2, 3, 4, 5], SIZES)
    colors = rs2.uniform(0.5, 1, [30, 1, 1, 3])
    want = imgs[c_index(all_factors, SIZES)][..., None].astype(np.float64) * colors
    assert obs.shape == (30, 64, 64, 3) and obs.dtype == np.float32
    np.testing.assert_array_equal(obs, want.astype(np.float32))
    assert rs.rand() == rs2.rand()
    lit = obs[np.repeat(imgs[c_index(all_factors, SIZES)][..., None], 3, 3) == 1]
    assert lit.min() >= 0.5 and lit.max() <= 1.0


def test_noisy_dsprites_replay(data_root, c_index):
    imgs = write_dsprites(data_root)
    ds = get_dataset("noisy_dsprites")
    rs = np.random.RandomState(5)
    obs = ds.sample_observations(20, rs)
    rs2, _, all_factors = replay(5, 20, [1, 2, 3, 4, 5], SIZES)
    noise = rs2.uniform(0, 1, [20, 64, 64, 3])
    want = np.minimum(imgs[c_index(all_factors, SIZES)][..., None] + noise, 1.0)
    np.testing.assert_array_equal(obs, want.astype(np.float32))
    assert rs.rand() == rs2.rand()


def test_scream_background_size_and_replay(data_root, c_index):
    imgs = write_dsprites(data_root)
    write_scream(data_root, size=(300, 400))
    ds = get_dataset("scream_dsprites")
    # Portrait 300x400 shrunk to fit 350x274: width int(300 * 274 / 400) = 205, height 274.
    assert ds.scream.shape == (274, 205, 3)
    assert 0.0 <= ds.scream.min() and ds.scream.max() <= 1.0
    rs = np.random.RandomState(9)
    obs = ds.sample_observations(12, rs)
    rs2, _, all_factors = replay(9, 12, [1, 2, 3, 4, 5], SIZES)
    sprites = imgs[c_index(all_factors, SIZES)]
    for i in range(12):   # per sample: row offset, column offset, colour shift
        r = rs2.randint(0, 274 - 64)
        c = rs2.randint(0, 205 - 64)
        background = (ds.scream[r:r + 64, c:c + 64] + rs2.uniform(0, 1, size=3)) / 2
        want = np.where(sprites[i][..., None] == 1, 1 - background, background)
        np.testing.assert_array_equal(obs[i], want.astype(np.float32))
    assert rs.rand() == rs2.rand()


def test_scream_thumbnail_is_pillow_6s():
    """`_thumbnail_like_pillow6` equals Pillow 6.2.2's own `thumbnail` bit for bit (numbers
    from tests/reference/pillow_6_thumbnail_reference.py, run with Pillow 6.2.2), on lossless
    inputs whose shrinking is a real bicubic resize."""
    expected = json.loads((REFERENCE_DIR / "pillow_6_thumbnail.json").read_text())
    assert expected["versions"]["pillow"] == "6.2.2"
    assert len(expected["cases"]) == len(thumb_ref.CASES)
    for case in expected["cases"]:
        width, height = case["size"]
        image = Image.fromarray(thumb_ref.make_image(width, height))
        result = np.asarray(_thumbnail_like_pillow6(image, tuple(case["box"])))
        want = np.array(case["result"], np.uint8)
        assert result.shape == want.shape and result.shape[:2] != (height, width)
        np.testing.assert_array_equal(result, want)


@pytest.mark.parametrize("name", ["dsprites_full", "color_dsprites", "noisy_dsprites",
                                  "scream_dsprites"])
def test_samples_depend_only_on_the_random_state(data_root, name):
    """Nothing is drawn from numpy's global RNG: equal RandomStates give equal samples even
    when the global RNG differs between the two runs."""
    write_dsprites(data_root)
    write_scream(data_root)
    ds = get_dataset(name)
    np.random.seed(1)
    a = ds.sample(16, np.random.RandomState(123))
    np.random.seed(2)
    b = ds.sample(16, np.random.RandomState(123))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def test_to_observations_color_and_noise(data_root):
    import jax
    write_dsprites(data_root)
    pixels = np.zeros((256, 64, 64, 1), np.uint8)
    pixels[:, 10:30, 20:40] = 1
    on = np.broadcast_to(pixels == 1, (256, 64, 64, 3))

    color = np.asarray(get_dataset("color_dsprites").to_observations(
        jax.random.PRNGKey(0), pixels))
    assert color.shape == (256, 64, 64, 3) and color.dtype == np.float32
    assert np.all(color[~on] == 0)
    lit = color[:, 15, 25]           # one lit pixel per sample: its RGB colour
    assert lit.min() >= 0.5 and lit.max() <= 1.0
    assert abs(lit.mean() - 0.75) < 0.02 and abs(lit.std() - 0.5 / np.sqrt(12)) < 0.02
    np.testing.assert_array_equal(color[:, 10:30, 20:40], np.broadcast_to(
        lit[:, None, None], (256, 20, 20, 3)))   # one colour per image

    noisy = np.asarray(get_dataset("noisy_dsprites").to_observations(
        jax.random.PRNGKey(1), pixels))
    assert np.all(noisy[on] == 1.0)
    off = noisy[~on]
    assert off.min() >= 0 and off.max() < 1
    assert abs(off.mean() - 0.5) < 0.01 and abs(off.var() - 1 / 12) < 0.01


def test_to_observations_scream(data_root):
    import jax
    write_dsprites(data_root)
    write_scream(data_root, size=(120, 100))   # small background: every crop can be searched
    ds = get_dataset("scream_dsprites")
    h, w = ds.scream.shape[:2]
    key = jax.random.PRNGKey(3)
    zeros = np.zeros((4, 64, 64, 1), np.uint8)
    background = np.asarray(ds.to_observations(key, zeros), np.float64)
    inverted = np.asarray(ds.to_observations(key, zeros + 1), np.float64)
    np.testing.assert_allclose(background + inverted, 1.0, atol=1e-6)
    for sample in background:
        # 2 * background - patch must be one constant shift in [0, 1) per channel at some crop.
        found = False
        for r in range(h - 64):          # all column offsets at once for each row offset
            windows = np.lib.stride_tricks.sliding_window_view(
                ds.scream[r:r + 64, :w - 1], (64, 64, 3))[0, :, 0]      # [w - 64, 64, 64, 3]
            shift = (2 * sample - windows).reshape(w - 64, -1, 3)
            match = np.all(np.ptp(shift, axis=1) < 1e-5, axis=1)
            for c in np.flatnonzero(match):
                assert np.all((shift[c, 0] >= 0) & (shift[c, 0] < 1))
                found = True
        assert found


def test_errors_are_one_line_and_name_the_path(data_root, monkeypatch):
    path = data_root / DSPRITES_FILE
    with pytest.raises(DataError, match="dsprites_ndarray"):
        get_dataset("dsprites_full")                          # missing file
    write_dsprites(data_root, metadata=None)
    with pytest.raises(DataError, match=r"missing key\(s\) \['metadata'\]"):
        get_dataset("dsprites_full")
    write_dsprites(data_root, metadata={"title": "no sizes"})
    with pytest.raises(DataError, match="latents_sizes"):
        get_dataset("dsprites_full")
    write_dsprites(data_root, imgs=np.zeros((N, 64, 64), np.float32))
    with pytest.raises(DataError, match="dtype float32, expected uint8"):
        get_dataset("dsprites_full")
    write_dsprites(data_root, imgs=np.zeros((N - 1, 64, 64), np.uint8))
    with pytest.raises(DataError, match=r"shape \[95, 64, 64\], expected \[96, 64, 64\]"):
        get_dataset("dsprites_full")
    write_dsprites(data_root)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])                  # truncated download
    with pytest.raises(DataError, match="truncated") as err:
        get_dataset("dsprites_full")
    assert str(path) in str(err.value) and "\n" not in str(err.value)
    write_dsprites(data_root)
    with pytest.raises(DataError, match="scream.jpg"):
        get_dataset("scream_dsprites")
    monkeypatch.delenv("DISENTANGLEMENT_LIB_DATA")
    with pytest.raises(DataError, match="DISENTANGLEMENT_LIB_DATA is not set"):
        get_dataset("dsprites_full")
    monkeypatch.setenv("DISENTANGLEMENT_LIB_DATA", str(data_root / "nowhere"))
    with pytest.raises(DataError, match="is not a folder"):
        get_dataset("dsprites_full")


@pytest.mark.parametrize("name", ["dsprites_full", "color_dsprites", "noisy_dsprites",
                                  "scream_dsprites"])
def test_to_observations_works_under_jit(data_root, name):
    import jax
    write_dsprites(data_root)
    write_scream(data_root)
    ds = get_dataset(name)
    pixels = ds.images[:8]
    key = jax.random.PRNGKey(0)
    eager = np.asarray(ds.to_observations(key, pixels))
    jitted = np.asarray(jax.jit(ds.to_observations)(key, pixels))
    assert eager.shape == (8, *ds.observation_shape) and eager.dtype == np.float32
    np.testing.assert_array_equal(jitted, eager)
    assert 0.0 <= eager.min() and eager.max() <= 1.0
    assert name in ds.describe()


def test_scream_background_is_the_recipe(data_root):
    """disentanglement_lib: `np.array(scream) * 1. / 255.` of the thumbnail (float64)."""
    write_dsprites(data_root)
    write_scream(data_root, size=(420, 600))        # not a power-of-two shrink: draft, then resize
    ds = get_dataset("scream_dsprites")
    with Image.open(data_root / SCREAM_FILE) as image:
        thumb = _thumbnail_like_pillow6(image, (350, 274))
        want = np.array(thumb.convert("RGB")) * 1. / 255.
    np.testing.assert_array_equal(ds.scream, want)
