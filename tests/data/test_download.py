"""The downloader against a loopback HTTP server (127.0.0.1 only) that supports Range."""
import gzip
import hashlib
import io

import numpy as np
import pytest

import data.download as dl
from data.base import DataError
from tests.download_server import BLOB, BLOB_SHA, serve


@pytest.fixture
def server(monkeypatch):
    yield from serve(monkeypatch)


def test_download_with_progress_and_checksum(server, tmp_path, capsys):
    dest = tmp_path / "sub" / "blob.bin"
    dl.download_file(server.url + "/blob.bin", dest, BLOB_SHA)
    assert dest.read_bytes() == BLOB
    assert not (tmp_path / "sub" / "blob.bin.part").exists()
    err = capsys.readouterr().err
    assert "blob.bin" in err and "100%" in err                  # the tqdm bar


def test_resume_after_interrupted_transfer(server, tmp_path):
    dest = tmp_path / "blob.bin"
    part = tmp_path / "blob.bin.part"
    server.cut_next = True
    with pytest.raises(DataError, match="run again to resume") as err:
        dl.download_file(server.url + "/blob.bin", dest, BLOB_SHA, progress=False)
    assert "\n" not in str(err.value)
    assert not dest.exists() and part.exists()
    have = part.stat().st_size
    assert 0 < have < len(BLOB)
    dl.download_file(server.url + "/blob.bin", dest, BLOB_SHA, progress=False)
    assert server.requests[-1] == ("/blob.bin", f"bytes={have}-")
    assert dest.read_bytes() == BLOB and not part.exists()


def test_server_ignoring_range_restarts_from_scratch(server, tmp_path):
    (tmp_path / "blob.bin.part").write_bytes(b"garbage")
    server.ignore_range = True
    dl.download_file(server.url + "/blob.bin", tmp_path / "blob.bin", BLOB_SHA, progress=False)
    assert (tmp_path / "blob.bin").read_bytes() == BLOB


def test_complete_part_file_is_verified_and_renamed(server, tmp_path):
    (tmp_path / "blob.bin.part").write_bytes(BLOB)              # server answers 416
    dl.download_file(server.url + "/blob.bin", tmp_path / "blob.bin", BLOB_SHA, progress=False)
    assert (tmp_path / "blob.bin").read_bytes() == BLOB


@pytest.mark.parametrize("extra, bare", [(b"tail", False), (b"", True)])
def test_416_is_accepted_only_at_the_reported_size(server, tmp_path, extra, bare):
    """A partial file longer than the file (e.g. two files spliced), or a 416 without a
    reported size, is not taken as complete: the download starts again."""
    (tmp_path / "blob.bin.part").write_bytes(BLOB + extra)
    server.bare_416 = bare
    dl.download_file(server.url + "/blob.bin", tmp_path / "blob.bin", BLOB_SHA, progress=False)
    assert (tmp_path / "blob.bin").read_bytes() == BLOB
    assert server.requests[-1] == ("/blob.bin", None)            # the fresh, whole request


def test_206_from_another_byte_restarts(server, tmp_path):
    (tmp_path / "blob.bin.part").write_bytes(BLOB[:1000])
    server.shift_range = 10
    dl.download_file(server.url + "/blob.bin", tmp_path / "blob.bin", None, progress=False)
    assert (tmp_path / "blob.bin").read_bytes() == BLOB
    assert [r for _, r in server.requests] == ["bytes=1000-", None]


def test_sources_with_one_destination_resume_their_own_part(server, tmp_path, monkeypatch):
    """The two mpi3d_toy releases share `mpi3d_toy/mpi3d_toy.npz`: an interrupted download of
    one must never be resumed with the other's bytes."""
    other = bytes(reversed(BLOB))
    server.files["/other.bin"] = other
    monkeypatch.setattr(dl, "SOURCES", {
        "one": dl.Source(server.url + "/blob.bin", "d/same.npz", BLOB_SHA),
        "two": dl.Source(server.url + "/other.bin", "d/same.npz",
                         hashlib.sha256(other).hexdigest())})
    assert dl.part_path("one", tmp_path) != dl.part_path("two", tmp_path)
    server.cut_next = True
    with pytest.raises(DataError, match="run again to resume"):
        dl.fetch_source("one", tmp_path, progress=False)
    have = dl.part_path("one", tmp_path).stat().st_size
    assert 0 < have < len(BLOB)
    dl.fetch_source("two", tmp_path, progress=False)               # not spliced onto "one"
    assert server.requests[-1] == ("/other.bin", None)
    assert (tmp_path / "d" / "same.npz").read_bytes() == other
    (tmp_path / "d" / "same.npz").unlink()
    dl.fetch_source("one", tmp_path, progress=False)               # resumes its own part
    assert server.requests[-1] == ("/blob.bin", f"bytes={have}-")
    assert (tmp_path / "d" / "same.npz").read_bytes() == BLOB


def test_checksum_mismatch_leaves_no_file(server, tmp_path):
    dest = tmp_path / "blob.bin"
    with pytest.raises(DataError, match=f"checksum mismatch for {dest}: expected sha256 0+, "
                                        f"got {BLOB_SHA}"):
        dl.download_file(server.url + "/blob.bin", dest, "0" * 64, progress=False)
    assert not dest.exists() and not (tmp_path / "blob.bin.part").exists()


def test_unknown_digest_is_printed(server, tmp_path, capsys):
    dl.download_file(server.url + "/blob.bin", tmp_path / "blob.bin", None, progress=False)
    assert f"sha256 {BLOB_SHA}  blob.bin" in capsys.readouterr().out


def test_http_and_connection_errors_are_one_line(server, tmp_path):
    with pytest.raises(DataError, match="/missing.bin failed"):
        dl.download_file(server.url + "/missing.bin", tmp_path / "m.bin", progress=False)
    server.shutdown()
    server.server_close()
    with pytest.raises(DataError, match="failed"):
        dl.download_file(server.url + "/blob.bin", tmp_path / "b.bin", progress=False)
    assert not (tmp_path / "m.bin").exists() and not (tmp_path / "b.bin").exists()


def test_table_covers_every_registered_name():
    from data import DATASET_NAMES
    for name in DATASET_NAMES:
        assert name in dl.DATASETS or name in dl.NOT_FETCHABLE, name
    for keys in dl.DATASETS.values():
        for key in keys:
            assert dl.SOURCES[key].url.startswith(("http://", "https://"))
    # Every source has its own partial file, also where two share a destination.
    parts = {dl.part_path(key, dl.Path("/root")) for key in dl.SOURCES}
    assert len(parts) == len(dl.SOURCES)
    assert dl.SOURCES["mpi3d_toy_challenge"].dest == dl.SOURCES["mpi3d_toy_final"].dest


def test_truncated_gzip_leaves_nothing_behind(tmp_path):
    archive, target = tmp_path / "x.mat.gz", tmp_path / "x.mat"
    archive.write_bytes(gzip.compress(b"norb matrix" * 1000)[:40])
    with pytest.raises(DataError, match="not a complete gzip file"):
        dl.gunzip(archive, target)
    assert list(tmp_path.iterdir()) == []                       # no target, no temp file, archive deleted
    archive.write_bytes(gzip.compress(b"norb matrix"))
    dl.gunzip(archive, target)
    assert target.read_bytes() == b"norb matrix" and not archive.exists()


def npz_bytes(**arrays):
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


DRIVE_PAGE = (b"<!DOCTYPE html><html><head><title>Google Drive - Virus scan warning</title></head>"
              b"<body>Google Drive can't scan this file for viruses.</body></html>")


@pytest.mark.parametrize("body, problem", [
    (DRIVE_PAGE, "bytes, an HTML page"),
    (b"\x00" * 5000, "bytes, not a zip file"),
    (None, "not a complete zip file"),              # an npz cut short: no central directory
    (npz_bytes(imgs=np.zeros(3, np.uint8)), r"an npz without \['images'\]"),
])
def test_npz_source_refuses_what_is_not_its_npz(server, tmp_path, monkeypatch, body, problem):
    """A Google Drive link may answer with a confirmation page (HTML) instead of the file: the
    download is deleted, and the one-line error says where to fetch it by hand and where to
    put it."""
    if body is None:
        body = npz_bytes(images=np.zeros((4, 64, 64, 3), np.uint8))[:30_000]
    server.files["/uc"] = body
    monkeypatch.setattr(dl, "SOURCES", {"complex": dl.Source(
        server.url + "/uc", "mpi3d_complex/mpi3d_complex.npz", npz_keys=("images",),
        by_hand="https://drive.google.com/file/d/ID/view")})
    with pytest.raises(DataError, match=problem) as err:
        dl.fetch_source("complex", tmp_path, progress=False)
    message = str(err.value)
    assert "\n" not in message
    assert ("Fetch it by hand from https://drive.google.com/file/d/ID/view and save it as "
            f"{tmp_path / 'mpi3d_complex' / 'mpi3d_complex.npz'}") in message
    assert list((tmp_path / "mpi3d_complex").iterdir()) == []       # nothing stored, no .part


def test_npz_source_keeps_its_npz(server, tmp_path, monkeypatch):
    body = npz_bytes(images=np.arange(4 * 64 * 64 * 3, dtype=np.uint64).astype(np.uint8)
                     .reshape(4, 64, 64, 3))
    server.files["/uc"] = body
    monkeypatch.setattr(dl, "SOURCES", {"complex": dl.Source(
        server.url + "/uc", "mpi3d_complex/mpi3d_complex.npz", npz_keys=("images",))})
    dl.fetch_source("complex", tmp_path, progress=False)
    assert (tmp_path / "mpi3d_complex" / "mpi3d_complex.npz").read_bytes() == body


def test_mpi3d_complex_source_is_the_published_drive_file():
    source = dl.SOURCES[dl.DATASETS["mpi3d_complex"][0]]
    assert "1Tp8eTdHxgUMtsZv5uAoYAbJR1BOa_OQm" in source.url
    assert "1Tp8eTdHxgUMtsZv5uAoYAbJR1BOa_OQm" in source.by_hand
    assert source.dest == "mpi3d_complex/mpi3d_complex.npz" and source.npz_keys == ("images",)
