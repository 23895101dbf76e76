"""MNIST from the original IDX files, checked and parsed with NumPy alone.

The project ships the four gzip-compressed IDX files in ``data/mnist/`` of the repository (see
its README: sizes, checksums, format).  :func:`load_mnist` finds them, verifies each file's
SHA-256 against :data:`MNIST_SHA256` before reading it, parses the IDX header defensively
(magic number, dimensions, sizes against the bytes actually present; no object deserialization, no eval) and
returns NCHW float images and int64 labels.  :func:`batches` iterates over mini-batches with
seeded shuffling.

IDX layout (big-endian): a 4-byte magic number ``0x000008DD`` (``0x08`` = unsigned bytes, ``DD``
= number of dimensions: 3 for images, 1 for labels), one 4-byte size per dimension, then the
``prod(sizes)`` data bytes in C order.
"""
from __future__ import annotations

import gzip
import hashlib
import math
import numbers
import os
import zlib
from pathlib import Path
from typing import Iterator

import numpy as np

from ..random import default_generator

__all__ = ["load_mnist", "batches", "num_batches", "default_root", "clear_cache",
           "MNIST_MEAN", "MNIST_STD", "MNIST_SHA256", "MNIST_FILES"]

#: Mean and standard deviation of the training pixels scaled to [0, 1] (the values everyone
#: uses, as torchvision's MNIST examples): 33.318 / 255 = 0.13066 and 0.30811.
MNIST_MEAN = 0.1307
MNIST_STD = 0.3081

#: (images file, labels file) of each split.
MNIST_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}

#: SHA-256 of each gzip file as distributed (data/mnist/README.md).
MNIST_SHA256 = {
    "t10k-images-idx3-ubyte.gz": "1a1a05eab793c14bb050b398624a11b0ffd1a2953baed553b1b9bd079e2a20be",
    "t10k-labels-idx1-ubyte.gz": "b91679a0acfe4ba0e50a2437a903084cba1f5f92592b016a25a7dfd00455798b",
    "train-images-idx3-ubyte.gz": "0b367032e93c5d0cea0925647cfdb18614af8ee15f83e6f2fc2ad904a6835971",
    "train-labels-idx1-ubyte.gz": "1787548bbe0bff1ec2ecdc0ef292b02df999e2d1a6002d27500982c652b17203",
}

ENV_VAR = "CONVSCOPE_MNIST"
_IMAGES_MAGIC = 0x00000803  # unsigned bytes, 3 dimensions (N, 28, 28)
_LABELS_MAGIC = 0x00000801  # unsigned bytes, 1 dimension (N,)
_CHUNK = 1 << 22            # read the decompressed data in 4 MiB pieces

# (resolved root, split) -> (uint8 images (N, 1, 28, 28), uint8 labels (N,), verified?)
_cache: dict[tuple[str, str], tuple[np.ndarray, np.ndarray, bool]] = {}


def default_root() -> Path:
    """The folder :func:`load_mnist` reads when ``root`` is None: ``$CONVSCOPE_MNIST`` if set,
    else ``data/mnist`` of the repository this package sits in (``<repo>/convscope/data/`` ->
    ``<repo>/data/mnist``)."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    return Path(__file__).resolve().parents[2] / "data" / "mnist"


def clear_cache() -> None:
    """Forget the arrays :func:`load_mnist` keeps in memory (about 55 MB for both splits)."""
    _cache.clear()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_file(path: Path, verify: bool) -> None:
    if not path.is_file():
        raise FileNotFoundError(
            f"load_mnist: MNIST file not found: {path}. The repository ships the four files in data/mnist/; "
            f"pass root= or set {ENV_VAR} to a folder that holds {', '.join(sorted(MNIST_SHA256))} "
            "(the original gzip files, e.g. from torchvision's mirror https://ossci-datasets.s3.amazonaws.com/mnist/; "
            "their SHA-256 are checked)")
    if verify:
        expected = MNIST_SHA256[path.name]
        actual = _sha256(path)
        if actual != expected:
            raise ValueError(f"load_mnist: {path} is corrupt or not the original file: SHA-256 {actual}, "
                             f"expected {expected} ({path.stat().st_size} bytes)")


def _read_exactly(f, count: int) -> bytes:
    """Up to ``count`` bytes, in chunks, so a header claiming huge sizes allocates only what exists."""
    chunks, remaining = [], count
    while remaining > 0:
        chunk = f.read(min(remaining, _CHUNK))
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _read_idx(path: Path, magic: int) -> np.ndarray:
    """Parse one gzip IDX file of unsigned bytes into a read-only uint8 array of its shape."""
    ndim = magic & 0xFF
    try:
        with gzip.open(path, "rb") as f:
            head = _read_exactly(f, 4 + 4 * ndim)
            if len(head) < 4:
                raise ValueError(f"load_mnist: {path}: truncated IDX header ({len(head)} bytes, "
                                 "the magic number needs 4)")
            found = int.from_bytes(head[:4], "big")
            if found != magic:
                raise ValueError(f"load_mnist: {path}: bad IDX magic number 0x{found:08x}, expected 0x{magic:08x} "
                                 f"(unsigned bytes, {ndim} dimension{'s' if ndim > 1 else ''})")
            if len(head) < 4 + 4 * ndim:
                raise ValueError(f"load_mnist: {path}: truncated IDX header ({len(head)} bytes, "
                                 f"{ndim} dimension{'s' if ndim > 1 else ''} need {4 + 4 * ndim})")
            dims = tuple(int.from_bytes(head[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
            if ndim == 3 and dims[1:] != (28, 28):
                raise ValueError(f"load_mnist: {path}: images are {dims[1]}x{dims[2]} in the IDX header, "
                                 "expected 28x28")
            count = math.prod(dims)
            data = _read_exactly(f, count)
            extra = len(f.read(1))
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise ValueError(f"load_mnist: {path}: not a valid gzip file ({exc})") from exc
    if len(data) != count or extra:
        held = f"{len(data)}" if not extra else f"more than {count}"
        raise ValueError(f"load_mnist: {path}: the IDX header's sizes {dims} need {count} data bytes, "
                         f"the file holds {held}")
    return np.frombuffer(data, dtype=np.uint8).reshape(dims)


def _load_raw(root: Path, split: str, verify: bool) -> tuple[np.ndarray, np.ndarray]:
    key = (str(root.resolve()), split)
    cached = _cache.get(key)
    if cached is not None and (cached[2] or not verify):
        return cached[0], cached[1]
    image_path, label_path = (root / name for name in MNIST_FILES[split])
    for path in (image_path, label_path):
        _check_file(path, verify)
    images = _read_idx(image_path, _IMAGES_MAGIC)
    labels = _read_idx(label_path, _LABELS_MAGIC)
    if len(images) != len(labels):
        raise ValueError(f"load_mnist: {image_path.name} has {len(images)} images but {label_path.name} "
                         f"has {len(labels)} labels")
    if labels.size and labels.max() > 9:
        raise ValueError(f"load_mnist: {label_path}: label {int(labels.max())} is not a digit 0-9")
    images = images.reshape(len(images), 1, 28, 28)
    _cache[key] = (images, labels, verify)
    return images, labels


def load_mnist(root=None, split: str = "train", normalize: bool = True, dtype=np.float32, *,
               verify: bool = True) -> tuple[np.ndarray, np.ndarray]:
    r"""Load an MNIST split as ``(images, labels)``.

    Args:
        root (str or Path, optional): folder with the four ``*-ubyte.gz`` files. Default:
            :func:`default_root` (``$CONVSCOPE_MNIST``, else the repository's ``data/mnist``).
        split (str): ``"train"`` (60,000 images) or ``"test"`` (10,000).
        normalize (bool): standardize with the training set's statistics,
            :math:`x = (p / 255 - 0.1307) / 0.3081` (:data:`MNIST_MEAN`, :data:`MNIST_STD`), as
            ``transforms.Normalize((0.1307,), (0.3081,))`` after ``ToTensor()``; the training
            images then have mean ~0 and std ~1.  ``False`` gives :math:`p / 255 \in [0, 1]`.
        dtype: float32 (default) or float64; the arithmetic runs in this dtype.
        verify (bool): check each file's SHA-256 against :data:`MNIST_SHA256` first (default).
            Turn off only to read other files in the same format (e.g. Fashion-MNIST).

    Returns:
        images ``(N, 1, 28, 28)`` of ``dtype`` (a new array each call) and labels ``(N,)`` int64.

    Raises:
        FileNotFoundError: a file is missing (the message says where to get it).
        ValueError: a file's checksum differs, it is not valid gzip, or its IDX header is wrong
            (magic number, dimensions, or sizes that disagree with the data present).

    The parsed bytes are cached in memory per (folder, split), so later calls only convert.

    Example:
        >>> x, y = load_mnist(split="test", normalize=False)
        >>> x.shape, x.dtype, y.shape, y.dtype
        ((10000, 1, 28, 28), dtype('float32'), (10000,), dtype('int64'))
        >>> float(x.min()), float(x.max()), y[:10].tolist()
        (0.0, 1.0, [7, 2, 1, 0, 4, 1, 4, 9, 5, 9])
    """
    if split not in MNIST_FILES:
        raise ValueError(f"load_mnist: split must be 'train' or 'test', got {split!r}")
    resolved = np.dtype(dtype)
    if resolved not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError(f"load_mnist: dtype must be float32 or float64, got {resolved}")
    root = default_root() if root is None else Path(root).expanduser()
    images, labels = _load_raw(root, split, bool(verify))
    x = images.astype(resolved)
    x /= 255
    if normalize:
        x -= MNIST_MEAN
        x /= MNIST_STD
    return x, labels.astype(np.int64)


# -- mini-batches

def _count(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def num_batches(n: int, batch_size: int, drop_last: bool = False, limit: int | None = None) -> int:
    """Number of batches :func:`batches` yields for ``n`` samples:
    ``ceil(n / batch_size)`` (``floor`` with ``drop_last``), at most ``limit``.

    >>> num_batches(10, 3), num_batches(10, 3, drop_last=True), num_batches(10, 3, limit=2)
    (4, 3, 2)
    """
    n = _count("num_batches: n", n, 0)
    batch_size = _count("num_batches: batch_size", batch_size, 1)
    full = n // batch_size if drop_last else -(-n // batch_size)
    return full if limit is None else min(full, _count("num_batches: limit", limit, 0))


def batches(images, labels, batch_size: int, shuffle: bool = True, seed=None, drop_last: bool = False,
            limit: int | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Iterate over ``(x_batch, y_batch)`` mini-batches of two equally long arrays
    (``torch.utils.data.DataLoader`` over a tensor dataset).

    Args:
        images, labels: arrays with the same first dimension ``n``.
        batch_size (int): samples per batch; the last batch is smaller when it does not divide ``n``.
        shuffle (bool): visit the samples in a random permutation (else in order).
        seed (int or numpy.random.Generator, optional): the permutation's seed: the same seed
            gives the same order; pass e.g. ``seed + epoch`` for a new order each epoch.
            ``None`` draws from the library generator (seeded by ``convscope.manual_seed``).
        drop_last (bool): drop the last, incomplete batch.
        limit (int, optional): stop after this many batches.

    Yields ``num_batches(n, batch_size, drop_last, limit)`` pairs; each epoch (without
    ``limit``/``drop_last``) covers every sample exactly once.  Shuffled batches are gathered
    copies (memory: one batch); unshuffled ones are read-only views of the inputs.

    Example:
        >>> x, y = np.arange(10).reshape(5, 2), np.arange(5)
        >>> [b.tolist() for _, b in batches(x, y, batch_size=2, shuffle=False)]
        [[0, 1], [2, 3], [4]]
        >>> first = [b.tolist() for _, b in batches(x, y, 2, seed=0)]
        >>> first == [b.tolist() for _, b in batches(x, y, 2, seed=0)]
        True
    """
    images, labels = np.asarray(images), np.asarray(labels)
    if images.ndim == 0 or labels.ndim == 0:
        raise ValueError(f"batches: images and labels must have a sample dimension, got shapes "
                         f"{images.shape} and {labels.shape}")
    n = len(images)
    if len(labels) != n:
        raise ValueError(f"batches: images and labels differ in length: {n} vs {len(labels)}")
    batch_size = _count("batches: batch_size", batch_size, 1)
    count = num_batches(n, batch_size, drop_last, limit)
    if shuffle:
        if seed is not None and not isinstance(seed, (numbers.Integral, np.random.Generator)):
            raise TypeError(f"batches: seed must be an int, a numpy Generator or None, got {seed!r}")
        rng = default_generator() if seed is None else np.random.default_rng(seed)
        order = rng.permutation(n)
    else:
        order = None
    return _iterate(images, labels, batch_size, count, order)


def _iterate(images, labels, batch_size, count, order):
    for b in range(count):
        start, stop = b * batch_size, min((b + 1) * batch_size, len(images))
        if order is None:
            x, y = images[start:stop], labels[start:stop]
            x.flags.writeable = y.flags.writeable = False
        else:
            idx = order[start:stop]
            x, y = np.take(images, idx, axis=0), np.take(labels, idx, axis=0)
        yield x, y
