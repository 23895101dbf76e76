"""Safe weight files: a state dict as a NumPy ``.npz`` archive (plain arrays only: no Python object deserialization).

Keys are PyTorch's dotted names (``features.0.weight``), so a file written here loads into
the same architecture in PyTorch with ``{k: torch.from_numpy(v) for k, v in load(path).items()}``.

Reading treats the file as untrusted: every member must be a ``.npy`` array of a plain numeric
dtype whose header declares no more data than the member holds, and the archive's arrays together
at most ``max_bytes``; anything else is a ``ValueError`` naming the file and the member, before
any large allocation.
"""
from __future__ import annotations

import math
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np

__all__ = ["save_state_dict", "load_state_dict", "MAX_LOAD_BYTES"]

#: Default cap on the total size of the arrays one weights file may hold (a zip archive can declare
#: far more uncompressed data than it stores).
MAX_LOAD_BYTES = 4 * 2**30


def save_state_dict(state_dict, path) -> Path:
    """Write ``{name: array}`` to ``path`` (``.npz``, uncompressed)."""
    path = Path(path)
    arrays = {name: np.asarray(value) for name, value in state_dict.items()}
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    return path


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> np.ndarray:
    """One ``.npy`` member, its header checked before the array is allocated."""
    with archive.open(info) as member:
        version = np.lib.format.read_magic(member)
        if version == (1, 0):
            shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(member)
        elif version in ((2, 0), (3, 0)):
            shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(member)
        else:
            raise ValueError(f"unsupported .npy format version {version}")
        if dtype.hasobject or dtype.kind not in "biuf":
            raise ValueError(f"dtype {dtype} is not a plain numeric array")
        declared = math.prod(shape) * dtype.itemsize
        if declared > info.file_size:
            raise ValueError(f"its header declares {declared} bytes of data (shape {shape}) but the member "
                             f"holds {info.file_size}")
    with archive.open(info) as member:
        return np.lib.format.read_array(member, allow_pickle=False)


def load_state_dict(path, max_bytes: int = MAX_LOAD_BYTES) -> "OrderedDict[str, np.ndarray]":
    """Read a ``.npz`` state dict written by :func:`save_state_dict` (or ``np.savez``).

    Raises ``FileNotFoundError`` for a missing file and ``ValueError`` for anything that is not
    such an archive of plain numeric arrays of at most ``max_bytes`` in all (see the module docstring).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no weights file at {path}")
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise ValueError(f"{path} is not a valid .npz weights file (not a zip archive: {error})") from error
    state: OrderedDict[str, np.ndarray] = OrderedDict()
    with archive:
        members = archive.infolist()
        total = sum(info.file_size for info in members)
        if total > max_bytes:
            raise ValueError(f"{path} holds {total} bytes of arrays, more than max_bytes={max_bytes}")
        for info in members:
            if not info.filename.endswith(".npy"):
                raise ValueError(f"{path} is not a valid .npz weights file: member {info.filename!r} is not a "
                                 f".npy array")
            try:
                state[info.filename[:-len(".npy")]] = _read_member(archive, info)
            except Exception as error:  # noqa: BLE001 -- any parse failure of untrusted bytes is a bad file
                raise ValueError(f"{path} is not a valid .npz weights file: member {info.filename!r}: "
                                 f"{type(error).__name__}: {error}") from error
    return state
