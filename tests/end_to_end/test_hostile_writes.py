"""What a checkpoint from elsewhere cannot make a tool write: `run.py --resume` writes where
the user says (--save_path, or the resumed file's own folder), never where the file's config
says, and never over another run's checkpoint or log; `scripts/convert.py` never replaces an
existing file without --force and converts only the authors' own format."""
from pathlib import Path

import pytest

import run
from checkpoints.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from configs import Config
from scripts import convert as convert_cli
from tests.authors_fixtures import write_authors_checkpoint
from training.loop import train
from training.run_log import log_path

SMALL = dict(num_latents=3, num_categories=4, hidden_size=16, steps=8, batch_size=8, log_every=2, eval_every=0,
             save_every=4, steps_per_dispatch=2)


def _snapshot(folder: Path) -> dict:
    """Every file of a folder with its bytes and modification time."""
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.iterdir()) if p.is_file()}


def _stored(payload: dict) -> dict:
    return {k: v for k, v in payload.items() if k != "format_version"}


@pytest.fixture(scope="module")
def victim(tmp_path_factory, tiny_data):
    """A run interrupted at step 4 of 8 in its own folder: its checkpoint and its log."""
    folder = tmp_path_factory.mktemp("victim")
    config = Config(save_path=str(folder), **SMALL)
    train(config, data=tiny_data, progress=False, until=4, log=lambda *_: None)
    assert sorted(p.name for p in folder.iterdir()) == ["dsprites_procedural_seed42.log.jsonl",
                                                       "dsprites_procedural_seed42.pkl"]
    return config


def _error(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


def test_resume_writes_beside_the_file_not_where_its_config_says(victim, tiny_data, tmp_path):
    """A file whose stored save_path names another run's folder: that folder is not touched."""
    before = _snapshot(Path(victim.save_path))
    stranger = tmp_path / "downloads"
    payload = load_checkpoint(victim.checkpoint_path())        # same run name, save_path = the victim's
    path = save_checkpoint(stranger / "from_a_colleague.pkl", _stored(payload))
    config = run.config_from_args(run.parse_args(["--resume", str(path)]))
    assert config.save_path == str(stranger)
    train(config, data=tiny_data, progress=False, resume=path, log=lambda *_: None)
    assert _snapshot(Path(victim.save_path)) == before
    assert load_checkpoint(stranger / "dsprites_procedural_seed42.pkl")["step"] == 8
    # --save_path is the user's choice, and wins.
    mine = tmp_path / "mine"
    config = run.config_from_args(run.parse_args(["--resume", str(path), "--save_path", str(mine)]))
    assert config.checkpoint_path() == mine / "dsprites_procedural_seed42.pkl"


def test_the_authors_save_path_is_informational_too(tmp_path):
    (tmp_path / "theirs").mkdir()
    path = write_authors_checkpoint(tmp_path / "theirs", save_path=str(tmp_path / "elsewhere") + "/")
    config = run.config_from_args(run.parse_args(["--resume", str(path)]))
    assert config.save_path == str(tmp_path / "theirs")


def test_resume_refuses_to_replace_another_runs_checkpoint_or_log(victim, tmp_path, capsys):
    """A file in the victim's folder, under another name, whose run name is the victim's."""
    folder = Path(victim.save_path)
    before = _snapshot(folder)
    payload = load_checkpoint(victim.checkpoint_path())
    intruder = tmp_path / "intruder.pkl"
    save_checkpoint(intruder, _stored(payload))
    try:
        moved = folder / "intruder.pkl"
        intruder.rename(moved)
        before = {**before, "intruder.pkl": (moved.read_bytes(), moved.stat().st_mtime_ns)}
        assert run.main(["--resume", str(moved), "--no_progress"]) == 2
        line = _error(capsys)
        assert f"would write {victim.checkpoint_path()}" in line and "already exists" in line
        assert _snapshot(folder) == before
        # The log alone (a run whose checkpoint is gone) is protected as well.
        victim.checkpoint_path().rename(tmp_path / "away.pkl")
        assert run.main(["--resume", str(moved), "--no_progress"]) == 2
        assert f"{log_path(victim.checkpoint_path())} already exists" in _error(capsys)
    finally:
        (folder / "intruder.pkl").unlink(missing_ok=True)
        if (tmp_path / "away.pkl").exists():
            (tmp_path / "away.pkl").rename(victim.checkpoint_path())
    assert _snapshot(folder) == {k: v for k, v in before.items() if k != "intruder.pkl"}


def test_resume_of_a_finished_run_says_there_is_nothing_to_train(victim, tmp_path, capsys):
    payload = load_checkpoint(victim.checkpoint_path())
    path = save_checkpoint(tmp_path / "dsprites_procedural_seed42.pkl", _stored({**payload, "step": 8}))
    assert run.main(["--resume", str(path), "--no_progress"]) == 2
    assert "is at step 8 of the 8 steps to train: nothing to resume" in _error(capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dsprites_procedural_seed42.pkl"]


def test_convert_never_replaces_a_file(tmp_path, capsys):
    path = write_authors_checkpoint(tmp_path)
    neighbour = tmp_path / "dsprites_procedural_seed3.pkl"          # the default output's name
    neighbour.write_bytes(b"a colleague's run")
    assert convert_cli.main([str(path)]) == 2
    assert f"{neighbour} already exists; not replaced" in _error(capsys)
    explicit = tmp_path / "mine.pkl"
    explicit.write_bytes(b"mine")
    assert convert_cli.main([str(path), str(explicit)]) == 2
    assert f"{explicit} already exists" in _error(capsys)
    assert neighbour.read_bytes() == b"a colleague's run" and explicit.read_bytes() == b"mine"
    assert convert_cli.main([str(path), str(explicit), "--force"]) == 0
    assert load_checkpoint(explicit)["converted_from"] == str(path)


def test_convert_refuses_our_format_whatever_it_says(victim, tmp_path, capsys):
    """A file of this project's format claiming "source": "authors" cannot pass for theirs
    (which would let it name the neighbour the conversion writes)."""
    payload = load_checkpoint(victim.checkpoint_path())
    neighbour = tmp_path / "dsprites_procedural_seed42.pkl"
    neighbour.write_bytes(b"a colleague's run")
    for extra in ({"source": "authors"}, {"source": "authors", "seed_known": True}):
        path = save_checkpoint(tmp_path / "claims_authors.pkl", _stored({**payload, **extra}))
        assert convert_cli.main([str(path)]) == 2
        line = _error(capsys)
        assert "not a checkpoint of the authors' code" in line or "unexpected keys: 'seed_known'" in line
    assert neighbour.read_bytes() == b"a colleague's run"
    with pytest.raises(CheckpointError, match="unexpected keys: 'seed_known'"):
        load_checkpoint(path)
