"""smallNORB loader on tiny NORB binary matrix files written with their magic numbers."""
import numpy as np
import pytest
from PIL import Image

from data import get_dataset
from data.base import DataError
from data.norb import CHUNKS, NORB_DIR, read_norb_matrix

# category, instance, elevation, azimuth, lighting (all five, storage order)
SIZES = [2, 4, 2, 3, 2]
MAGIC = {np.dtype("u1"): 0x1E3D4C55, np.dtype("<i4"): 0x1E3D4C54,
         np.dtype("<f4"): 0x1E3D4C51, np.dtype("<f8"): 0x1E3D4C53}


def write_norb(path, array):
    """NORB binary matrix: int32 magic, int32 ndim, max(3, ndim) int32 dims, then the data."""
    array = np.ascontiguousarray(array)
    dims = list(array.shape) + [1] * max(0, 3 - array.ndim)
    header = np.array([MAGIC[array.dtype.newbyteorder("<")], array.ndim] + dims, "<i4")
    path.write_bytes(header.tobytes() + array.astype(array.dtype.newbyteorder("<")).tobytes())


def write_smallnorb(data_root, duplicate=False):
    """Train (instances 0, 2) and test (instances 1, 3) files in a shuffled order.

    Returns {factor tuple (azimuth halved): (chunk prefix, row in that chunk's files)}.
    """
    folder = data_root / NORB_DIR
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.RandomState(0)
    grid = np.stack(np.meshgrid(*[np.arange(s) for s in SIZES], indexing="ij"), -1).reshape(-1, 5)
    by_factors = {}
    for prefix, instances in zip(CHUNKS, ([0, 2], [1, 3])):
        rows = grid[np.isin(grid[:, 1], instances)]
        rows = rows[rng.permutation(len(rows))]
        if duplicate:
            rows[1] = rows[0]
        n = len(rows)
        dat = rng.randint(0, 256, size=(n, 2, 96, 96)).astype(np.uint8)
        dat[:, 1] = 255 - dat[:, 0]     # the second camera differs from the first
        info = rows[:, 1:].copy()
        info[:, 2] *= 2                 # azimuth stored as 0, 2, 4, ...
        write_norb(folder / f"{prefix}-dat.mat", dat)
        write_norb(folder / f"{prefix}-cat.mat", rows[:, 0].astype(np.int32))
        write_norb(folder / f"{prefix}-info.mat", info.astype(np.int32))
        for i, row in enumerate(rows):
            by_factors[tuple(row)] = (prefix, i)
    return by_factors


def test_binary_matrix_reader_all_types(tmp_path):
    for dtype in ["u1", "<i4", "<f4", "<f8"]:
        for shape in [(5,), (2, 3), (2, 3, 4), (2, 1, 3, 2)]:
            array = (np.arange(np.prod(shape)) * 3 % 7).reshape(shape).astype(dtype)
            write_norb(tmp_path / "m.mat", array)
            got = read_norb_matrix(tmp_path / "m.mat")
            assert got.dtype == np.dtype(dtype) and got.shape == shape
            np.testing.assert_array_equal(got, array)


def reference_observation(path, row):
    """disentanglement_lib's recipe, written independently: the byte matrix read as int8, the
    first camera's image through PIL (a 32-bit image), Lanczos to 64x64 into a float64 array,
    divided by 255."""
    raw = path.read_bytes()
    ndim = int(np.frombuffer(raw, "int32", 1, 4)[0])
    dims = np.frombuffer(raw, "int32", max(3, ndim), 8)[:ndim]
    data = np.frombuffer(raw, "int8", offset=8 + max(3, ndim) * 4).reshape(tuple(dims))
    resized = np.zeros((64, 64))
    resized[:, :] = Image.fromarray(data[row, 0]).resize((64, 64), Image.LANCZOS)
    return resized / 255.


def test_factors_mapping_resize_and_replay(data_root):
    by_factors = write_smallnorb(data_root)
    ds = get_dataset("smallnorb", factor_sizes=SIZES)
    assert ds.factors_num_values == [2, 2, 3, 2] and ds.observation_shape == [64, 64, 1]
    assert ds.images.dtype == np.int16 and ds.images.shape == (96, 64, 64, 1)
    rs = np.random.RandomState(4)
    factors, obs = ds.sample(60, rs)
    # disentanglement_lib's draws: the four latent factors, then the instance.
    rs2 = np.random.RandomState(4)
    want = np.stack([rs2.randint(SIZES[i], size=60) for i in (0, 2, 3, 4)], 1)
    instance = rs2.randint(SIZES[1], size=60)
    np.testing.assert_array_equal(factors, want)
    assert rs.rand() == rs2.rand()
    assert obs.dtype == np.float32 and obs.shape == (60, 64, 64, 1)
    for (cat, elev, azi, light), inst, o in zip(want, instance, obs):
        chunk, row = by_factors[(cat, inst, elev, azi, light)]
        expected = reference_observation(data_root / NORB_DIR / f"{chunk}-dat.mat", row)
        np.testing.assert_array_equal(o[..., 0], expected.astype(np.float32))
    # Random bytes have hard edges: the unclipped resize leaves [0, 1], and an 8-bit resize
    # (clipped, fixed point) would not give these observations.
    assert obs.min() < -0.05 and obs.max() > 1.05
    chunk, row = by_factors[tuple(np.insert(want[0], 1, instance[0]))]
    dat = read_norb_matrix(data_root / NORB_DIR / f"{chunk}-dat.mat")
    eight_bit = np.asarray(Image.fromarray(np.array(dat[row, 0])).resize((64, 64), Image.LANCZOS))
    assert np.mean(eight_bit / 255. != obs[0, ..., 0].astype(np.float64)) > 0.1


def test_device_observations_equal_host_observations(data_root):
    """Training's jitted per-batch conversion gives the metrics' observations, bit for bit,
    including the values below 0 and above 255 of the unclipped resize."""
    import jax
    write_smallnorb(data_root)
    ds = get_dataset("smallnorb", factor_sizes=SIZES)
    assert ds.pixel_range[0] < 0 and ds.pixel_range[1] > 255
    host = ds._observations_from_pixels(ds.images, None)
    device = np.asarray(jax.jit(ds.to_observations)(jax.random.PRNGKey(0), ds.images))
    np.testing.assert_array_equal(device, host)
    np.testing.assert_array_equal(host, (ds.images / 255.).astype(np.float32))


def test_errors(data_root):
    with pytest.raises(DataError, match="small_norb"):
        get_dataset("smallnorb")                                   # no folder
    write_smallnorb(data_root)
    with pytest.raises(DataError, match="exactly once"):
        get_dataset("smallnorb")                                   # real sizes, tiny file
    folder = data_root / NORB_DIR
    dat = folder / f"{CHUNKS[1]}-dat.mat"
    data = dat.read_bytes()
    dat.write_bytes(data[:-100])                                   # truncated download
    with pytest.raises(DataError, match="truncated") as err:
        get_dataset("smallnorb", factor_sizes=SIZES)
    assert str(dat) in str(err.value)
    dat.write_bytes(b"\0\0\0\0" + data[4:])                        # wrong magic
    with pytest.raises(DataError, match="not a NORB binary matrix"):
        get_dataset("smallnorb", factor_sizes=SIZES)
    dat.write_bytes(data)
    write_norb(folder / f"{CHUNKS[0]}-info.mat", np.zeros((48, 3), np.int32))
    with pytest.raises(DataError, match=r"info.mat: int32 \[48, 3\], expected int32 \[48, 4\]"):
        get_dataset("smallnorb", factor_sizes=SIZES)
    write_smallnorb(data_root, duplicate=True)
    with pytest.raises(DataError, match="exactly once"):
        get_dataset("smallnorb", factor_sizes=SIZES)
    (folder / f"{CHUNKS[0]}-cat.mat").unlink()
    with pytest.raises(DataError, match="training-cat.mat"):
        get_dataset("smallnorb", factor_sizes=SIZES)
