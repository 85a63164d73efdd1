"""Isaac3D and Falcor3D loaders on small folders in the authors' layout: 128 x 128 RGB PNGs
`images/{i:06}.png` plus the labels (`labels.npy`; Falcor3D's `train-rec.labels`, an .npy file
despite its name), with float factor values in [0, 1] as the real files have."""
import json

import numpy as np
import pytest
from PIL import Image

from data import get_dataset
from data.base import DataError
from data.nvidia3d import FALCOR3D, ISAAC3D
from data.tf_resize import resize_bicubic_antialias
from tests import REFERENCE_DIR
from tests.reference.tf_resize_reference import make_image

SCENES = {"isaac3d": ISAAC3D, "falcor3d": FALCOR3D}
SIZES = {"isaac3d": [2, 2, 1, 1, 1, 2, 1, 1, 2],      # 16 images, 9 factors
         "falcor3d": [2, 1, 2, 1, 1, 2, 1]}          # 8 images, 7 factors
TF_REFERENCE = json.loads((REFERENCE_DIR / "tf_resize.json").read_text())


def labels_in_c_order(sizes):
    """[n, k] factor values in C order: each factor's values evenly spaced in [0, 1]."""
    grids = np.meshgrid(*[np.linspace(0, 1, s) for s in sizes], indexing="ij")
    return np.stack(grids, -1).reshape(-1, len(sizes))


def write_scene(root, name, images=None, labels=None, order=None):
    """The authors' layout under `root`; image i of `images` (file order) has labels row i.
    `order`: a permutation of the C-order images and labels (files not in C order).
    Returns (images [n, 128, 128, 3] in C order of the factors, folder)."""
    scene, sizes = SCENES[name], SIZES[name]
    n = int(np.prod(sizes))
    if images is None:
        images = np.stack([make_image((128, 128, 3), "scene", seed) for seed in range(n)])
    labels = labels_in_c_order(sizes) if labels is None else labels
    order = np.arange(n) if order is None else order
    folder = root / scene.folder
    (folder / "images").mkdir(parents=True, exist_ok=True)
    for i, j in enumerate(order):
        Image.fromarray(images[j]).save(folder / "images" / f"{i:06}.png")
    with open(folder / scene.labels, "wb") as f:           # np.save(path) would add ".npy"
        np.save(f, labels[order])
    return images, folder


def qlae_observations(pngs):
    """What the QLAE code feeds its model: clip(resize(x) / 255, 0, 1), float32."""
    resized = resize_bicubic_antialias(pngs, (64, 64))
    return np.clip(resized / np.float32(255), np.float32(0), np.float32(1))


@pytest.fixture
def data_root(data_root, monkeypatch):
    """conftest's data root, decoded in chunks of 3 images (several per worker, one partial)."""
    monkeypatch.setattr("data.nvidia3d.CHUNK", 3)
    return data_root


@pytest.mark.parametrize("name", ["isaac3d", "falcor3d"])
@pytest.mark.parametrize("pixels", ["uint8", "float32"])
def test_mapping_values_and_replay(data_root, name, pixels, c_index, sample_replayed, capsys):
    pngs, folder = write_scene(data_root, name)
    sizes = SIZES[name]
    ds = get_dataset(name, factor_sizes=sizes, pixels=pixels, workers=2)
    assert ds.factors_num_values == sizes and ds.observation_shape == [64, 64, 3]
    assert isinstance(ds.images, np.memmap)                    # from the cache just written
    assert (folder / f"{name}_64x64_{pixels}.npz").is_file()
    assert "decoded and resized" in capsys.readouterr().err    # the first load's time
    want, obs = sample_replayed(ds, 3, 30, sizes)
    qlae = qlae_observations(pngs)[c_index(want, sizes)]
    assert obs.dtype == np.float32
    if pixels == "float32":
        np.testing.assert_array_equal(obs, qlae)                # QLAE's values, bit for bit
    else:
        # The resized value rounded to a grey level: within half a grey level of QLAE's.
        assert np.abs(obs - qlae).max() <= 0.5 / 255 + 1e-7
        np.testing.assert_array_equal(obs, (np.rint(qlae * 255) / 255.0).astype(np.float32))
    for j, values in enumerate(ds.factor_values):             # classes: sorted distinct values
        np.testing.assert_array_equal(values, np.linspace(0, 1, sizes[j]))


@pytest.mark.parametrize("pixels", ["uint8", "float32"])
def test_end_to_end_against_tensorflow(data_root, pixels):
    """Image 0 is the reference script's QLAE case: the loader's observation of it is
    TensorFlow's `clip(resize(x) / 255, 0, 1)` (from tests/reference/tf_resize.json) bit for
    bit with pixels="float32", and within half a grey level with "uint8"."""
    case = next(c for c in TF_REFERENCE["cases"] if c["name"] == "qlae_128_to_64")
    pngs = np.stack([make_image((128, 128, 3), "scene", seed) for seed in range(8)])
    pngs[0] = make_image(tuple(case["shape"]), case["pattern"])
    write_scene(data_root, "falcor3d", images=pngs)
    ds = get_dataset("falcor3d", factor_sizes=SIZES["falcor3d"], pixels=pixels)
    tf_result = np.asarray(case["result"], np.float32).reshape(64, 64, 3)
    tf_observation = np.clip(tf_result / np.float32(255), np.float32(0), np.float32(1))
    ours = ds._observations_from_pixels(ds.images[ds._index_of(np.zeros((1, 7), np.int64))], None)[0]
    if pixels == "float32":
        np.testing.assert_array_equal(ours.view(np.uint32), tf_observation.view(np.uint32))
    else:
        assert np.abs(ours - tf_observation).max() <= 0.5 / 255 + 1e-7


def test_device_observations_match_the_host(data_root):
    import jax
    write_scene(data_root, "falcor3d")
    for pixels in ("uint8", "float32"):
        ds = get_dataset("falcor3d", factor_sizes=SIZES["falcor3d"], pixels=pixels)
        host = ds._observations_from_pixels(np.asarray(ds.images), None)
        device = np.asarray(ds.to_observations(jax.random.PRNGKey(0), jax.numpy.asarray(ds.images)))
        np.testing.assert_array_equal(device, host)


def test_files_not_in_c_order_are_mapped_by_their_labels(data_root, tmp_path, c_index):
    """The labels decide which file a factor tuple is: shuffled files give the same images."""
    sizes = SIZES["isaac3d"]
    n = int(np.prod(sizes))
    pngs, _ = write_scene(data_root, "isaac3d", order=np.random.RandomState(1).permutation(n))
    ds = get_dataset("isaac3d", factor_sizes=sizes)
    want, obs = ds.sample(20, np.random.RandomState(5))
    expected = np.rint(np.clip(resize_bicubic_antialias(pngs, (64, 64)), 0, 255)) / 255.0
    np.testing.assert_array_equal(obs, expected[c_index(want, sizes)].astype(np.float32))


def test_cache_is_reused_checked_and_rebuilt(data_root, capsys):
    sizes = SIZES["falcor3d"]
    pngs, folder = write_scene(data_root, "falcor3d")
    first = np.array(get_dataset("falcor3d", factor_sizes=sizes).images)
    cache = folder / "falcor3d_64x64_uint8.npz"
    # Later loads map the cache and never open a PNG.
    (folder / "images" / "000003.png").unlink()
    capsys.readouterr()
    again = get_dataset("falcor3d", factor_sizes=sizes)
    assert isinstance(again.images, np.memmap)
    np.testing.assert_array_equal(again.images, first)
    assert "loaded falcor3d from the cache" in capsys.readouterr().err
    # New labels (files renumbered in reverse): the cache no longer matches, the PNGs are
    # decoded again; each factor tuple still finds its image.
    write_scene(data_root, "falcor3d", images=pngs, order=np.arange(8)[::-1])
    rebuilt = get_dataset("falcor3d", factor_sizes=sizes)
    assert "was made for another file or format" in capsys.readouterr().err
    np.testing.assert_array_equal(rebuilt.images, first[::-1])
    factors = np.zeros((1, 7), np.int64)
    np.testing.assert_array_equal(rebuilt.images[rebuilt._index_of(factors)], first[:1])
    # A truncated cache is rebuilt too, atomically: no temp files are left behind.
    cache.write_bytes(cache.read_bytes()[:5000])
    np.testing.assert_array_equal(get_dataset("falcor3d", factor_sizes=sizes).images, first[::-1])
    assert "cannot be read (truncated or corrupt); decoding the PNGs again" in capsys.readouterr().err
    # Other PNGs under the same labels are not noticed (documented: delete the cache then).
    write_scene(data_root, "falcor3d", images=np.zeros_like(pngs), order=np.arange(8)[::-1])
    np.testing.assert_array_equal(get_dataset("falcor3d", factor_sizes=sizes).images, first[::-1])
    assert sorted(p.name for p in folder.iterdir()) == ["falcor3d_64x64_uint8.npz", "images",
                                                        "train-rec.labels"]


def test_cache_dir_and_read_only_folder(data_root, tmp_path, monkeypatch, capsys):
    sizes = SIZES["falcor3d"]
    _, folder = write_scene(data_root, "falcor3d")
    elsewhere = tmp_path / "cache"
    ds = get_dataset("falcor3d", factor_sizes=sizes, cache_dir=elsewhere)
    assert (elsewhere / "falcor3d_64x64_uint8.npz").is_file()
    assert not (folder / "falcor3d_64x64_uint8.npz").exists()
    monkeypatch.setattr("data.nvidia3d.os.access", lambda path, mode: False)
    kept = get_dataset("falcor3d", factor_sizes=sizes)
    assert not isinstance(kept.images, np.memmap)
    np.testing.assert_array_equal(kept.images, ds.images)
    assert "cannot write a cache" in capsys.readouterr().err


def test_png_modes(data_root):
    """Grey, RGBA and palette PNGs become RGB as TensorFlow's decode_png(channels=3) makes them
    (grey repeated, alpha dropped); 16-bit PNGs are refused."""
    pngs, folder = write_scene(data_root, "falcor3d")
    rgb = np.array(get_dataset("falcor3d", factor_sizes=SIZES["falcor3d"], cache_dir=folder / "a").images)
    rgba = np.concatenate([pngs[1], np.full((128, 128, 1), 7, np.uint8)], -1)
    Image.fromarray(rgba, "RGBA").save(folder / "images" / "000001.png")
    grey = np.repeat(pngs[2][..., :1], 3, -1)
    Image.fromarray(grey[..., 0], "L").save(folder / "images" / "000002.png")
    ds = get_dataset("falcor3d", factor_sizes=SIZES["falcor3d"], cache_dir=folder / "b")
    np.testing.assert_array_equal(ds.images[1], rgb[1])
    want = np.rint(np.clip(resize_bicubic_antialias(grey[None], (64, 64)), 0, 255))[0]
    np.testing.assert_array_equal(ds.images[2], want)
    Image.fromarray(np.zeros((128, 128), np.uint16) + 300).save(folder / "images" / "000002.png")
    with pytest.raises(DataError, match=r"000002.png: PNG mode 'I;16', expected 8-bit RGB"):
        get_dataset("falcor3d", factor_sizes=SIZES["falcor3d"], cache_dir=folder / "c")


@pytest.mark.parametrize("name", ["isaac3d", "falcor3d"])
def test_missing_files_say_how_to_fetch_them(data_root, name):
    scene = SCENES[name]
    with pytest.raises(DataError) as err:
        get_dataset(name)
    message = str(err.value)
    assert "\n" not in message and str(data_root / scene.folder / scene.labels) in message
    assert scene.url in message and "by hand" in message


def test_refusals_are_one_line(data_root):
    sizes = SIZES["isaac3d"]
    n = int(np.prod(sizes))
    _, folder = write_scene(data_root, "isaac3d")
    labels_path = folder / "labels.npy"

    def refused(match, **kw):
        with pytest.raises(DataError, match=match) as err:
            get_dataset("isaac3d", **{"factor_sizes": sizes, **kw})
        assert "\n" not in str(err.value)

    refused(r"16 rows, expected 737280", factor_sizes=None)            # the real sizes
    refused(r"pixels='uint16', expected one of \('uint8', 'float32'\)", pixels="uint16")
    refused(r"7 factor sizes, expected 9", factor_sizes=sizes[:7])
    labels = labels_in_c_order(sizes)
    bad = labels.copy()
    bad[0, 1] = 0.5                                                      # a third robot_x value
    np.save(labels_path, bad)
    refused(r"label column 1 \(robot_x\) has 3 distinct values, expected 2")
    bad = labels.copy()
    bad[1] = bad[0]                                                      # one tuple twice
    np.save(labels_path, bad)
    refused(r"do not cover each of the 16 combinations")
    np.save(labels_path, labels[:, :8])
    refused(r"'labels' has shape \[16, 8\], expected \[\*, 9\]")
    np.save(labels_path, labels.astype(object), allow_pickle=True)
    refused(r"labels.npy: not a readable .npy file")
    labels_path.write_bytes(b"not numpy")
    refused(r"labels.npy: not a readable .npy file")
    np.save(labels_path, labels)
    (folder / "images" / "000005.png").unlink()
    refused(r"000005.png: missing \(expected one PNG per labels row")
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(folder / "images" / "000005.png")
    refused(r"000005.png: 64 x 64 image, expected 128 x 128")
    path = folder / "images" / "000005.png"
    Image.fromarray(np.zeros((128, 128, 3), np.uint8)).save(path)
    path.write_bytes(path.read_bytes()[:60])
    refused(r"000005.png: not a readable PNG")
    assert n == 16 and not list(folder.glob("*.npz")) and not list(folder.glob("*.tmp"))
