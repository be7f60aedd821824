"""Decompression bombs among the faces of image folders and FER+ folders: one line naming the
file and FER_MAX_PIXELS, or (data.on_bad_rows=skip) left out and counted like any image that
cannot be read; never a traceback or gigabytes of memory."""

from __future__ import annotations

import logging
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fer_lightning.data import load_faces
from fer_lightning.errors import DataError
from tests.helpers.ferplus import make_ferplus


def bomb_png(path: Path, width: int = 20_000, height: int = 20_000) -> None:
    """A 1x1 PNG whose header claims ``width`` x ``height``: a bomb's header, a few bytes."""
    Image.new("L", (1, 1)).save(path)
    data = bytearray(path.read_bytes())
    data[16:24] = width.to_bytes(4, "big") + height.to_bytes(4, "big")  # IHDR width, height
    data[29:33] = zlib.crc32(bytes(data[12:29])).to_bytes(4, "big")  # IHDR's CRC
    path.write_bytes(bytes(data))


def face_folder(root: Path) -> Path:
    rng = np.random.default_rng(0)
    for emotion in ("happy", "sad"):
        folder = root / "train" / emotion
        folder.mkdir(parents=True)
        for i in range(3):
            face = rng.integers(0, 256, (48, 48), dtype=np.uint8)
            Image.fromarray(face).save(folder / f"Training_{emotion}{i}.png")
    return root / "train" / "sad" / "Training_sad1.png"


def ferplus_folder(root: Path) -> Path:
    make_ferplus(root, sizes=(6, 2, 2))
    return root / "FER2013Train" / "fer0000004.png"


FOLDERS = {"folder": face_folder, "ferplus_folder": ferplus_folder}


@pytest.mark.parametrize("source", FOLDERS)
def test_a_bomb_is_one_line_naming_the_file_and_the_limit(tmp_path, source):
    victim = FOLDERS[source](tmp_path)
    bomb_png(victim)
    with pytest.raises(DataError) as info:
        load_faces(source, tmp_path)
    message = str(info.value)
    assert "\n" not in message and victim.name in message
    assert "20000x20000" in message and "FER_MAX_PIXELS" in message
    assert "data.on_bad_rows=skip" in message


@pytest.mark.parametrize("source", FOLDERS)
def test_a_bomb_is_skipped_and_counted_like_an_unreadable_file(tmp_path, source, caplog):
    victim = FOLDERS[source](tmp_path)
    bomb_png(victim)
    with caplog.at_level(logging.WARNING):
        faces = load_faces(source, tmp_path, on_bad_rows="skip")
    assert len(faces) == (5 if source == "folder" else 9)
    warning = next(r.getMessage() for r in caplog.records if victim.name in r.getMessage())
    assert "skipped 1" in warning and "FER_MAX_PIXELS" in warning


@pytest.mark.parametrize("source", FOLDERS)
def test_the_pixel_limit_is_the_users_to_set(tmp_path, source, monkeypatch):
    """Below PIL's own bomb limit too: a 100x100 photo refused under FER_MAX_PIXELS=5000."""
    victim = FOLDERS[source](tmp_path)
    Image.fromarray(np.zeros((100, 100), dtype=np.uint8)).save(victim)
    monkeypatch.setenv("FER_MAX_PIXELS", "5000")
    with pytest.raises(DataError, match=r"100x100 is 10,000 pixels, more than the limit of 5,000"):
        load_faces(source, tmp_path)
    monkeypatch.setenv("FER_MAX_PIXELS", "20000")
    if source == "folder":  # resized to 48x48 like any other large photo
        assert len(load_faces(source, tmp_path)) == 6
