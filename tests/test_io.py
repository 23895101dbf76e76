"""Weights files are untrusted input: every malformed archive is a clear ValueError, never an
unpickled object, a raw NumPy/zlib error or a huge allocation."""
from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

from convscope.io import load_state_dict, save_state_dict


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def _zip(path, members: dict[str, bytes], compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_round_trip_keeps_names_shapes_dtypes_and_order(tmp_path):
    state = {"features.0.weight": np.arange(24, dtype=np.float32).reshape(2, 3, 2, 2),
             "features.0.bias": np.ones(2, np.float64), "bn.num_batches_tracked": np.array(7, np.int64),
             "mask": np.array([True, False])}
    loaded = load_state_dict(save_state_dict(state, tmp_path / "w.npz"))
    assert list(loaded) == list(state)
    for name, array in state.items():
        assert loaded[name].dtype == array.dtype
        np.testing.assert_array_equal(loaded[name], array)


def test_compressed_archives_load(tmp_path):
    path = tmp_path / "c.npz"
    np.savez_compressed(path, w=np.linspace(0, 1, 1000))
    np.testing.assert_array_equal(load_state_dict(path)["w"], np.linspace(0, 1, 1000))


def _huge_header(tmp_path):
    """A member of a few bytes whose (valid) header declares 2**40 float64 elements."""
    text = "{'descr': '<f8', 'fortran_order': False, 'shape': (1099511627776,), }"
    header = text.ljust(64 * ((len(text) + 11) // 64 + 1) - 11) + "\n"  # magic + length + header: 64-aligned
    member = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode() + b"\0" * 8
    return _zip(tmp_path / "huge.npz", {"w.npy": member})


def _cases(tmp_path):
    npy = tmp_path / "plain.npz"
    np.save(tmp_path / "plain.npy", np.ones(3))
    (tmp_path / "plain.npy").rename(npy)
    corrupt = tmp_path / "corrupt.npz"
    np.savez_compressed(corrupt, w=np.arange(10000.0))
    data = bytearray(corrupt.read_bytes())
    data[len(data) // 2: len(data) // 2 + 64] = b"\xff" * 64
    corrupt.write_bytes(bytes(data))
    empty = tmp_path / "empty.npz"
    empty.write_bytes(b"")
    good = _npy_bytes(np.ones(2))
    return {
        "a .npy renamed": (npy, "not a zip archive"),
        "an empty file": (empty, "not a zip archive"),
        "corrupted compressed data": (corrupt, "member 'w.npy'"),
        "a header declaring 2**40 elements": (_huge_header(tmp_path), "header declares"),
        "a broken header": (_zip(tmp_path / "hdr.npz", {"w.npy": good[:12] + b"{'descr': <f8" + good[25:]}),
                            "member 'w.npy'"),
        "a member that is not .npy": (_zip(tmp_path / "txt.npz", {"w": b"hello"}), "is not a .npy array"),
        "an object array": (_zip(tmp_path / "obj.npz", {"w.npy": _npy_bytes(np.array([{}, 1], dtype=object))}),
                            "not a plain numeric array"),
        "a truncated member": (_zip(tmp_path / "short.npz", {"w.npy": _npy_bytes(np.ones(100))[:-16]}),
                               "member 'w.npy'"),
    }


@pytest.mark.parametrize("case", ["a .npy renamed", "an empty file", "corrupted compressed data",
                                  "a header declaring 2**40 elements", "a broken header", "a member that is not .npy",
                                  "an object array", "a truncated member"])
def test_malformed_files_are_clear_errors(tmp_path, case):
    path, message = _cases(tmp_path)[case]
    with pytest.raises(ValueError, match="not a valid .npz weights file") as info:
        load_state_dict(path)
    assert message in str(info.value) and str(path) in str(info.value)


def test_total_size_is_capped(tmp_path):
    path = save_state_dict({"w": np.zeros(1000)}, tmp_path / "w.npz")
    assert load_state_dict(path, max_bytes=10**6)["w"].shape == (1000,)
    with pytest.raises(ValueError, match="more than max_bytes=4000"):
        load_state_dict(path, max_bytes=4000)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no weights file"):
        load_state_dict(tmp_path / "absent.npz")
