"""Predictions read back from predict's CSV, and pictures that are bombs once decoded."""

from __future__ import annotations

import csv
import struct
import zlib
from pathlib import Path

from fer_lightning.predict import predict
from tests.helpers.configs import compose_train

BOMB_SIDE = 20_000  # 400 million pixels: 1.2 GB once decoded as BGR, about 50 kB as a file


def run_predict(ckpt: Path, tmp_path: Path, *overrides: str) -> tuple[Path, list[dict[str, str]]]:
    """The predict command in this process; returns its folder and predictions.csv's rows."""
    out = predict(compose_train([f"ckpt_path={ckpt}", *overrides], tmp_path, "predict"))
    with (out / "predictions.csv").open(newline="") as f:
        return out, list(csv.DictReader(f))


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data)
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def bomb_png(path: Path, width: int, height: int = 0) -> Path:
    """A valid 1-bit black PNG of width x height: tiny on disk, huge once decoded."""
    height = height or width
    packer = zlib.compressobj(9)
    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte, then the packed bits
    body = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", body)
        + _chunk(b"IEND", b"")
    )
    return path
