"""scripts/download.py: fetches and unpacks into the layout the loaders read, skips what is there
(against the loopback server of tests/download_server.py)."""
import gzip
import hashlib
import io
import tarfile

import pytest

import data.download as dl
from scripts import download as download_cli
from tests.download_server import BLOB, BLOB_SHA, serve


@pytest.fixture
def server(monkeypatch):
    yield from serve(monkeypatch)


def cars_archive():
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, body in [("data/cars/car_001_mesh.mat", b"mesh1"),
                           ("data/cars/car_002_mesh.mat", b"mesh2"),
                           ("data/sprites/sprites.mat", b"other")]:
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    return buffer.getvalue()


def test_main_fetches_and_unpacks_into_the_layout(server, tmp_path, monkeypatch, capsys):
    gz = gzip.compress(b"norb matrix")
    cars = cars_archive()
    server.files.update({"/x.mat.gz": gz, "/cars.tar.gz": cars})
    monkeypatch.setattr(dl, "SOURCES", {
        "blob": dl.Source(server.url + "/blob.bin", "dsprites/blob.npz", BLOB_SHA),
        "norb": dl.Source(server.url + "/x.mat.gz", "small_norb/x.mat.gz",
                          hashlib.sha256(gz).hexdigest(), unpack="gunzip"),
        "cars": dl.Source(server.url + "/cars.tar.gz", "analogy.tar.gz", None, unpack="cars"),
    })
    monkeypatch.setattr(dl, "DATASETS", {"dsprites_full": ["blob"], "smallnorb": ["norb"],
                                         "cars3d": ["cars"], "shapes3d": []})
    monkeypatch.setenv("DISENTANGLEMENT_LIB_DATA", str(tmp_path / "dlib"))
    assert download_cli.main(["dsprites_full", "smallnorb", "cars3d", "shapes3d", "--no-progress"]) == 0
    root = tmp_path / "dlib"
    assert (root / "dsprites" / "blob.npz").read_bytes() == BLOB
    assert (root / "small_norb" / "x.mat").read_bytes() == b"norb matrix"
    assert not (root / "small_norb" / "x.mat.gz").exists()
    assert sorted(p.name for p in (root / "cars").iterdir()) == ["car_001_mesh.mat",
                                                                 "car_002_mesh.mat"]
    assert not (root / "analogy.tar.gz").exists()
    out = capsys.readouterr().out
    assert "never published" in out                              # says what it cannot fetch
    # A second run skips what is there, without requests.
    count = len(server.requests)
    assert download_cli.main(["dsprites_full", "smallnorb", "cars3d", "--no-progress"]) == 0
    assert len(server.requests) == count and "already present" in capsys.readouterr().out
    assert download_cli.main(["no_such_set"]) == 1
    assert "unknown data set" in capsys.readouterr().err
