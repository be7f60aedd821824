"""A limit on the pixels of any image read from a file, checked before the image is decoded.

A 20000x20000 PNG of one colour is a few hundred kB on disk and 1.2 GB once decoded (RGB), so
a decompression bomb in a photo folder, a FER+ folder or a picture to visualize would exhaust
memory before any error. Image headers give the size without decoding: every image the project
reads goes through ``open_image`` (PIL) or ``check_file`` (before OpenCV decodes it). The limit
is one process-wide setting, ``FER_MAX_PIXELS`` in the environment, so loader worker processes
and every command share it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from fer_lightning.errors import DataError, UserError

ENV = "FER_MAX_PIXELS"
_PIL_SETTING = threading.Lock()
# Rule: above any camera photo people send (a 48 MP phone photo is 8000x6000), far below a bomb.
DEFAULT_MAX_PIXELS = 64_000_000


def max_pixels() -> int:
    """The limit in force: ``FER_MAX_PIXELS`` when set, else the default."""
    value = os.environ.get(ENV, "").strip()
    if not value:
        return DEFAULT_MAX_PIXELS
    try:
        limit = int(value.replace("_", ""))
    except ValueError:
        limit = 0
    if limit <= 0:
        raise UserError(f"{ENV}={value!r} is not a positive whole number of pixels (e.g. 64000000)")
    return limit


class TooManyPixels(DataError):
    """An image larger than the pixel limit (its message names the file and the setting)."""


def check_size(width: int, height: int, source: str | Path) -> None:
    """Refuse an image of ``width`` x ``height`` above the limit, in one line."""
    limit = max_pixels()
    if width * height > limit:
        raise TooManyPixels(
            f"{source}: {width}x{height} is {width * height:,} pixels, more than the limit of "
            f"{limit:,} (a decompression bomb, or far larger than a face needs): shrink the "
            f"image, or raise the limit with {ENV}=N in the environment"
        )


@contextmanager
def open_image(path: str | Path) -> Iterator[Image.Image]:
    """``PIL.Image.open`` that refuses an image above the limit before decoding it.

    PIL's own bomb check is switched off for these files (the limit here replaces it, so that
    ``FER_MAX_PIXELS`` can raise it too); PIL's errors for unreadable files pass through.
    """
    with _PIL_SETTING:  # the setting is process-wide: photos are read in several threads
        saved = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None
        try:
            image = Image.open(path)
        finally:
            Image.MAX_IMAGE_PIXELS = saved
    with image:
        check_size(*image.size, path)
        yield image


def check_file(path: str | Path) -> None:
    """Refuse a file whose image header states more pixels than the limit (before OpenCV).

    Files PIL cannot identify pass (OpenCV may read formats PIL does not; it then applies its
    own limit, ``OPENCV_IO_MAX_IMAGE_PIXELS``).
    """
    try:
        with open_image(path):
            pass
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return
