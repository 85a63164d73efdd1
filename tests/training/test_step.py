"""The train state and the jitted update (training/step.py): the discriminator on the same or a
second batch, the step fed host batches is the step that draws on the device, and one copy of
the images on the CPU."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from training.loop import train


def leaves(tree):
    return [np.asarray(x) for x in jax.tree_util.tree_leaves(tree)]


@pytest.mark.slow  # compiles the second-batch step (~17 s), used by no other quick test
def test_discriminator_trains_on_same_or_second_batch(tiny_data, tiny_config):
    from models import build_model
    from training.step import init_train_state
    config = tiny_config.replace(tc=True, gamma=5.0)
    initial = init_train_state(build_model(config, 1), jnp.zeros((8, 64, 64, 1))).params_disc
    same = train(config, data=tiny_data, progress=False)
    second = train(config.replace(discriminator_second_batch=True, save_path=config.save_path + "/second"),
                   data=tiny_data, progress=False)
    changed = [not np.array_equal(a, b) for a, b in zip(leaves(initial), leaves(same.params_disc))]
    assert all(changed)                               # every discriminator layer was updated
    # With a second batch the discriminator sees other samples, so it ends elsewhere.
    assert any(not np.allclose(a, b) for a, b in zip(leaves(same.params_disc), leaves(second.params_disc)))
    assert all(np.isfinite(x).all() for x in leaves(second.params_disc))


@pytest.mark.slow  # two compiles of a TC step: about 40 s on a loaded 2-core machine
def test_wiring_host_batch_step_is_the_training_step(tiny_data, tiny_config):
    """Wiring: train_step_on fed the batch that train_step draws on the device makes the same
    update (benchmarks/train_speed.py's baseline feeds it host batches; no copy of the step)."""
    from models import build_model
    from training.step import _sample_batch, images_on_device, init_train_state, train_step, train_step_on
    config = tiny_config.replace(tc=True, gamma=5.0)
    model = build_model(config, 1)
    images = images_on_device(tiny_data)
    ts = init_train_state(model, jnp.zeros((8, 64, 64, 1)))
    batch_key = jax.random.split(jax.random.fold_in(ts.rng, ts.step), 4)[0]
    x = np.asarray(_sample_batch(tiny_data, images, batch_key, config.batch_size))
    drawn = jax.jit(lambda ts: train_step(model, tiny_data, images, ts))(ts)
    given = jax.jit(lambda ts, x: train_step_on(model, ts, lambda key: x))(ts, x)
    for a, b in zip(jax.tree_util.tree_leaves(drawn), jax.tree_util.tree_leaves(given)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))     # bit for bit
    # Not vacuous: the step moved both the VAE's and the discriminator's parameters.
    for before, after in ((ts.params, given[0].params), (ts.params_disc, given[0].params_disc)):
        assert any(not np.array_equal(a, b) for a, b in zip(jax.tree_util.tree_leaves(before),
                                                             jax.tree_util.tree_leaves(after)))


def test_one_copy_of_the_images_on_the_cpu(tiny_data):
    from types import SimpleNamespace

    from training.step import images_on_device
    # XLA shares host memory that is 64-byte aligned; numpy's allocations often are not.
    raw = np.empty(tiny_data.images.nbytes + 64, np.uint8)
    start = (-raw.ctypes.data) % 64
    aligned = raw[start:start + tiny_data.images.nbytes].reshape(tiny_data.images.shape)
    aligned[...] = tiny_data.images
    read_only = tiny_data.images.copy()
    read_only.flags.writeable = False                        # e.g. a memory map: not exportable
    for images in (aligned, tiny_data.images[1:].copy()[:-1], aligned[:, ::-1], read_only):
        data = SimpleNamespace(images=images)
        expected = np.array(images)
        on_device = images_on_device(data)
        assert images_on_device(data) is on_device            # made once per data set
        np.testing.assert_array_equal(np.asarray(on_device), expected)
        np.testing.assert_array_equal(data.images, expected)
        if jax.default_backend() == "cpu":                   # the host side reads the device copy
            assert data.images.ctypes.data == on_device.unsafe_buffer_pointer()
    if jax.default_backend() == "cpu":   # shared, not copied (a GPU copy cannot share the host pointer)
        assert images_on_device(SimpleNamespace(images=aligned)).unsafe_buffer_pointer() == aligned.ctypes.data
