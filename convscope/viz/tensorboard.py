"""TensorBoard event files written directly (no TensorFlow, no tensorboard package needed to write).

An event file is a sequence of TFRecords (``length``, masked CRC-32C of the length, the payload,
masked CRC-32C of the payload), each payload an ``Event`` protocol buffer.  Only the few fields
TensorBoard reads for scalars and images are encoded here, by hand:

- ``Event``: ``wall_time`` (1, double), ``step`` (2, int64), ``file_version`` (3, string), ``summary`` (5);
- ``Summary``: repeated ``value`` (1); ``Summary.Value``: ``tag`` (1), ``simple_value`` (2, float),
  ``image`` (4); ``Summary.Image``: ``height`` (1), ``width`` (2), ``colorspace`` (3),
  ``encoded_image_string`` (4, PNG bytes).
"""
from __future__ import annotations

import io
import socket
import struct
import time
from pathlib import Path

import numpy as np

__all__ = ["SummaryWriter", "crc32c"]


def _crc_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
        table.append(crc)
    return table


_TABLE = _crc_table()


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli), as TFRecord frames use.

    >>> hex(crc32c(b"123456789"))
    '0xe3069283'
    """
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def _masked(crc: int) -> int:
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def _varint(value: int) -> bytes:
    out = bytearray()
    value &= (1 << 64) - 1
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, wire: int, payload: bytes) -> bytes:
    key = _varint((number << 3) | wire)
    if wire == 2:
        return key + _varint(len(payload)) + payload
    return key + payload


def _event(step: int, summary: bytes | None = None, file_version: str | None = None) -> bytes:
    data = _field(1, 1, struct.pack("<d", time.time())) + _field(2, 0, _varint(step))
    if file_version is not None:
        data += _field(3, 2, file_version.encode())
    if summary is not None:
        data += _field(5, 2, summary)
    return data


class SummaryWriter:
    """Write scalars and images that TensorBoard shows (``tensorboard --logdir DIR``)."""

    def __init__(self, log_dir) -> None:
        self.log_dir = Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.log_dir / f"events.out.tfevents.{int(time.time())}.{socket.gethostname()}.convscope"
        self._file = open(self.path, "wb")
        self._write(_event(0, file_version="brain.Event:2"))

    def _write(self, payload: bytes) -> None:
        header = struct.pack("<Q", len(payload))
        self._file.write(header + struct.pack("<I", _masked(crc32c(header))) + payload
                         + struct.pack("<I", _masked(crc32c(payload))))

    def add_scalar(self, tag: str, value: float, step: int) -> None:
        summary_value = _field(1, 2, tag.encode()) + _field(2, 5, struct.pack("<f", float(value)))
        self._write(_event(step, _field(1, 2, summary_value)))

    def add_image(self, tag: str, image: np.ndarray, step: int = 0) -> None:
        """``image``: ``(H, W)`` grey or ``(H, W, 3)`` RGB, floats in [0, 1] or uint8."""
        from PIL import Image
        array = np.asarray(image)
        if array.dtype != np.uint8:
            array = (np.clip(array, 0, 1) * 255).astype(np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(array).save(buffer, format="PNG")
        channels = 1 if array.ndim == 2 else array.shape[2]
        encoded = (_field(1, 0, _varint(array.shape[0])) + _field(2, 0, _varint(array.shape[1]))
                   + _field(3, 0, _varint(channels)) + _field(4, 2, buffer.getvalue()))
        summary_value = _field(1, 2, tag.encode()) + _field(4, 2, encoded)
        self._write(_event(step, _field(1, 2, summary_value)))

    def add_image_file(self, tag: str, path, step: int = 0) -> None:
        from PIL import Image
        with Image.open(path) as image:
            self.add_image(tag, np.asarray(image.convert("RGB")), step)

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
