"""Checkpoints from the authors' run.py: read safely, mapped, evaluated, plotted, tabled,
resumed and converted (checkpoints/authors_format.py, training/convert.py)."""
import json
import pickle
import struct
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import eval as ev
import run
from analysis import model_figures
from checkpoints import authors_format, checkpoint
from checkpoints.checkpoint import CheckpointError, load_checkpoint
from checkpoints.restore import restore_parameters
from evaluation.evaluate import EvalOptions, evaluate_checkpoint
from evaluation.protocol import result_path
from models import build_model
from models.representation import make_representation_function
from scripts import convert as convert_cli
from scripts import tables
from sweeps import status as sweep_status
from tests.authors_fixtures import (
    TrainState,
    authors_representation,
    cosine_scale,
    read_with_pickle,
    write_authors_checkpoint,
)
from training.convert import convert
from training.loop import train
from training.resume import restore_train_state, resume_config

SMALL = {"mig": {"num_train": 300}, "modularity": {"num_train": 300, "num_test": 100},
         "sap": {"num_train": 300, "num_test": 100},
         "factor_vae": {"num_train": 30, "num_eval": 20, "num_variance_estimate": 300},
         "beta_vae": {"num_train": 30, "num_eval": 20}, "dci": {"num_train": 200, "num_test": 100},
         "st_gap": {"num_batches": 2, "batch_size": 16}, "elbo": {"num_batches": 2, "batch_size": 16}}
FACTOR_VAE = {"gaussian": True, "tc": True, "gamma": 30.0}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The authors' D-VAE and FactorVAE (--gaussian --tc --gamma 30) after 3 of 8 steps."""
    folder = tmp_path_factory.mktemp("authors")
    return {"dvae": write_authors_checkpoint(folder), "factor_vae": write_authors_checkpoint(folder, **FACTOR_VAE)}


class _Recorder(pickle.Unpickler):
    """Plain pickle with the real classes (our own test file), recording the globals it names."""
    def __init__(self, f):
        super().__init__(f)
        self.names = set()

    def find_class(self, module, name):
        self.names.add(f"{module}.{name}")
        return TrainState if (module, name) == ("__main__", "TrainState") else super().find_class(module, name)


def test_file_names_and_globals_are_exactly_those_allowed(files):
    assert files["dvae"].name == "dsprites_procedural.pkl"
    assert files["factor_vae"].name == "dsprites_procedural_gauss_factor30.0.pkl"
    for path in files.values():
        with open(path, "rb") as f:
            recorder = _Recorder(f)
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


def test_convert_writes_this_projects_format_with_the_seed(files, tmp_path, capsys):
    assert convert_cli.main([str(files["dvae"])]) == 0
    out = files["dvae"].with_name("dsprites_procedural_seed3.pkl")
    assert f"wrote {out}" in capsys.readouterr().out
    with open(out, "rb") as f:
        recorder = _Recorder(f)
        raw = recorder.load()
    assert all(n.startswith("numpy") for n in recorder.names), recorder.names  # no stand-ins needed
    original, converted = load_checkpoint(files["dvae"]), load_checkpoint(out)
    assert raw["converted_from"] == str(files["dvae"]) and converted["source"] == "authors"
    for key in ("model", "dataset", "step", "config", "params_disc", "opt_state_disc"):
        assert converted[key] == original[key], key
    for a, b in zip(
        jax.tree_util.tree_leaves((original["params"], original["state"], original["opt_state"], original["rng"])),
        jax.tree_util.tree_leaves((converted["params"], converted["state"], converted["opt_state"], converted["rng"])),
    ):
        np.testing.assert_array_equal(a, b)
        assert a.dtype == b.dtype
    explicit = tmp_path / "sub" / "mine.pkl"
    assert convert_cli.main([str(files["factor_vae"]), str(explicit)]) == 0 and explicit.is_file()
    assert convert_cli.main([str(out)]) == 2  # already ours: nothing to convert
    assert "not a checkpoint of the authors' code" in capsys.readouterr().err


@pytest.fixture(scope="module")
def evaluated(files, tiny_data):
    """The authors' two files evaluated, and the converted twin of the D-VAE (MIG, DCI and the
    gap: the read-out, the RandomState's sequence and the gap's sampling; all six metrics take
    twice as long)."""
    twin = convert(files["dvae"], files["dvae"].parent / "twin" / "dsprites_procedural_seed3.pkl")
    return {
        name: evaluate_checkpoint(
            path,
            EvalOptions(metrics=["mig", "dci", "st_gap"], settings=SMALL, progress=False),
            data=tiny_data,
            log=lambda *_: None,
        )
        for name, path in [("dvae", files["dvae"]), ("factor_vae", files["factor_vae"]), ("twin", twin)]
    }


def test_eval_of_authors_file_equals_its_converted_twin(evaluated, files):
    ours, twin = evaluated["dvae"], evaluated["twin"]
    assert set(ours["results"]) >= {"mig", "dci_disentanglement", "st_gap"}
    assert ours["results"] == twin["results"]  # exactly: same read-out, same RandomState
    written = json.loads(result_path(files["dvae"]).read_text())
    assert written["source"] == "authors" and written["seed"] == 3 and written["step"] == 3
    assert written["model"] == "dvae" and result_path(files["dvae"]).name == "dsprites_procedural.eval.json"
    factor = json.loads(result_path(files["factor_vae"]).read_text())
    assert (factor["source"], factor["model"], factor["gamma"]) == ("authors", "factor_vae", 30.0)
    assert "st_gap" not in factor["results"]  # Gaussian: no gap


def test_eval_command_line_on_authors_file(files, tiny_data, capsys, tmp_path):
    copy = tmp_path / files["factor_vae"].name
    copy.write_bytes(files["factor_vae"].read_bytes())
    assert ev.main(["--save_file", str(copy), "--metrics", "mig", "--fast", "--no_progress"], data=tiny_data) == 0
    assert json.loads(result_path(copy).read_text())["source"] == "authors"
    assert "factor_vae on dsprites_procedural, gamma 30.0, seed 3, step 3" in capsys.readouterr().out


def test_tables_and_sweep_read_them(evaluated, files, capsys):
    assert tables.main([str(files["dvae"].parent)]) == 0
    out = capsys.readouterr().out
    assert "D-VAE" in out and "FactorVAE γ=30" in out
    assert sweep_status.checkpoint_step(files["dvae"]) == 3


def test_visualize_authors_files(files, tiny_data, tmp_path):
    paths = model_figures.visualize(
        files["dvae"], out=tmp_path, compare=files["factor_vae"], data=tiny_data, steps=4, num_images=3, num_points=100
    )
    names = {p.name for p in paths}
    assert "dsprites_procedural_seed3_traversals.png" in names
    assert "dsprites_procedural_seed3_vs_dsprites_procedural_gauss_factor30.0_seed3_scatter.png" in names
    assert all(p.stat().st_size > 1000 for p in paths)


@pytest.mark.parametrize("kind", ["dvae", pytest.param("factor_vae", marks=pytest.mark.slow)])
def test_resume_continues_schedule_and_adam_bit_for_bit(files, kind, tiny_data, tmp_path):
    """2 steps from the authors' file == 2 steps from its converted twin, and they continue
    its step count, Adam count and (D-VAE) the noise schedule of its 8 steps."""
    twin = convert(files[kind], tmp_path / "twin.pkl")
    states = []
    for name, path in [("authors", files[kind]), ("twin", twin)]:
        args = run.parse_args(["--resume", str(path), "--save_path", str(tmp_path / name), "--steps_per_dispatch", "2"])
        config = run.config_from_args(args)
        assert (config.seed, config.steps) == (3, 8)
        states.append(train(config, data=tiny_data, resume=path, progress=False, until=5, log=lambda *_: None))
    a, b = states
    assert int(a.step) == 5 and int(a.opt_state[0].count) == 5
    for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    if kind == "dvae":  # the last step (index 4) used the scale of their schedule at t = 4 of T = 8
        assert float(a.state["codebook"]["scale"]) == pytest.approx(cosine_scale(4, 0.5, 2.0, 8), abs=1e-6)
    assert load_checkpoint(config.replace(save_path=str(tmp_path / "authors")).checkpoint_path())["step"] == 5


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
