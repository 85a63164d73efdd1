"""The downloader against a loopback HTTP server (127.0.0.1 only) that supports Range."""
import gzip
import hashlib
import io
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import data.download as dl
from data.base import DataError
from scripts import download as download_cli

BLOB = bytes(range(256)) * 4000          # ~1 MB: several read chunks
BLOB_SHA = hashlib.sha256(BLOB).hexdigest()


class Handler(BaseHTTPRequestHandler):
    """Serves `server.files[path]`; honours `Range: bytes=N-` unless `server.ignore_range`;
    when `server.cut_next` is set, sends the full Content-Length but only half the body.
    A range past the end gets 416 with `Content-Range: bytes */total` (none if
    `server.bare_416`); `server.shift_range` makes a 206 start that many bytes early."""

    def do_GET(self):
        server = self.server
        server.requests.append((self.path, self.headers.get("Range")))
        body = server.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        start = 0
        range_header = self.headers.get("Range")
        if range_header and not server.ignore_range:
            start = int(range_header.removeprefix("bytes=").rstrip("-"))
            if start >= len(body):
                self.send_response(416)
                if not server.bare_416:
                    self.send_header("Content-Range", f"bytes */{len(body)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            start -= server.shift_range
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        payload = body[start:]
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if server.cut_next:
            server.cut_next = False
            self.wfile.write(payload[: len(payload) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def server(monkeypatch):
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy",
                "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.files, httpd.requests = {"/blob.bin": BLOB}, []
    httpd.cut_next, httpd.ignore_range, httpd.bare_416, httpd.shift_range = False, False, False, 0
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


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
