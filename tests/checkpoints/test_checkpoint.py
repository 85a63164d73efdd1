"""Checkpoints (checkpoints/checkpoint.py): a malicious pickle refused with nothing run, one-line
errors for bad and truncated files, atomic writes."""
import os
import pickle

import numpy as np
import pytest

from checkpoints.checkpoint import CheckpointError, load_checkpoint, save_checkpoint


class Exploit:
    def __reduce__(self):
        return (os.system, ("touch " + os.environ["LDDR_PWNED"],))


def test_malicious_pickle_is_refused_and_nothing_runs(tmp_path, monkeypatch):
    marker = tmp_path / "pwned"
    monkeypatch.setenv("LDDR_PWNED", str(marker))
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"format_version": 1, "params": Exploit()}))
    with pytest.raises(CheckpointError, match="refusing to load"):
        load_checkpoint(path)
    assert not marker.exists()


@pytest.mark.parametrize("content, message", [
    (b"not a pickle", "not a readable checkpoint"),
    (pickle.dumps([1, 2, 3]), "not an lddr checkpoint"),
    (pickle.dumps({"format_version": 99}), "format_version is 99; this code reads 1"),
])
def test_bad_files_give_one_line_errors(tmp_path, content, message):
    path = tmp_path / "x.pkl"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=message) as error:
        load_checkpoint(path)
    assert "\n" not in str(error.value)


def test_truncated_checkpoint_is_refused(tmp_path):
    path = save_checkpoint(tmp_path / "a.pkl", {"params": {"w": np.ones((100, 100))}})
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_checkpoint(path)


def test_interrupted_write_leaves_previous_checkpoint(tmp_path, monkeypatch):
    path = save_checkpoint(tmp_path / "run.pkl", {"step": 1})
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(pickle, "dump", crash)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, {"step": 2})
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.pkl"]   # no temp file left
