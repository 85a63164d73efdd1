"""The built-in procedural dSprites: layout, factor-to-image mapping, determinism, caching."""
import numpy as np
import pytest

from data import get_dataset
from data.procedural import ProceduralDSprites, draw_sprite


def centroid(image):
    rows, cols = np.nonzero(image[..., 0] if image.ndim == 3 else image)
    return rows.mean(), cols.mean()


def test_layout_matches_dsprites_full(tiny_data):
    assert tiny_data.num_factors == 5
    assert tiny_data.factors_num_values == [3, 2, 4, 4, 4]
    assert tiny_data.observation_shape == [64, 64, 1]
    assert tiny_data.images.dtype == np.uint8 and set(np.unique(tiny_data.images)) == {0, 1}


def test_full_size_layout_without_drawing(monkeypatch, tmp_path):
    monkeypatch.setattr(ProceduralDSprites, "_load_or_draw", lambda self, *a: np.zeros((1, 64, 64, 1), np.uint8))
    data = ProceduralDSprites(cache_dir=tmp_path)
    assert data.factors_num_values == [3, 6, 40, 32, 32]
    np.testing.assert_allclose(data.scales, np.linspace(0.5, 1, 6))
    np.testing.assert_allclose(data.orientations, np.linspace(0, 2 * np.pi, 40))


def test_observation_is_the_stored_image_at_the_factor_index(tiny_data):
    factors = np.array([[2, 1, 3, 0, 2], [0, 0, 0, 3, 3]])
    observations = tiny_data.sample_observations_from_factors(factors, np.random.RandomState(0))
    for f, observation in zip(factors, observations):
        # C order over [colour, shape, scale, orientation, x, y] = [1, 3, 2, 4, 4, 4]
        index = ((((f[0] * 2 + f[1]) * 4 + f[2]) * 4 + f[3]) * 4 + f[4])
        np.testing.assert_array_equal(observation, tiny_data.images[index].astype(np.float32))
        shape = ["square", "ellipse", "heart"][f[0]]
        sprite = draw_sprite(shape, tiny_data.scales[f[1]], tiny_data.orientations[f[2]], tiny_data.sprite_size)
        x, y = tiny_data.pixel_positions[f[3]], tiny_data.pixel_positions[f[4]]
        shifted = np.roll(np.roll(sprite, y - 32, axis=0), x - 32, axis=1)
        np.testing.assert_array_equal(observation[..., 0], shifted)


def test_position_x_moves_right_and_y_moves_down(tiny_data):
    f = np.array([[1, 1, 0, x, 1] for x in range(4)] + [[1, 1, 0, 1, y] for y in range(4)])
    images = tiny_data.sample_observations_from_factors(f, np.random.RandomState(0))
    cols = [centroid(im)[1] for im in images[:4]]
    rows = [centroid(im)[0] for im in images[4:]]
    assert np.all(np.diff(cols) > 5) and np.all(np.diff(rows) > 5)
    assert abs(centroid(images[0])[0] - centroid(images[1])[0]) < 0.5   # x does not move rows


def test_scale_grows_the_area():
    for shape in ["square", "ellipse", "heart"]:
        areas = [draw_sprite(shape, s, 0.3, 20.0).sum() for s in np.linspace(0.5, 1, 6)]
        assert np.all(np.diff(areas) > 0)
        assert areas[-1] / areas[0] == pytest.approx(4.0, rel=0.2)    # area ~ scale^2


def test_rotations():
    square = draw_sprite("square", 1.0, 0.0, 20.0)
    np.testing.assert_array_equal(square, draw_sprite("square", 1.0, np.pi / 2, 20.0))
    assert (square != draw_sprite("square", 1.0, np.pi / 4, 20.0)).sum() > 20
    heart = draw_sprite("heart", 1.0, 0.0, 20.0)
    assert (heart != draw_sprite("heart", 1.0, np.pi, 20.0)).sum() > 20   # a heart is not symmetric
    for shape in ["ellipse", "heart"]:   # orientation 0 and 2 pi are the same image, as in dSprites
        np.testing.assert_array_equal(draw_sprite(shape, 1.0, 0.0, 20.0), draw_sprite(shape, 1.0, 2 * np.pi, 20.0))


def test_shapes_differ():
    images = [draw_sprite(s, 1.0, 0.0, 20.0) for s in ["square", "ellipse", "heart"]]
    assert (images[0] != images[1]).sum() > 50 and (images[1] != images[2]).sum() > 50


def test_deterministic_and_cached(tmp_path, tiny_data):
    first = ProceduralDSprites(num_scales=2, num_orientations=4, num_positions=4, cache_dir=tmp_path, verbose=False)
    cached = list(tmp_path.glob("*.npz"))
    assert len(cached) == 1
    second = ProceduralDSprites(num_scales=2, num_orientations=4, num_positions=4, cache_dir=tmp_path, verbose=False)
    np.testing.assert_array_equal(first.images, second.images)
    np.testing.assert_array_equal(first.images, first.draw())
    np.testing.assert_array_equal(first.images, tiny_data.images)


def test_damaged_cache_is_redrawn_with_one_logged_line(tmp_path, capsys):
    import os
    os.umask(0o022)
    first = ProceduralDSprites(num_scales=2, num_orientations=4, num_positions=4, cache_dir=tmp_path, verbose=False)
    path = next(tmp_path.glob("*.npz"))
    assert path.stat().st_mode & 0o777 == 0o644                  # an ordinary file, readable by others
    for damage in (b"garbage", b""):
        path.write_bytes(damage)
        again = ProceduralDSprites(num_scales=2, num_orientations=4, num_positions=4, cache_dir=tmp_path,
                                   verbose=False)
        np.testing.assert_array_equal(first.images, again.images)
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "unreadable" in err and "drawing the images again" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]    # no temp file left behind


def test_equal_random_states_give_equal_samples(tiny_data):
    f1, x1 = tiny_data.sample(20, np.random.RandomState(3))
    f2, x2 = tiny_data.sample(20, np.random.RandomState(3))
    np.testing.assert_array_equal(f1, f2)
    np.testing.assert_array_equal(x1, x2)
    replay = np.random.RandomState(3)
    expected = np.stack([replay.randint(n, size=20) for n in [3, 2, 4, 4, 4]], axis=1)
    np.testing.assert_array_equal(f1, expected)


def test_registry_uses_the_cache_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("DISENTANGLEMENT_LIB_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    data = get_dataset("dsprites_procedural", num_scales=1, num_orientations=2, num_positions=2, verbose=False)
    assert data.images.shape == (3 * 1 * 2 * 2 * 2, 64, 64, 1)
    assert list((tmp_path / "lddr").glob("dsprites_procedural_*.npz"))
