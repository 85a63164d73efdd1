"""run.py's command line: the authors' command lines parse to the intended Config; bad input
gives one-line errors (resuming: tests/training/test_resume.py)."""
import pytest

import configs
import run
from configs import Config, ConfigError


def parse(argv):
    return run.config_from_args(run.parse_args(argv))


def test_readme_command_of_the_paper():
    config = parse("--dataset mpi3d_toy --gaussian --tc --gamma 30 --seed 42 --save_path ./".split())
    assert config == Config(dataset="mpi3d_toy", gaussian=True, tc=True, gamma=30.0, seed=42, save_path="./")
    assert config.model_name == "factor_vae"
    assert config.checkpoint_path().name == "mpi3d_toy_gauss_factor30.0_seed42.pkl"


def test_defaults_are_the_paper_protocol():
    config = parse([])
    assert (config.dataset, config.model_name, config.num_categories, config.num_latents) == (
        "dsprites_procedural", "dvae", 64, 10)
    assert (config.noise_scale_init, config.noise_scale_final, config.temperature) == (0.5, 2.0, 1.0)
    assert (config.batch_size, config.steps, config.log_every, config.eval_every, config.save_every) == (
        64, 300_000, 1_000, 10_000, 50_000)
    assert (config.learning_rate, config.discriminator_b1, config.discriminator_b2) == (1e-4, 0.5, 0.9)
    assert config.checkpoint_path().name == "dsprites_procedural_seed42.pkl"


def test_authors_flags_map_to_fields():
    config = parse("--dataset cars3d --K 32 --init 0.3 --final 1.5 --tc --gamma 10".split())
    assert (config.num_categories, config.noise_scale_init, config.noise_scale_final) == (32, 0.3, 1.5)
    assert config.model_name == "factor_dvae"
    assert config.checkpoint_path().name == "cars3d_factor10.0_seed42.pkl"
    extra = parse("--steps 200 --batch_size 32 --log_every 10 --eval_every 0 --save_every 50".split())
    assert (extra.steps, extra.batch_size, extra.log_every, extra.eval_every, extra.save_every) == (200, 32, 10, 0, 50)


def test_config_file_then_flags(tmp_path):
    path = tmp_path / "sweep.toml"
    path.write_text('dataset = "shapes3d"\ntc = true\ngamma = 20\nsteps = 1000\n')
    config = parse(["--config", str(path), "--gamma", "40"])
    assert (config.dataset, config.tc, config.gamma, config.steps) == ("shapes3d", True, 40.0, 1000)


@pytest.mark.parametrize("text, message", [
    ('gama = 3\n', "unknown key"),
    ('steps = "many"\n', "steps must be int"),
    ('steps = [\n', "not valid TOML"),
])
def test_bad_config_files(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        parse(["--config", str(path)])


def test_gamma_without_tc_is_refused():
    with pytest.raises(ConfigError, match="without --tc"):
        parse(["--gamma", "30"])


def test_unknown_dataset_lists_valid_names(capsys):
    assert run.main(["--dataset", "dsprite", "--steps", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "unknown data set 'dsprite'" in err and "dsprites_full" in err and "dsprites_procedural" in err


@pytest.mark.parametrize("dataset, path", [
    ("mpi3d_toy", "mpi3d_toy.npz"),
    ("mpi3d_complex", "mpi3d_complex/mpi3d_complex.npz"),
    ("isaac3d", "Isaac3D_down128/labels.npy"),
    ("falcor3d", "Falcor3D_down128/train-rec.labels"),
])
def test_missing_data_file_names_path_and_variable(tmp_path, monkeypatch, capsys, dataset, path):
    monkeypatch.setenv("DISENTANGLEMENT_LIB_DATA", str(tmp_path))
    # Reported before the model is initialised (its compiles take ~20 s on 2 cores).
    monkeypatch.setattr("training.loop.init_train_state", lambda *a: pytest.fail("initialised before the data"))
    assert run.main(["--dataset", dataset, "--steps", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: ")
    assert path in err and "DISENTANGLEMENT_LIB_DATA" in err


# Every setting no run can use, as a flag, as a config-file value and as a field (sweeps, stored
# checkpoint configs): (flag argv, field, value, the flag named in the error).
INVALID = [
    (["--K", "1"], "num_categories", 1, "--K"),
    (["--num_latents", "0"], "num_latents", 0, "--num_latents"),
    (["--steps", "0"], "steps", 0, "--steps"),
    (["--batch_size", "0"], "batch_size", 0, "--batch_size"),
    (["--tc", "--gamma", "-1"], "gamma", -1.0, "--gamma"),
    (["--init", "0"], "noise_scale_init", 0.0, "--init"),
    (["--final", "-2"], "noise_scale_final", -2.0, "--final"),
    (["--temperature", "0"], "temperature", 0.0, "--temperature"),
    (["--learning_rate=-1e-4"], "learning_rate", -1e-4, "--learning_rate"),
    (["--discriminator_b2", "1.5"], "discriminator_b2", 1.5, "--discriminator_b2"),
    (["--log_every", "-1"], "log_every", -1, "--log_every"),
    (["--tc", "--gamma", "inf"], "gamma", float("inf"), "--gamma"),
    (["--dataset", "nope"], "dataset", "nope", "--dataset"),
    # Upper bounds: each value is one a file's config once held (a traceback, a petabyte
    # allocation or a compile that never ends), refused in one line instead.
    (["--num_latents", "1025"], "num_latents", 1025, "--num_latents"),
    (["--K", str(2**62)], "num_categories", 2**62, "--K"),
    (["--hidden_size", "4097"], "hidden_size", 4097, "--hidden_size"),
    (["--batch_size", "200000"], "batch_size", 200_000, "--batch_size"),
    (["--batch_size", str(2**40)], "batch_size", 2**40, "--batch_size"),
    (["--steps", str(2**31)], "steps", 2**31, "--steps"),
    (["--save_every", str(10**9 + 1)], "save_every", 10**9 + 1, "--save_every"),
    (["--steps_per_dispatch", "100000"], "steps_per_dispatch", 100_000, "--steps_per_dispatch"),
    (["--seed", str(2**32)], "seed", 2**32, "--seed"),
    (["--seed=-1"], "seed", -1, "--seed"),
    (["--temperature", "1e-9"], "temperature", 1e-9, "--temperature"),
    (["--init", "1e30"], "noise_scale_init", 1e30, "--init"),
    (["--tc", "--gamma", "1e38"], "gamma", 1e38, "--gamma"),
    (["--learning_rate", "1e6"], "learning_rate", 1e6, "--learning_rate"),
    (["--seeds", "1,2,-3"], "seeds", "1,2,-3", "--seeds"),
    (["--seeds", ",".join(map(str, range(65)))], "seeds", ",".join(map(str, range(65))), "--seeds"),
]


@pytest.mark.parametrize("argv,field,value,flag", INVALID, ids=[i[1] + "=" + str(i[2]) for i in INVALID])
def test_invalid_settings_refused_in_one_line_everywhere(argv, field, value, flag, tmp_path, capsys, monkeypatch):
    import tomllib

    for user in ("training.loop", "checkpoints.restore"):   # every module that loads a data set for a run
        monkeypatch.setattr(f"{user}.get_dataset", lambda *a, **k: pytest.fail("data loaded before the check"))
    # Flags: run.py exits 2 with one line naming the flag, before any data is touched.
    assert run.main(argv + ["--save_path", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {flag}") and len(err[0]) < 300
    # A config file and a plain dict (sweeps and checkpoints build their configs this way).
    extra = {"tc": True} if field == "gamma" else {}
    toml = tmp_path / "bad.toml"
    toml.write_text("".join(f"{k} = {str(v).lower() if isinstance(v, bool) else repr(v)}\n"
                            for k, v in {field: value, **extra}.items()))
    with pytest.raises(ConfigError, match=flag.replace("(", r"\(")):
        configs.from_dict(tomllib.loads(toml.read_text()), where=str(toml))
    with pytest.raises(ConfigError, match=flag):
        Config().replace(**{field: value, **extra})


@pytest.mark.parametrize("value, message", [
    ("runs/a\0b", "holds a NUL character"),
    ("runs/\udc80", "holds a lone surrogate"),
    ("r" * 5000, "must be at most 4096 characters, got 5000"),
], ids=["nul", "surrogate", "long"])
def test_a_path_no_file_system_takes_is_refused_without_showing_it(value, message, capsys):
    """Refused for the flag, a config dict and a checkpoint's config alike; never echoed."""
    assert run.main(["--save_path", value, "--steps", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --save_path") and message in err[0]
    assert "\0" not in err[0] and "\udc80" not in err[0] and len(err[0]) < 200
    with pytest.raises(ConfigError, match=message):
        configs.from_dict({"save_path": value})


def test_the_encoders_last_layer_is_bounded(capsys):
    """N and K within their own bounds, but N x K logits per image (and hidden x N x K weights)
    beyond what the model runs; a Gaussian model has no K to multiply."""
    assert run.main(["--num_latents", "1000", "--K", "1000", "--steps", "1"]) == 2
    assert capsys.readouterr().err.startswith("error: --num_latents x --K must be at most 65,536")
    assert configs.from_dict({"num_latents": 1000, "num_categories": 1000, "gaussian": True}).num_latents == 1000


def test_a_huge_seeds_list_is_refused_without_printing_it(capsys):
    seeds = ",".join(map(str, range(150_000)))
    assert run.main(["--seeds", seeds, "--steps", "1"]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --seeds") and len(err[0]) < 200
    assert len(captured.out) < 200


@pytest.mark.parametrize("error", [
    "RESOURCE_EXHAUSTED: Out of memory while trying to allocate 68719476736 bytes.\nBufferAssignment OOM Debugging.",
    MemoryError("Unable to allocate 64.0 GiB for an array with shape (262144, 64, 64, 1)"),
])
def test_out_of_memory_is_one_line_and_other_errors_are_not_hidden(error, tmp_path, monkeypatch, capsys):
    import jax

    exception = jax.errors.JaxRuntimeError(error) if isinstance(error, str) else error

    def fails(*args, **kwargs):
        raise exception

    monkeypatch.setattr(run, "train", fails)
    assert run.main(["--steps", "10", "--save_path", str(tmp_path), "--no_progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: out of memory: ") and err.count("\n") == 1 and "--batch_size" in err
    assert ("68719476736 bytes" in err) if isinstance(error, str) else ("64.0 GiB" in err)
    # Any other runtime error is a bug to see whole, not a refusal.
    monkeypatch.setattr(run, "train", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("something else")))
    with pytest.raises(RuntimeError, match="something else"):
        run.main(["--steps", "10", "--save_path", str(tmp_path), "--no_progress"])
