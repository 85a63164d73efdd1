"""data/atomic.py: replace on success only, ordinary permissions, no temp file left."""
import json
import os

import pytest

from data.atomic import atomic_write


def test_success_replaces_with_ordinary_permissions(tmp_path):
    os.umask(0o022)
    path = tmp_path / "sub" / "x.json"
    with atomic_write(path, "w") as f:
        json.dump({"a": 1}, f)
        assert not path.exists()                                # nothing visible before the end
    assert json.loads(path.read_text()) == {"a": 1}
    assert path.stat().st_mode & 0o777 == 0o644                 # not mkstemp's 0600
    assert os.listdir(path.parent) == ["x.json"]


def test_failure_keeps_the_old_file_and_removes_the_temp(tmp_path):
    path = tmp_path / "x.bin"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_write(path) as f:
            f.write(b"half of the new")
            raise RuntimeError("interrupted")
    assert path.read_bytes() == b"old" and os.listdir(tmp_path) == ["x.bin"]
    with pytest.raises(ValueError, match="mode"):
        with atomic_write(path, "a"):
            pass


def test_checkpoints_and_eval_json_are_readable_by_others(tmp_path):
    from checkpoints.checkpoint import save_checkpoint
    from data.atomic import write_json_atomic
    os.umask(0o022)
    for path in (save_checkpoint(tmp_path / "c.pkl", {"step": 1}), write_json_atomic(tmp_path / "c.eval.json", {})):
        assert path.stat().st_mode & 0o777 == 0o644
    assert sorted(os.listdir(tmp_path)) == ["c.eval.json", "c.pkl"]


def test_without_replace_an_existing_file_is_kept(tmp_path):
    path = tmp_path / "x.bin"
    with atomic_write(path, replace=False) as f:        # a new name: written
        f.write(b"first")
    with pytest.raises(FileExistsError):
        with atomic_write(path, replace=False) as f:
            f.write(b"second")
    assert path.read_bytes() == b"first" and os.listdir(tmp_path) == ["x.bin"]
