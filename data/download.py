"""Fetch disentanglement_lib's data sets into `$DISENTANGLEMENT_LIB_DATA` (the command line:
scripts/download.py).

Every file goes first to its own partial file, `<file>.<source>.part` (two sources with the
same destination, like the two mpi3d_toy releases, never share one): an interrupted transfer
is resumed with an HTTP Range request on the next run, accepted only if the server's
Content-Range starts where the partial file ends (a 416 "range not satisfiable" only if the
partial file already has the full size the server reports), and only a file whose size (and
SHA-256, where one is on record in SOURCES) checks out is renamed to its final name. Archives are unpacked the same
way (to a `.part` name, then renamed), so nothing that looks complete is ever half-written.
"""
from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import re
import shutil
import socket
import sys
import tarfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from data._io import one_line
from data.atomic import atomic_write
from data.base import DataError, data_root
from data.nvidia3d import FALCOR3D, ISAAC3D, how_to_fetch


@dataclass(frozen=True)
class Source:
    """One downloadable file.

    url:    where it is published.
    dest:   where the download is stored, relative to $DISENTANGLEMENT_LIB_DATA.
    sha256: hex digest of the downloaded file, None until someone records it.
    size:   approximate size in bytes (for the plan printed before downloading), or None.
    unpack: None, "gunzip" (dest ends in .gz; the result drops the suffix) or "cars"
            (extract `data/cars/*` of the analogy-making archive into `cars/`).
    npz_keys: if set, the download must be an npz (a complete zip) holding these arrays;
            anything else (e.g. Google Drive's HTML page asking to confirm a large download)
            is deleted and refused with a one-line error that says how to fetch it by hand.
    by_hand: where a person can fetch the file in a browser (named in that error).
    """
    url: str
    dest: str
    sha256: str | None = None
    size: int | None = None
    unpack: str | None = None
    npz_keys: tuple[str, ...] | None = None
    by_hand: str | None = None

    @property
    def target(self) -> str:
        """The path (relative to the data root) whose presence means this file is done."""
        if self.unpack == "gunzip":
            return self.dest[:-len(".gz")]
        if self.unpack == "cars":
            return "cars"
        return self.dest


_NORB_URL = "https://cs.nyu.edu/~ylclab/data/norb-v1.0-small/"
_NORB_FILES = [f"smallnorb-5x{ids}x9x18x6x2x96x96-{split}-{kind}.mat"
               for ids, split in (("46789", "training"), ("01235", "testing"))
               for kind in ("dat", "cat", "info")]
_MPI3D_URL = "https://storage.googleapis.com/disentanglement_dataset/"
_MPI3D_COMPLEX_DRIVE_ID = "1Tp8eTdHxgUMtsZv5uAoYAbJR1BOa_OQm"

# THE table of sources: URL, destination, SHA-256 (None = not yet recorded: the digest of
# what is downloaded is printed so that it can be added here) and approximate size.
SOURCES: dict[str, Source] = {
    "dsprites": Source(
        "https://github.com/deepmind/dsprites-dataset/raw/master/"
        "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz",
        "dsprites/dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz", None, 26_000_000),
    "scream": Source(
        "https://upload.wikimedia.org/wikipedia/commons/f/f4/The_Scream.jpg",
        "scream/scream.jpg", None, None),
    **{f"norb_{name.split('-')[-2]}_{name.split('-')[-1][:-4]}": Source(
        _NORB_URL + name + ".gz", f"small_norb/{name}.gz", None, None, "gunzip")
       for name in _NORB_FILES},
    "cars": Source(
        "http://www.scottreed.info/files/nips2015-analogy-data.tar.gz",
        "nips2015-analogy-data.tar.gz", None, None, "cars"),
    "3dshapes_h5": Source(
        "https://storage.googleapis.com/3d-shapes/3dshapes.h5",
        "3dshapes/3dshapes.h5", None, None),
    # The file disentanglement_lib's script fetches for mpi3d_toy: the 2019 challenge
    # release (460,800 images, colour 4 x shape 4), which the paper's code assumes.
    "mpi3d_toy_challenge": Source(
        _MPI3D_URL + "data_npz/sim_toy_64x_ordered_without_heldout_factors.npz",
        "mpi3d_toy/mpi3d_toy.npz", None, 460_800 * 12_288),
    # The final public releases (1,036,800 images, colour 6 x shape 6).
    "mpi3d_toy_final": Source(
        _MPI3D_URL + "Final_Dataset/mpi3d_toy.npz", "mpi3d_toy/mpi3d_toy.npz",
        None, 1_036_800 * 12_288),
    "mpi3d_realistic": Source(
        _MPI3D_URL + "Final_Dataset/mpi3d_realistic.npz",
        "mpi3d_realistic/mpi3d_realistic.npz", None, 1_036_800 * 12_288),
    "mpi3d_real": Source(
        _MPI3D_URL + "Final_Dataset/mpi3d_real.npz", "mpi3d_real/mpi3d_real.npz",
        None, 1_036_800 * 12_288),
    # MPI3D real-world complex shapes: `real3d_complicated_shapes_ordered.npz`, on Google Drive
    # (the link in rr-learning/disentanglement_dataset's README; the QLAE code downloads the
    # same id). Drive may answer a script with a confirmation page instead of a 5.7 GB file.
    "mpi3d_complex": Source(
        f"https://drive.google.com/uc?export=download&id={_MPI3D_COMPLEX_DRIVE_ID}",
        "mpi3d_complex/mpi3d_complex.npz", None, 460_800 * 12_288, npz_keys=("images",),
        by_hand=f"https://drive.google.com/file/d/{_MPI3D_COMPLEX_DRIVE_ID}/view"),
}

_NORB_KEYS = [k for k in SOURCES if k.startswith("norb_")]
# data set name -> the sources it needs.
DATASETS: dict[str, list[str]] = {
    "dsprites_full": ["dsprites"],
    "dsprites_noshape": ["dsprites"],
    "color_dsprites": ["dsprites"],
    "noisy_dsprites": ["dsprites"],
    "scream_dsprites": ["dsprites", "scream"],
    "smallnorb": _NORB_KEYS,
    "cars3d": ["cars"],
    "shapes3d": ["3dshapes_h5"],
    "mpi3d_toy": ["mpi3d_toy_challenge"],
    "mpi3d_realistic": ["mpi3d_realistic"],
    "mpi3d_real": ["mpi3d_real"],
    "mpi3d_complex": ["mpi3d_complex"],
}

# What cannot be fetched, and what to do instead (printed whenever it is relevant).
NOT_FETCHABLE: dict[str, str] = {
    "shapes3d": (
        "disentanglement_lib's Shapes3D npz (3dshapes/look-at-object-room_...-view-azi.npz) was "
        "never published; the public 3dshapes.h5 is fetched instead and the loader reads it "
        "(same images, same factor order)."),
    "dsprites_procedural": "is generated in memory; there is nothing to download.",
    # Archives of 13 and 3.7 GB on Google Drive, which answers scripts with a confirmation page;
    # their format is not stated by the authors. Fetched by hand (docs/datasets.md).
    "isaac3d": "is not fetched by this script: " + how_to_fetch(ISAAC3D) + ".",
    "falcor3d": "is not fetched by this script: " + how_to_fetch(FALCOR3D) + ".",
}

CHUNK = 1 << 20


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _open(url: str, offset: int, timeout: float):
    """The HTTP response for `url` from byte `offset` (a Range request when offset > 0)."""
    request = urllib.request.Request(url, headers={"User-Agent": "lddr-data-download"})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    return urllib.request.urlopen(request, timeout=timeout)


class _Restart(Exception):
    """The partial file cannot be resumed; the message says why."""


_CONTENT_RANGE = re.compile(r"bytes\s+(?:(\d+)-(\d+)|\*)/(\d+|\*)")


def _content_range(header):
    """`bytes A-B/T` -> (A, B, T); `*` parts are None; None if the header is absent or malformed."""
    match = _CONTENT_RANGE.fullmatch((header or "").strip())
    if not match:
        return None
    start, end, total = match.groups()
    return (int(start) if start else None, int(end) if end else None,
            int(total) if total != "*" else None)


def _transfer(url, part, offset, name, progress, timeout):
    """Append the rest of `url` from byte `offset` to `part`; returns the full size if known."""
    try:
        response = _open(url, offset, timeout)
    except urllib.error.HTTPError as err:
        if err.code != 416 or not offset:
            raise
        # 416: the range starts at or past the end. Complete only if the server's total is
        # exactly what is already here.
        reported = _content_range(err.headers.get("Content-Range"))
        total = reported[2] if reported else None
        if total != offset:
            raise _Restart(f"the server refused a resume at byte {offset} (416) and reports "
                           f"{'no' if total is None else total} total size") from None
        return total
    with response:
        length = response.headers.get("Content-Length")
        if offset and response.status == 206:
            start, end, total = _content_range(response.headers.get("Content-Range")) or (
                None, None, None)
            if start != offset:
                raise _Restart(f"asked for bytes {offset}-, the server sent Content-Range "
                               f"{response.headers.get('Content-Range')!r}")
            if total is None and length is not None:
                total = offset + int(length)
        else:
            offset = 0      # no resume asked for, or the server ignored Range: from scratch
            total = int(length) if length is not None else None
        with open(part, "ab" if offset else "wb") as out, tqdm(
                total=total, initial=offset, unit="B", unit_scale=True, unit_divisor=1024,
                desc=name, disable=not progress, file=sys.stderr) as bar:
            while True:
                try:
                    block = response.read(CHUNK)
                except http.client.IncompleteRead as err:
                    out.write(err.partial)
                    bar.update(len(err.partial))
                    break
                if not block:
                    break
                out.write(block)
                bar.update(len(block))
    return total


def npz_problem(path: Path, keys) -> str | None:
    """Why `path` is not an npz holding `keys` (None if it is): not a zip (an HTML page, say),
    a zip without its central directory (truncated), or a zip without those arrays."""
    with open(path, "rb") as f:
        head = f.read(512)
    size = path.stat().st_size
    if head[:4] != b"PK\x03\x04":
        text = head.lstrip().lower()
        kind = "an HTML page" if text.startswith((b"<!doctype html", b"<html")) else "not a zip file"
        return f"{size} bytes, {kind}"
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
    except (zipfile.BadZipFile, OSError) as err:
        return f"{size} bytes, not a complete zip file ({one_line(err)})"
    missing = [k for k in keys if k + ".npy" not in names]
    if missing:
        return f"an npz without {missing} (found {sorted(names)})"
    return None


def download_file(url: str, dest, sha256: str | None = None, *, progress: bool = True,
                  timeout: float = 60.0, part=None, verify=None) -> Path:
    """Download `url` to `dest` via `part` (default `dest.part`), resuming it; return `dest`.

    The partial file is renamed to `dest` only after the transfer is complete (the size the
    server reports reached), `verify(part)` (if given) has returned None, and, if `sha256` is
    given, the digest matches. If `verify` returns a message, or on a digest mismatch, the file
    is deleted (resuming it could never succeed) and the message raised; a partial file the
    server cannot resume consistently (416 with another size, 206 from another byte) is
    restarted from scratch. Errors are `DataError`s of one line.
    """
    dest = Path(dest)
    part = Path(part) if part is not None else dest.with_name(dest.name + ".part")
    dest.parent.mkdir(parents=True, exist_ok=True)
    total = None
    for _attempt in range(2):
        offset = part.stat().st_size if part.exists() else 0
        try:
            total = _transfer(url, part, offset, dest.name, progress, timeout)
            break
        except _Restart as why:
            print(f"{part}: {why}; downloading {url} from the start", file=sys.stderr, flush=True)
            part.unlink()
        except (urllib.error.URLError, http.client.HTTPException, socket.timeout,
                ConnectionError, TimeoutError) as err:
            reason = getattr(err, "reason", None) or err
            have = part.stat().st_size if part.exists() else 0
            kept = f"{have} bytes kept in {part}, run again to resume" if have else "nothing saved"
            raise DataError(f"download of {url} failed ({one_line(reason)}); {kept}") from None
    else:
        raise DataError(f"download of {url}: the server did not resume consistently twice; "
                        f"try again later")
    have = part.stat().st_size
    if total is not None and have != total:
        raise DataError(f"download of {url} stopped at {have} of {total} bytes; the partial "
                        f"file {part} is kept, run again to resume")
    problem = verify(part) if verify is not None else None
    if problem is not None:
        part.unlink()
        raise DataError(problem)
    digest = _sha256(part)
    if sha256 is not None and digest != sha256.lower():
        part.unlink()
        raise DataError(f"checksum mismatch for {dest}: expected sha256 {sha256}, got {digest}; "
                        f"the download was deleted")
    if sha256 is None:
        print(f"sha256 {digest}  {dest.name} (no digest on record; add it to SOURCES in "
              f"data/download.py)", flush=True)
    os.replace(part, dest)
    return dest


def part_path(key: str, root: Path) -> Path:
    """The partial download of SOURCES[key]: named after the source, so each resumes its own."""
    archive = root / SOURCES[key].dest
    return archive.with_name(f"{archive.name}.{key}.part")


def gunzip(archive: Path, target: Path) -> None:
    """Decompress `archive` to `target` (atomically, data/atomic.py), then delete the archive."""
    try:
        with gzip.open(archive, "rb") as src, atomic_write(target, "wb") as out:
            shutil.copyfileobj(src, out, CHUNK)
    except (OSError, EOFError, gzip.BadGzipFile) as err:
        archive.unlink(missing_ok=True)
        raise DataError(f"{archive}: not a complete gzip file ({err}); it was deleted, run "
                        f"again to download it afresh") from None
    archive.unlink()


def extract_cars(archive: Path, target: Path) -> None:
    """Extract `data/cars/*` of the analogy-making archive into `target` (via `target.part`)."""
    part = target.with_name(target.name + ".part")
    shutil.rmtree(part, ignore_errors=True)
    part.mkdir(parents=True)
    count = 0
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                name = member.name
                if member.isfile() and name.startswith("data/cars/") and "/" not in name[10:]:
                    member.name = name[len("data/cars/"):]
                    tar.extract(member, part, filter="data")
                    count += 1
    except (OSError, EOFError, tarfile.TarError) as err:
        shutil.rmtree(part, ignore_errors=True)
        raise DataError(f"{archive}: cannot extract ({err}); delete it and run again") from None
    if count == 0:
        shutil.rmtree(part, ignore_errors=True)
        raise DataError(f"{archive}: no data/cars/ files inside, expected the Cars3D meshes")
    os.replace(part, target)
    archive.unlink()


def _verifier(source: Source, archive: Path):
    """The content check of `source` for `download_file` (None: size and digest only)."""
    if source.npz_keys is None:
        return None

    def verify(part: Path) -> str | None:
        problem = npz_problem(part, source.npz_keys)
        if problem is None:
            return None
        where = source.by_hand or source.url
        why = ("; Google Drive answers scripts with a confirmation page for large files"
               if "drive.google.com" in source.url else "")
        return (f"download of {source.url} is not the expected npz ({problem}{why}); it was "
                f"deleted. Fetch it by hand from {where} and save it as {archive}")
    return verify


def fetch_source(key: str, root: Path, *, progress: bool = True) -> Path:
    """Download (and unpack) one entry of SOURCES under `root`; skip it if already there."""
    source = SOURCES[key]
    target = root / source.target
    if target.exists():
        print(f"{key}: {target} already present, skipped", flush=True)
        return target
    archive = root / source.dest
    if not archive.exists():
        download_file(source.url, archive, source.sha256, progress=progress,
                      part=part_path(key, root), verify=_verifier(source, archive))
    if source.unpack == "gunzip":
        gunzip(archive, target)
    elif source.unpack == "cars":
        extract_cars(archive, target)
    print(f"{key}: {target} ready", flush=True)
    return target


def fetch_datasets(names: list[str], root: str | None = None, mpi3d_toy: str = "challenge",
                   progress: bool = True) -> None:
    """Fetch the named data sets into `root` (default: $DISENTANGLEMENT_LIB_DATA); `mpi3d_toy`:
    which release of that name ("challenge" or "final"). A one-line DataError for a bad name
    or a missing root."""
    unknown = [n for n in names if n not in DATASETS and n not in NOT_FETCHABLE]
    if unknown:
        raise DataError(f"unknown data set(s) {unknown}; expected some of: {', '.join(DATASETS)}")
    if not root and not os.environ.get("DISENTANGLEMENT_LIB_DATA"):
        data_root()  # raises the one-line "not set" error
    folder = Path(root or os.environ["DISENTANGLEMENT_LIB_DATA"]).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    keys = []
    for name in names:
        if name in NOT_FETCHABLE:
            print(f"note: {name}: {NOT_FETCHABLE[name]}", flush=True)
        for key in DATASETS.get(name, []):
            if key == "mpi3d_toy_challenge" and mpi3d_toy == "final":
                key = "mpi3d_toy_final"
            if key not in keys:
                keys.append(key)
    for key in keys:
        fetch_source(key, folder, progress=progress)
