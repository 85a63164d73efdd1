"""Cars3D loader on a few small `.mat` files with the real `im` layout."""
import numpy as np
import pytest
import scipy.io
from PIL import Image

from data import get_dataset
from data.base import DataError

SIZES = [2, 3, 3]     # elevation, azimuth, object
NAMES = ["car_002_mesh.mat", "car_010_mesh.mat", "car_001_mesh.mat"]   # not in name order


def write_cars(data_root, names=NAMES, im_shape=(128, 128, 3, 3, 2)):
    """One .mat per car: `im` uint8 [128, 128, 3, azimuth, elevation]. Returns {name: im}."""
    folder = data_root / "cars"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "list.txt").write_text("not a mesh\n")
    rng = np.random.RandomState(0)
    meshes = {}
    for name in names:
        im = rng.randint(0, 256, size=im_shape).astype(np.uint8)
        scipy.io.savemat(folder / name, {"im": im})
        meshes[name] = im
    return meshes


def test_mapping_thumbnail_and_replay(data_root, sample_replayed):
    meshes = write_cars(data_root)
    ds = get_dataset("cars3d", factor_sizes=SIZES)
    assert ds.factors_num_values == SIZES and ds.observation_shape == [64, 64, 3]
    assert ds.images.dtype == np.uint8 and ds.images.shape == (18, 64, 64, 3)
    want, obs = sample_replayed(ds, 2, 40, SIZES)
    by_object = [meshes[name] for name in sorted(NAMES)]      # object i = i-th file by name
    for (elev, azi, obj), o in zip(want, obs):
        image = Image.fromarray(by_object[obj][:, :, :, azi, elev])
        image.thumbnail((64, 64), Image.LANCZOS)
        np.testing.assert_array_equal(o, (np.asarray(image) / 255.0).astype(np.float32))


def test_errors(data_root):
    with pytest.raises(DataError, match="cars"):
        get_dataset("cars3d")
    write_cars(data_root)
    with pytest.raises(DataError, match="3 .mat files, expected 183"):
        get_dataset("cars3d")
    folder = data_root / "cars"
    scipy.io.savemat(folder / "car_010_mesh.mat", {"images": np.zeros((2, 2), np.uint8)})
    with pytest.raises(DataError, match=r"car_010_mesh.mat: no variable 'im'"):
        get_dataset("cars3d", factor_sizes=SIZES)
    scipy.io.savemat(folder / "car_010_mesh.mat", {"im": np.zeros((64, 64, 3, 3, 2), np.uint8)})
    with pytest.raises(DataError, match=r"expected uint8 \[128, 128, 3, 3, 2\]"):
        get_dataset("cars3d", factor_sizes=SIZES)
    write_cars(data_root)
    path = folder / "car_001_mesh.mat"
    path.write_bytes(path.read_bytes()[:5000])                 # truncated download
    with pytest.raises(DataError, match="car_001_mesh.mat: not a readable .mat") as err:
        get_dataset("cars3d", factor_sizes=SIZES)
    assert "\n" not in str(err.value)
