"""configs: every Config field has exactly one role (configs.ROLES), and each role behaves as
documented on resume: identity refused, schedule refused unless asked (then recorded),
implementation and bookkeeping accepted; the shipped config files load."""
from __future__ import annotations

import dataclasses
import types

import pytest

import configs
from checkpoints.checkpoint import CheckpointError
from configs import BOOKKEEPING, IDENTITY, IMPLEMENTATION, SCHEDULE, Config
from tests.eval_fixtures import make_checkpoint
from training.resume import resume_config, resumed_history

# A changed value for each field that is valid for the tiny D-VAE of the fixture.
CHANGED = {
    "dataset": "dsprites_full", "gaussian": True, "num_latents": 4, "num_categories": 8, "hidden_size": 16,
    "tc": True, "gamma": None,   # gamma needs tc: changed together below
    "noise_scale_init": 0.7, "noise_scale_final": 1.5, "temperature": 0.5, "discriminator_second_batch": True,
    "learning_rate": 3e-4, "discriminator_learning_rate": 3e-4, "discriminator_b1": 0.4, "discriminator_b2": 0.8,
    "batch_size": 16, "steps": 99, "conv_impl": "xla",
    "seed": 7, "seeds": "", "log_every": 3, "eval_every": 0, "save_every": 5, "save_path": "elsewhere",
    "steps_per_dispatch": 2,
    "quantized": True, "num_values_per_latent": 6, "quantization_weight": 0.02, "commitment_weight": 0.03,
    "weight_decay": 0.2, "gradient_clip": 0.5,   # all but `quantized` tried on a QLAE checkpoint
}


def test_every_field_has_exactly_one_known_role():
    names = [f.name for f in dataclasses.fields(Config)]
    assert sorted(configs.ROLES) == sorted(names)
    assert set(configs.ROLES.values()) == {IDENTITY, SCHEDULE, IMPLEMENTATION, BOOKKEEPING}
    partition = [configs.fields_with(role) for role in (IDENTITY, SCHEDULE, IMPLEMENTATION, BOOKKEEPING)]
    assert sorted(n for part in partition for n in part) == sorted(names)
    assert set(CHANGED) == set(names)   # this test covers every field too


def test_roles_of_the_fields_that_matter_most():
    # Written out by hand: what makes a checkpoint another model, what changes the run's future.
    assert set(configs.fields_with(IDENTITY)) == {"dataset", "gaussian", "tc", "gamma", "num_latents",
                                                  "num_categories", "hidden_size", "quantized",
                                                  "num_values_per_latent"}
    assert {"steps", "noise_scale_init", "noise_scale_final", "learning_rate", "batch_size"} <= set(
        configs.fields_with(SCHEDULE))
    assert "seed" in configs.fields_with(BOOKKEEPING) and "save_path" in configs.fields_with(BOOKKEEPING)


def _changed(field):
    return {"tc": True, "gamma": 5.0} if field == "gamma" else {field: CHANGED[field]}


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """Untrained D-VAE and QLAE checkpoints (dsprites_procedural: one channel)."""
    one_channel = types.SimpleNamespace(observation_shape=(64, 64, 1))
    folder = tmp_path_factory.mktemp("roles")
    return {"dvae": make_checkpoint(folder, one_channel, batch_size=8),
            "qlae": make_checkpoint(folder, one_channel, batch_size=8, quantized=True)}


@pytest.fixture
def stored(checkpoints, field):
    """The checkpoint a changed `field` is valid for: QLAE's settings only on a QLAE."""
    return checkpoints["qlae" if field in configs.QLAE_FIELDS else "dvae"]


@pytest.mark.parametrize("field", configs.fields_with(IDENTITY))
def test_identity_change_refused_on_resume(stored, field):
    with pytest.raises(CheckpointError, match="changed"):
        resume_config(stored, _changed(field))


@pytest.mark.parametrize("field", configs.fields_with(SCHEDULE))
def test_schedule_change_refused_unless_allowed_then_recorded(stored, field):
    from checkpoints.checkpoint import load_checkpoint
    payload = load_checkpoint(stored)
    config = resume_config(stored, _changed(field))
    with pytest.raises(configs.ConfigError, match="allow_schedule_change"):
        resumed_history(payload, config, stored, allow_schedule_change=False)
    history = resumed_history(payload, config, stored, allow_schedule_change=True)
    assert list(history[-1]["changed"]) == [field]


@pytest.mark.parametrize("field", configs.fields_with(IMPLEMENTATION) + configs.fields_with(BOOKKEEPING))
def test_implementation_and_bookkeeping_free_on_resume(stored, field):
    from checkpoints.checkpoint import load_checkpoint
    config = resume_config(stored, _changed(field))
    assert getattr(config, field) == CHANGED[field]
    assert resumed_history(load_checkpoint(stored), config, stored, allow_schedule_change=False) == []


def test_shipped_config_files_load():
    from sweeps import grid as sweep_grid
    files = {p: configs.load_file(p) for p in configs.CONFIG_DIR.glob("*.toml")}
    # A file with a `models` list is a sweep (scripts/sweep.py); every other one is a run config.
    sweeps = [p for p, values in files.items() if "models" in values]
    run_configs = [p for p in files if p not in sweeps]
    assert len(run_configs) >= 3 and len(sweeps) >= 3
    for path in run_configs:
        configs.from_dict(files[path], where=str(path))
    for path in sweeps:
        assert sweep_grid.expand(sweep_grid.load_sweep(path), "results")
