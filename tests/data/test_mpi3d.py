"""MPI3D loaders (toy, realistic, real, complex) on small npz files with the real key and layout."""
import numpy as np
import pytest

from data import get_dataset
from data.base import DataError
from data.mpi3d import release_of

SIZES = [2, 2, 2, 3, 3, 2, 2]
N = int(np.prod(SIZES))


def write_mpi3d(data_root, name, compressed=False, images=None, key="images"):
    folder = data_root / name
    folder.mkdir(parents=True, exist_ok=True)
    if images is None:
        images = np.random.RandomState(0).randint(0, 256, (N, 64, 64, 3)).astype(np.uint8)
    (np.savez_compressed if compressed else np.savez)(folder / f"{name}.npz", **{key: images})
    return images


@pytest.mark.parametrize("name", ["mpi3d_toy", "mpi3d_realistic", "mpi3d_real", "mpi3d_complex"])
@pytest.mark.parametrize("compressed", [False, True])
def test_mapping_values_and_replay(data_root, name, compressed, sample_replayed):
    images = write_mpi3d(data_root, name, compressed)
    ds = get_dataset(name, factor_sizes=SIZES)
    # Uncompressed members are memory-mapped rather than copied.
    assert isinstance(ds.images, np.memmap) != compressed
    assert ds.images.dtype == np.uint8 and ds.factors_num_values == SIZES
    want, obs = sample_replayed(ds, 6, 40, SIZES)
    index = np.ravel_multi_index(tuple(want.T), SIZES)
    np.testing.assert_array_equal(obs, (images[index] / 255.0).astype(np.float32))


def test_release_is_told_by_image_count():
    assert release_of(460_800, "f") == ((4, 4, 2, 3, 3, 40, 40),
                                        "2019 challenge release (colour 4 x shape 4)")
    assert release_of(1_036_800, "f")[0] == (6, 6, 2, 3, 3, 40, 40)
    with pytest.raises(DataError, match="460800 .* or 1036800"):
        release_of(1000, "f")
    # MPI3D-complex has one release: colour 4 x shape 4, and no 6 x 6 file.
    assert release_of(460_800, "f", "mpi3d_complex") == (
        (4, 4, 2, 3, 3, 40, 40), "real-world complex shapes release (colour 4 x shape 4)")
    with pytest.raises(DataError, match=r"1036800 images, expected 460800 \(MPI3D-complex"):
        release_of(1_036_800, "f", "mpi3d_complex")


def test_complex_file_layout_and_refusals(data_root, monkeypatch, capsys):
    """`mpi3d_complex/mpi3d_complex.npz`: the authors' file, key `images`, uint8 [460800, 64, 64,
    3] in C order of [4, 4, 2, 3, 3, 40, 40]; other counts, dtypes and shapes are refused in
    one line."""
    path = data_root / "mpi3d_complex" / "mpi3d_complex.npz"
    with pytest.raises(DataError, match="mpi3d_complex.npz") as err:
        get_dataset("mpi3d_complex")
    assert "\n" not in str(err.value)
    # The real count without writing 5.7 GB: a 460,800-image header, read lazily.
    write_mpi3d(data_root, "mpi3d_complex")
    with monkeypatch.context() as patch:
        patch.setattr("data.mpi3d.read_npz", lambda p, keys, mmap: {"images": np.broadcast_to(
            np.zeros((1, 64, 64, 3), np.uint8), (460_800, 64, 64, 3))})
        ds = get_dataset("mpi3d_complex")
    assert ds.factors_num_values == [4, 4, 2, 3, 3, 40, 40]
    assert "real-world complex shapes release" in capsys.readouterr().err
    refusals = [
        (None, rf"{N} images, expected 460800 \(MPI3D-complex"),                   # count
        (np.zeros((N, 64, 64, 3), np.float32), "'images' has dtype float32, expected uint8"),
        (np.zeros((N, 64, 64), np.uint8), r"shape \[288, 64, 64\], expected \[\*, 64, 64, 3\]"),
        (np.zeros((N, 32, 32, 3), np.uint8), r"shape \[288, 32, 32, 3\], expected"),
    ]
    for images, message in refusals:
        write_mpi3d(data_root, "mpi3d_complex", images=images)
        with pytest.raises(DataError, match=message) as err:
            get_dataset("mpi3d_complex")
        assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_errors(data_root):
    with pytest.raises(DataError, match="mpi3d_toy.npz"):
        get_dataset("mpi3d_toy")
    write_mpi3d(data_root, "mpi3d_toy")
    with pytest.raises(DataError, match=f"{N} images, expected 460800 .* or 1036800"):
        get_dataset("mpi3d_toy")                                 # neither release
    with pytest.raises(DataError, match="7 factor sizes whose product"):
        get_dataset("mpi3d_toy", factor_sizes=[2, 2, 2, 3, 3, 2, 3])
    write_mpi3d(data_root, "mpi3d_toy", key="imgs")
    with pytest.raises(DataError, match=r"missing key\(s\) \['images'\]"):
        get_dataset("mpi3d_toy", factor_sizes=SIZES)
    write_mpi3d(data_root, "mpi3d_toy", images=np.zeros((N, 64, 64), np.uint8))
    with pytest.raises(DataError, match=r"shape \[288, 64, 64\], expected \[\*, 64, 64, 3\]"):
        get_dataset("mpi3d_toy", factor_sizes=SIZES)
    write_mpi3d(data_root, "mpi3d_toy")
    path = data_root / "mpi3d_toy" / "mpi3d_toy.npz"
    path.write_bytes(path.read_bytes()[:100_000])                # truncated download
    with pytest.raises(DataError, match="truncated") as err:
        get_dataset("mpi3d_toy", factor_sizes=SIZES)
    assert str(path) in str(err.value)
