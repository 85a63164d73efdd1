"""Isaac3D and Falcor3D (Nie et al. 2020, NVlabs/High-res-disentanglement-datasets), in the
128 x 128 versions that the QLAE code (latent_quantization at 9a420a3) reads.

Files under `$DISENTANGLEMENT_LIB_DATA`, as the authors' 128 x 128 archives unpack:
  `Isaac3D_down128/images/{i:06}.png`   737,280 RGB PNGs of 128 x 128
  `Isaac3D_down128/labels.npy`          [737280, 9] factor values
  `Falcor3D_down128/images/{i:06}.png`  233,280 RGB PNGs of 128 x 128
  `Falcor3D_down128/train-rec.labels`   [233280, 7] factor values, an .npy file despite its name
                                        (the QLAE builder reads it with `np.load`)
Row i of the labels belongs to image i. Factors, in label-column order (all latent):
  Isaac3D:  object shape 3, robot x 8, robot y 5, camera height 4, object scale 4,
            lighting intensity 4, lighting y-direction 6, object colour 4, wall colour 4
  Falcor3D: lighting intensity 5, lighting x, y, z-direction 6 each, camera x, y, z-position 6 each
The labels are values in [0, 1] (floats); a factor's classes are the sorted distinct values of
its column, and a lookup table built from the labels maps each factor tuple to its image (the
authors number the files in C order of the factors; the labels decide, and a table that leaves
out or repeats a combination is refused).

Images: QLAE shrinks each PNG to 64 x 64 with `tf.image.resize(x, [64, 64], method='bicubic',
antialias=True)` and keeps the float: observation = clip(x / 255, 0, 1). The resize is
`data.tf_resize` (TensorFlow's result to the last bit). Stored per `pixels`:
  "uint8" (default)  the resized value rounded to the nearest grey level after clipping to
                     [0, 255]; observation = value / 255, within 0.5 / 255 of QLAE's
                     (Isaac3D 9.1 GB, Falcor3D 2.9 GB);
  "float32"          QLAE's observation itself, bit for bit (4x the memory: 36.2 / 11.5 GB).
Decoding and resizing every PNG takes a while (minutes; the time is printed), so the first load
writes the result to `<name>_64x64_<pixels>.npz` in the data folder (atomically, `cache_dir`
elsewhere), and later loads memory-map it. The cache records the image count, the storage
format and the labels file's SHA-256; one that does not match them is rebuilt. Delete it after
replacing the PNGs. Where the folder is not writable the images are kept in memory instead.
"""
from __future__ import annotations

import hashlib
import os
import time
import zipfile
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import numpy as np
from PIL import Image

from data._io import check_array, gigabytes, log, one_line, read_npz, timed
from data.atomic import atomic_write
from data.base import DataError, FactorSpace, GroundTruthData, data_root
from data.norb import lookup_table
from data.tf_resize import resize_bicubic_antialias

SOURCE_SIZE = 128          # the PNGs' height and width
IMAGE_SIZE = 64
CACHE_FORMAT = 1           # bump when the decoding, resize or storage changes
CHUNK = 64                 # images decoded and resized per task
PIXELS = ("uint8", "float32")
PNG_MODES = ("RGB", "RGBA", "L", "P")   # 8-bit modes; made RGB as tf.io.decode_png(channels=3) does


@dataclass(frozen=True)
class Scene:
    """One of the two data sets: where its files are and what its factors are."""
    name: str
    folder: str
    labels: str
    factor_names: tuple[str, ...]
    factor_sizes: tuple[int, ...]
    archive: str           # the authors' name and size of the 128 x 128 download
    url: str               # as published in NVlabs/High-res-disentanglement-datasets' README


ISAAC3D = Scene(
    "isaac3d", "Isaac3D_down128", "labels.npy",
    ("object_shape", "robot_x", "robot_y", "camera_height", "object_scale",
     "lighting_intensity", "lighting_y_dir", "object_color", "wall_color"),
    (3, 8, 5, 4, 4, 4, 6, 4, 4), "Isaac3D_128x128 (13 GB)",
    "https://drive.google.com/uc?export=download&id=1OmQ1G2wnm6eTsSFGTKFZZAh5D3nQTW1B")
FALCOR3D = Scene(
    "falcor3d", "Falcor3D_down128", "train-rec.labels",
    ("lighting_intensity", "lighting_x_dir", "lighting_y_dir", "lighting_z_dir",
     "camera_x_pos", "camera_y_pos", "camera_z_pos"),
    (5, 6, 6, 6, 6, 6, 6), "Falcor3D_128x128 (3.7 GB)",
    "https://drive.google.com/uc?export=download&id=1XAQfFK1x6cpN1eiovbP0hVfLTm5SsSoJ")


def how_to_fetch(scene: Scene) -> str:
    """The one-line instruction for fetching `scene` by hand."""
    return (f"download {scene.archive} by hand from {scene.url} and unpack it in "
            f"$DISENTANGLEMENT_LIB_DATA so that {scene.folder}/{scene.labels} and "
            f"{scene.folder}/images/000000.png exist")


def read_labels(path: Path, num_factors: int) -> np.ndarray:
    """The labels array [n, num_factors] of an .npy file (whatever its name), one-line errors."""
    try:
        labels = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as err:
        raise DataError(f"{path}: not a readable .npy file ({one_line(err)}); it may be "
                        f"truncated, download it again") from None
    if not isinstance(labels, np.ndarray):
        labels.close()
        raise DataError(f"{path}: an .npz archive, expected one .npy array [n, {num_factors}]")
    if labels.dtype.kind not in "fiu":
        raise DataError(f"{path}: labels of dtype {labels.dtype}, expected numbers")
    return check_array(labels, path, "labels", None, (None, num_factors))


def factor_classes(labels: np.ndarray, sizes, names, path) -> tuple[np.ndarray, list]:
    """(classes int64 [n, k], values per factor): class = rank among the column's distinct values."""
    classes = np.empty(labels.shape, np.int64)
    values = []
    for j, (size, name) in enumerate(zip(sizes, names)):
        distinct, classes[:, j] = np.unique(labels[:, j], return_inverse=True)
        if distinct.size != size:
            raise DataError(f"{path}: label column {j} ({name}) has {distinct.size} distinct "
                            f"values, expected {size} (factor sizes {list(sizes)})")
        values.append(distinct)
    return classes, values


def read_png(path: Path) -> np.ndarray:
    """uint8 [128, 128, 3] of one PNG; one-line errors for a missing, unreadable or odd file."""
    try:
        with Image.open(path) as image:
            if image.size != (SOURCE_SIZE, SOURCE_SIZE):
                raise DataError(f"{path}: {image.size[0]} x {image.size[1]} image, expected "
                                f"{SOURCE_SIZE} x {SOURCE_SIZE}")
            if image.mode not in PNG_MODES:
                raise DataError(f"{path}: PNG mode {image.mode!r}, expected 8-bit RGB")
            return np.asarray(image if image.mode == "RGB" else image.convert("RGB"))
    except FileNotFoundError:
        raise DataError(f"{path}: missing (expected one PNG per labels row, "
                        f"images/000000.png onwards)") from None
    except (OSError, SyntaxError, ValueError) as err:
        raise DataError(f"{path}: not a readable PNG ({one_line(err)}); it may be truncated, "
                        f"unpack the archive again") from None


def encode(resized: np.ndarray, pixels: str) -> np.ndarray:
    """float32 resize output -> the stored pixels (module docstring)."""
    if pixels == "uint8":
        return np.rint(np.clip(resized, 0, 255)).astype(np.uint8)
    return np.clip(resized / np.float32(255), np.float32(0), np.float32(1))


def decoded_chunks(images_dir: Path, num_images: int, pixels: str, workers: int):
    """Stored pixels of images 0..n-1 in order, CHUNK at a time, decoded and resized by
    `workers` threads (Pillow's decoder and numpy release the GIL); progress every 10%."""
    def work(start):
        stop = min(start + CHUNK, num_images)
        raw = np.empty((stop - start, SOURCE_SIZE, SOURCE_SIZE, 3), np.uint8)
        for i in range(start, stop):
            raw[i - start] = read_png(images_dir / f"{i:06}.png")
        return encode(resize_bicubic_antialias(raw, (IMAGE_SIZE, IMAGE_SIZE)), pixels)

    starts = iter(range(0, num_images, CHUNK))
    begin, reported, done = time.perf_counter(), 0, 0
    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        pending = deque(pool.submit(work, s) for s in islice(starts, 2 * workers))
        while pending:
            chunk = pending.popleft().result()
            following = next(starts, None)
            if following is not None:
                pending.append(pool.submit(work, following))
            done += chunk.shape[0]
            if done * 10 // num_images > reported and done < num_images:
                reported = done * 10 // num_images
                elapsed = time.perf_counter() - begin
                log(f"  {done} of {num_images} images decoded and resized in {elapsed:.0f} s "
                    f"(about {elapsed * (num_images - done) / done:.0f} s to go)")
            yield chunk
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def write_cache(path: Path, chunks, shape, dtype, key: str) -> None:
    """An npz with `images` (streamed from `chunks`, never whole in memory) and `key`, written
    atomically, members uncompressed so that `read_npz(mmap=True)` maps them."""
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False,
              "shape": tuple(shape)}
    with atomic_write(path, "wb") as f, zipfile.ZipFile(f, "w", zipfile.ZIP_STORED) as zf:
        with zf.open("key.npy", "w") as member:
            np.lib.format.write_array(member, np.frombuffer(key.encode(), np.uint8))
        with zf.open("images.npy", "w", force_zip64=True) as member:
            np.lib.format.write_array_header_1_0(member, header)
            written = 0
            for chunk in chunks:
                member.write(np.ascontiguousarray(chunk, dtype).tobytes())
                written += chunk.shape[0]
            if written != shape[0]:
                raise DataError(f"{path}: wrote {written} images, expected {shape[0]}")


def read_cache(path: Path, key: str, shape, dtype):
    """The memory-mapped images of a cache that matches `key`, else (None, why not)."""
    try:
        arrays = read_npz(path, ["images", "key"], mmap=True)
    except DataError:
        return None, "cannot be read (truncated or corrupt)"
    found = bytes(np.asarray(arrays["key"], np.uint8)).decode(errors="replace")
    if found != key:
        return None, f"was made for another file or format ({found})"
    images = arrays["images"]
    if images.dtype != np.dtype(dtype) or images.shape != tuple(shape):
        return None, f"holds {images.dtype} {list(images.shape)}, expected {np.dtype(dtype)} {list(shape)}"
    return images, None


class NvidiaScene(GroundTruthData):
    """Isaac3D or Falcor3D: stored pixels [n, 64, 64, 3] (uint8 or float32), all factors latent.

    Overrides: `root` (instead of $DISENTANGLEMENT_LIB_DATA), `factor_sizes` (small test
    folders), `pixels` ("uint8" or "float32"), `cache_dir` (instead of the data folder),
    `workers` (decoding threads for the first load).
    """

    def __init__(self, scene: Scene, factor_sizes=None, root=None, pixels="uint8", cache_dir=None,
                 workers=None):
        if pixels not in PIXELS:
            raise DataError(f"{scene.name}: pixels={pixels!r}, expected one of {PIXELS}")
        self.name, self.scene, self.pixels = scene.name, scene, pixels
        sizes = tuple(int(s) for s in (factor_sizes or scene.factor_sizes))
        if len(sizes) != len(scene.factor_sizes):
            raise DataError(f"{scene.name}: {len(sizes)} factor sizes, expected "
                            f"{len(scene.factor_sizes)} ({', '.join(scene.factor_names)})")
        folder = (Path(root) if root else data_root()) / scene.folder
        labels_path = folder / scene.labels
        if not labels_path.is_file():
            raise DataError(f"{scene.name}: expected the file {labels_path} and the PNGs in "
                            f"{folder / 'images'}; {how_to_fetch(scene)}")
        num_images = int(np.prod(sizes))
        labels = read_labels(labels_path, len(sizes))
        if labels.shape[0] != num_images:
            raise DataError(f"{labels_path}: {labels.shape[0]} rows, expected {num_images} "
                            f"(factor sizes {list(sizes)})")
        classes, self.factor_values = factor_classes(labels, sizes, scene.factor_names, labels_path)
        self.table = lookup_table(sizes, classes, labels_path)
        digest = hashlib.sha256(labels_path.read_bytes()).hexdigest()
        key = (f"lddr {scene.name} cache format {CACHE_FORMAT}: {num_images} PNGs of "
               f"{scene.folder}/images resized to {IMAGE_SIZE}x{IMAGE_SIZE} as tf.image.resize "
               f"bicubic antialias, pixels {pixels}; labels sha256 {digest}")
        cache = Path(cache_dir) if cache_dir else folder
        self.images = self._load(folder / "images", cache / f"{scene.name}_64x64_{pixels}.npz",
                                 key, num_images, workers or min(8, os.cpu_count() or 1))
        self.factor_space = FactorSpace(sizes, range(len(sizes)))
        self.pixel_divisor = 255.0 if pixels == "uint8" else 1.0
        where = "memory-mapped" if isinstance(self.images, np.memmap) else "in RAM"
        log(f"{scene.name}: {num_images} images, {gigabytes(self.images)} {where}")

    def _load(self, images_dir: Path, path: Path, key: str, num_images: int, workers: int):
        shape = (num_images, IMAGE_SIZE, IMAGE_SIZE, 3)
        dtype = np.uint8 if self.pixels == "uint8" else np.float32
        if path.is_file():
            with timed(f"loaded {self.name} from the cache {path}"):
                images, why = read_cache(path, key, shape, dtype)
            if images is not None:
                return images
            log(f"{self.name}: the cache {path} {why}; decoding the PNGs again")
        start = time.perf_counter()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError:
            pass
        with closing(decoded_chunks(images_dir, num_images, self.pixels, workers)) as chunks:
            if not os.access(path.parent, os.W_OK):
                log(f"{self.name}: cannot write a cache in {path.parent}; the images are kept "
                    f"in memory and decoded again on the next load (pass cache_dir to keep them)")
                images = np.empty(shape, dtype)
                done = 0
                for chunk in chunks:
                    images[done:done + chunk.shape[0]] = chunk
                    done += chunk.shape[0]
                log(f"{self.name}: decoded and resized {num_images} PNGs in "
                    f"{time.perf_counter() - start:.1f} s (first load)")
                return images
            write_cache(path, chunks, shape, dtype, key)
        log(f"{self.name}: decoded and resized {num_images} PNGs in "
            f"{time.perf_counter() - start:.1f} s (first load), cached at {path}")
        images, why = read_cache(path, key, shape, dtype)
        if images is None:
            raise DataError(f"{path}: the cache just written cannot be read back ({why})")
        return images

    def _index_of(self, all_factors):
        return self.table[self.factor_space.index_of(all_factors)]

    def to_observations(self, key, pixels):
        if self.pixels == "uint8":
            return super().to_observations(key, pixels)
        import jax.numpy as jnp
        return pixels.astype(jnp.float32)        # float32 pixels are the observations


def isaac3d(**kw):
    return NvidiaScene(ISAAC3D, **kw)


def falcor3d(**kw):
    return NvidiaScene(FALCOR3D, **kw)
