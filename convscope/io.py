"""Safe weight files: a state dict as a NumPy ``.npz`` archive (plain arrays only: no Python object deserialization).

Keys are PyTorch's dotted names (``features.0.weight``), so a file written here loads into
the same architecture in PyTorch with ``{k: torch.from_numpy(v) for k, v in load(path).items()}``.
"""
from __future__ import annotations

import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np

__all__ = ["save_state_dict", "load_state_dict"]


def save_state_dict(state_dict, path) -> Path:
    """Write ``{name: array}`` to ``path`` (``.npz``, uncompressed)."""
    path = Path(path)
    arrays = {name: np.asarray(value) for name, value in state_dict.items()}
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    return path


def load_state_dict(path) -> "OrderedDict[str, np.ndarray]":
    """Read a ``.npz`` state dict; object arrays are refused (``np.load``'s safe default)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no weights file at {path}")
    try:
        with np.load(path) as archive:  # object arrays are refused by default
            return OrderedDict((name, archive[name]) for name in archive.files)
    except (ValueError, zipfile.BadZipFile, OSError) as error:
        raise ValueError(f"{path} is not a valid .npz weights file: {error}") from error
