"""Checkpoints from the authors' run.py (checkpoints/authors_format.py): read safely, mapped to this
project's payload, their read-out reproduced, crafted files refused (the files through every tool:
tests/end_to_end/test_authors_files.py)."""
import pickle
import struct
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from checkpoints import authors_format, checkpoint
from checkpoints.checkpoint import CheckpointError, load_checkpoint
from checkpoints.restore import restore_parameters
from models import build_model
from models.representation import make_representation_function
from tests.authors_fixtures import (
    GlobalsRecorder,
    TrainState,
    authors_files,
    authors_representation,
    cosine_scale,
    read_with_pickle,
    write_authors_checkpoint,
)
from training.resume import restore_train_state, resume_config


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return authors_files(tmp_path_factory.mktemp("authors"))


def test_file_names_and_globals_are_exactly_those_allowed(files):
    assert files["dvae"].name == "dsprites_procedural.pkl"
    assert files["factor_vae"].name == "dsprites_procedural_gauss_factor30.0.pkl"
    for path in files.values():
        with open(path, "rb") as f:
            recorder = GlobalsRecorder(f)
            recorder.load()
        assert {tuple(n.rsplit(".", 1)) for n in recorder.names} <= set(checkpoint.GLOBALS)
        assert recorder.names == {"__main__.TrainState", "box.box.Box", "jax._src.array._reconstruct_array",
                                  "numpy._core.multiarray._reconstruct", "numpy.ndarray", "numpy.dtype",
                                  "optax._src.transform.ScaleByAdamState", "optax._src.base.EmptyState"}


@pytest.mark.parametrize("kind", ["dvae", "factor_vae"])
def test_mapping_to_this_projects_payload(files, kind):
    payload = load_checkpoint(files[kind])
    theirs = read_with_pickle(files[kind])          # real Box, optax and jax objects
    box, ts = theirs["config"], theirs["train_state"]
    config = resume_config(files[kind], {})
    assert payload["source"] == "authors" and payload["step"] == 3 == theirs["step_num"]
    assert (config.dataset, config.seed, config.steps, config.batch_size) == ("dsprites_procedural", 3, 8, 8)
    assert (config.gaussian, config.tc, config.gamma) == (
        not box.run.discrete,
        box.loss.tc,
        30.0 if box.loss.tc else 0.0,
    )
    np.testing.assert_array_equal(payload["rng"], np.asarray(theirs["rng"]))

    model = build_model(config, 1)
    restored = restore_train_state(model, jnp.zeros((1, 64, 64, 1)), payload, "x")
    rename = {"~": "codebook"}
    for module, values in ts.params.items():
        for name, value in values.items():
            np.testing.assert_array_equal(restored.params[rename.get(module, module)][name], value)
    # Adam: every moment by name, and the count, continue theirs.
    ours_adam, theirs_adam = restored.opt_state[0], ts.opt_state[0]
    assert int(ours_adam.count) == int(theirs_adam.count) == 3
    for moment in ("mu", "nu"):
        for module, values in getattr(theirs_adam, moment).items():
            for name, value in values.items():
                np.testing.assert_array_equal(getattr(ours_adam, moment)[rename.get(module, module)][name], value)
    if kind == "dvae":
        gumbel = restored.state["codebook"]
        assert gumbel["hard"].dtype == jnp.bool_ and not bool(gumbel["hard"])
        assert float(gumbel["scale"]) == np.float32(cosine_scale(3, 0.5, 2.0, 8))
        np.testing.assert_allclose(restored.params["codebook"]["embed"][3, :, 0], np.linspace(-1, 1, 64), atol=1e-6)
        assert restored.params_disc is None and restored.opt_state_disc is None
    else:
        assert restored.state == {}
        assert int(restored.opt_state_disc[0].count) == 3
        for module, values in ts.opt_state_disc[0].nu.items():
            for name, value in values.items():
                np.testing.assert_array_equal(restored.opt_state_disc[0].nu[module][name], value)


def test_numpy_1_names_are_read_the_same(files, tmp_path):
    """Files written with numpy 1.x name numpy.core.multiarray; protocol 3 spells globals as
    text lines, so the numpy 2 name can be swapped for the numpy 1 one byte for byte."""
    path = write_authors_checkpoint(tmp_path, protocol=3)
    blob = path.read_bytes()
    assert b"cnumpy._core.multiarray\n_reconstruct\n" in blob
    path.write_bytes(blob.replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n"))
    old, new = load_checkpoint(path), load_checkpoint(files["dvae"])
    assert old["config"] == new["config"] and old["step"] == new["step"]
    for a, b in zip(
        jax.tree_util.tree_leaves((old["params"], old["state"], old["opt_state"], old["rng"])),
        jax.tree_util.tree_leaves((new["params"], new["state"], new["opt_state"], new["rng"])),
    ):
        np.testing.assert_array_equal(a, b)


def test_gumbel_state_written_back_as_plain_numbers():
    """Their loop stores the annealed scale after each step; a plain float is accepted."""
    state = authors_format._gumbel_state(
        {"~": {"scale": 0.75, "lambda": np.float32(1.0), "hard": np.float32(1.0)}}, "x"
    )
    assert state["codebook"]["scale"].dtype == np.float32 and float(state["codebook"]["scale"]) == 0.75
    assert state["codebook"]["hard"].dtype == np.bool_ and bool(state["codebook"]["hard"])


@pytest.mark.parametrize("kind", ["dvae", "factor_vae"])
def test_read_out_is_the_authors(files, kind, tiny_data):
    """Our encoder on their parameters gives their read-out (softmax expectation / mean)."""
    payload = load_checkpoint(files[kind])
    config = resume_config(files[kind], {})
    model = build_model(config, 1)
    images = tiny_data.images[::37].astype(np.float32)
    params, state, _ = restore_parameters(model, jnp.zeros((1, 64, 64, 1)), payload, "x")
    theirs = read_with_pickle(files[kind])
    expected = authors_representation(theirs["train_state"].params, theirs["config"], images)
    np.testing.assert_allclose(
        make_representation_function(model, params, state)(images), expected, rtol=0, atol=1e-6
    )  # measured: 3.7e-8 (float32 rounding)


# -- malicious files, written opcode by opcode ----------------------------------------------
def _str(text: str) -> bytes:
    data = text.encode()
    return b"X" + struct.pack("<I", len(data)) + data  # BINUNICODE


def _global(module: str, name: str) -> bytes:
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"  # GLOBAL


def _authors_dict(train_state: bytes) -> bytes:
    """PROTO 2, {'step_num': 3, 'train_state': <train_state>}, STOP."""
    return b"\x80\x02}" + _str("step_num") + b"K\x03s" + _str("train_state") + train_state + b"s."


def _touch(marker) -> bytes:
    return _global("posix", "system") + b"(" + _str(f"touch {marker}") + b"tR"  # os.system("touch ...")


def test_crafted_exploit_is_real_and_refused(tmp_path):
    marker, proof = tmp_path / "pwned", tmp_path / "proof"
    evil = _authors_dict(_touch(marker) + b"0" + _global("__main__", "TrainState"))
    # The crafted file does run a command under plain pickle (so this test can fail) ...
    try:
        pickle.loads(_authors_dict(_touch(proof) + b"0" + _global("__main__", "TrainState")))
    except AttributeError:  # no TrainState in this __main__; the command has run by then
        pass
    assert proof.exists()
    # ... and the loader refuses it, naming the global, with nothing executed.
    path = tmp_path / "dsprites_full.pkl"
    path.write_bytes(evil)
    with pytest.raises(CheckpointError, match=r"refusing to load posix\.system") as error:
        load_checkpoint(path)
    assert "\n" not in str(error.value) and not marker.exists()


@pytest.mark.parametrize(
    "train_state, message",
    [
        # TrainState reduced with a callable among its arguments
        (
            _global("__main__", "TrainState") + b"(" + _global("builtins", "eval") + _str("1") + b"NNNtR",
            r"refusing to load builtins\.eval",
        ),
        # TrainState whose "params" is an allowed callable instead of data
        (
            _global("__main__", "TrainState") + b"(" + _global("numpy", "dtype") + b"}NNNt\x81",
            r"the global numpy\.dtype stored as a value",
        ),
        # another class from __main__
        (_global("__main__", "Exploit") + b")\x81", r"refusing to load __main__\.Exploit"),
        # a BUILD that would rewire the stand-in class itself
        (
            _global("__main__", "TrainState") + b"N}" + _str("__new__") + _global("numpy", "dtype") + b"s\x86b",
            r"BUILD on the global __main__\.TrainState",
        ),
        # a jax array rebuilt by something other than numpy's _reconstruct
        (
            _global("jax._src.array", "_reconstruct_array")
            + b"("
            + _global("numpy", "dtype")
            + b"("
            + _str("f4")
            + b"t"
            + b"N}tR",
            r"a jax array from",
        ),
    ],
)
def test_malicious_variants_are_refused(tmp_path, train_state, message):
    path = tmp_path / "evil.pkl"
    path.write_bytes(_authors_dict(train_state))
    before = (authors_format.TrainStateRecord.__new__, dict(vars(authors_format.TrainStateRecord)))
    with pytest.raises(CheckpointError, match=message) as error:
        load_checkpoint(path)
    assert "\n" not in str(error.value)
    assert (authors_format.TrainStateRecord.__new__, dict(vars(authors_format.TrainStateRecord))) == before


def test_incomplete_authors_config_is_one_line(tmp_path):
    """A real TrainState with a config lacking a section: a one-line error naming the key."""
    path = write_authors_checkpoint(tmp_path)
    raw = read_with_pickle(path)
    raw["config"] = {k: v for k, v in raw["config"].items() if k != "model"}
    main = sys.modules["__main__"]
    main.TrainState = TrainState
    try:
        path.write_bytes(pickle.dumps(raw))
    finally:
        del main.TrainState
    with pytest.raises(CheckpointError, match=r"config has no model\.N") as error:
        load_checkpoint(path)
    assert "\n" not in str(error.value)
