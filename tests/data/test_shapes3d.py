"""Shapes3D loader on small files in the three accepted layouts: the public `3dshapes.h5`,
disentanglement_lib's npz (six leading factor axes) and a flat npz ([n, 64, 64, 3])."""
import h5py
import numpy as np
import pytest

import data.shapes3d
from data import get_dataset
from data.base import DataError
from data.shapes3d import H5_FILE, NPZ_FILE, SHAPES3D_DIR

SIZES = [2, 2, 2, 3, 2, 3]
N = int(np.prod(SIZES))


def labels_in_c_order():
    """float labels like the real file's (hues in [0, 1), scale, shape, orientation)."""
    grids = np.meshgrid(*[np.linspace(-1, 1, s) for s in SIZES], indexing="ij")
    return np.stack(grids, -1).reshape(-1, 6)


def write_shapes3d(data_root, kind="h5", images=None, labels=None, drop=None):
    """kind: "h5" (public release), "npz_factor_axes" (disentanglement_lib's layout: images
    [*SIZES, 64, 64, 3], labels [*SIZES, 6]) or "npz_flat" (images [N, 64, 64, 3]).
    Returns the images in flat C order [N, 64, 64, 3]."""
    folder = data_root / SHAPES3D_DIR
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.RandomState(0)
    images = rng.randint(0, 256, (N, 64, 64, 3)).astype(np.uint8) if images is None else images
    labels = labels_in_c_order() if labels is None else labels
    arrays = {k: v for k, v in (("images", images), ("labels", labels)) if k != drop}
    if kind == "h5":
        with h5py.File(folder / H5_FILE, "w") as f:
            for key, value in arrays.items():
                f.create_dataset(key, data=value, chunks=True)
    elif kind == "npz_factor_axes":
        np.savez(folder / NPZ_FILE, **{k: v.reshape(SIZES + list(v.shape[1:]))
                                       for k, v in arrays.items()})
    else:
        assert kind == "npz_flat"
        np.savez(folder / NPZ_FILE, **arrays)
    return images


@pytest.fixture
def data_root(data_root, monkeypatch):
    """conftest's data root, read in several partial h5 chunks."""
    monkeypatch.setattr(data.shapes3d, "H5_CHUNK", 7)
    return data_root


@pytest.mark.parametrize("kind", ["h5", "npz_factor_axes", "npz_flat"])
def test_mapping_values_and_replay(data_root, kind, c_index, sample_replayed):
    images = write_shapes3d(data_root, kind)
    ds = get_dataset("shapes3d", factor_sizes=SIZES)
    assert ds.images.dtype == np.uint8 and ds.images.shape == (N, 64, 64, 3)
    assert ds.factors_num_values == SIZES and ds.observation_shape == [64, 64, 3]
    want, obs = sample_replayed(ds, 8, 50, SIZES)
    assert obs.dtype == np.float32
    np.testing.assert_array_equal(obs, (images[c_index(want, SIZES)] / 255.0).astype(np.float32))
    if kind == "npz_factor_axes":   # disentanglement_lib: images[f0, ..., f5] is factor tuple f
        raw = np.load(data_root / SHAPES3D_DIR / NPZ_FILE)["images"]
        for f, o in zip(want, obs):
            np.testing.assert_array_equal(o, (raw[tuple(f)] / 255.).astype(np.float32))


def test_npz_is_preferred_over_h5(data_root):
    write_shapes3d(data_root, "h5")
    npz_images = write_shapes3d(data_root, "npz_factor_axes",
                                images=np.zeros((N, 64, 64, 3), np.uint8) + 7)
    ds = get_dataset("shapes3d", factor_sizes=SIZES)
    np.testing.assert_array_equal(ds.images, npz_images)


@pytest.mark.parametrize("bad", ["shape", "dtype", "labels", "corrupt"])
def test_refused_npz_falls_back_to_h5(data_root, bad, capsys):
    h5_images = write_shapes3d(data_root, "h5")
    if bad == "shape":
        write_shapes3d(data_root, "npz_flat", images=np.zeros((N, 32, 32, 3), np.uint8))
    elif bad == "dtype":
        write_shapes3d(data_root, "npz_flat", images=np.zeros((N, 64, 64, 3), np.float32))
    elif bad == "labels":
        write_shapes3d(data_root, "npz_flat", drop="labels")
    else:
        (data_root / SHAPES3D_DIR / NPZ_FILE).write_bytes(b"PK\x03\x04 truncated")
    ds = get_dataset("shapes3d", factor_sizes=SIZES)
    np.testing.assert_array_equal(ds.images, h5_images)
    assert f"not using {data_root / SHAPES3D_DIR / NPZ_FILE}" in capsys.readouterr().err
    (data_root / SHAPES3D_DIR / H5_FILE).unlink()                   # no fallback: the npz's error
    with pytest.raises(DataError, match=NPZ_FILE):
        get_dataset("shapes3d", factor_sizes=SIZES)


def test_errors(data_root):
    with pytest.raises(DataError, match="3dshapes.h5"):
        get_dataset("shapes3d")
    write_shapes3d(data_root)
    with pytest.raises(DataError, match=r"expected uint8 \[480000, 64, 64, 3\]"):
        get_dataset("shapes3d")                                  # real sizes, tiny file
    write_shapes3d(data_root, drop="labels")
    with pytest.raises(DataError, match="missing dataset 'labels'"):
        get_dataset("shapes3d", factor_sizes=SIZES)
    write_shapes3d(data_root, images=np.zeros((N, 64, 64, 3), np.float32))
    with pytest.raises(DataError, match="'images' is float32"):
        get_dataset("shapes3d", factor_sizes=SIZES)
    write_shapes3d(data_root, labels=labels_in_c_order()[::-1])
    with pytest.raises(DataError, match="not stored in C order"):
        get_dataset("shapes3d", factor_sizes=SIZES)
    get_dataset("shapes3d", factor_sizes=SIZES, check_labels=False)
    write_shapes3d(data_root)
    path = data_root / SHAPES3D_DIR / H5_FILE
    path.write_bytes(path.read_bytes()[:20000])                  # truncated download
    with pytest.raises(DataError, match="not a readable HDF5 file") as err:
        get_dataset("shapes3d", factor_sizes=SIZES)
    assert str(path) in str(err.value) and "\n" not in str(err.value)
