"""Carry the FER2013 CSV to the GPU machine inside its 64 MiB limit, and back to a CSV there.

The shared ``fer2013_dev.csv.gz`` is 85 MB; the device tool carries at most 64 MiB. Its pixels,
coded as 2-D differences (each pixel minus left and upper neighbours plus the upper-left one,
mod 256) and deflated (``np.savez_compressed``), take about 53 MiB and come back exactly:
``unpack`` writes the same three-column CSV, which the project then reads as usual. The packed
file lives in an ignored folder and is never committed.

    python benchmarks/devdata.py pack /work/shared/data/fer2013/fer2013_dev.csv.gz .devdata/fer.npz
    python benchmarks/devdata.py unpack .devdata/fer.npz /tmp/fer2013_dev.csv
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from fer_lightning.data.labels import USAGES  # noqa: E402


def pack(csv: Path, out: Path) -> None:
    from fer_lightning.data.csv_source import read_fer_csv

    faces = read_fer_csv(csv)
    # Neighbouring pixels are alike: their differences (mod 256) deflate 22% smaller.
    delta = np.diff(np.diff(faces.images, axis=1, prepend=np.uint8(0)), axis=2, prepend=np.uint8(0))
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, delta=delta, labels=faces.labels, usage=faces.usage)
    print(f"{csv} -> {out}: {len(faces.labels):,} faces, {out.stat().st_size / 2**20:.1f} MiB")


def unpack(packed: Path, csv: Path) -> None:
    with np.load(packed) as data:
        images = np.cumsum(np.cumsum(data["delta"], axis=2, dtype=np.uint8), axis=1, dtype=np.uint8)
        labels, usage = data["labels"], data["usage"]
    names = np.array(USAGES)
    with csv.open("w") as f:
        f.write("emotion,pixels,Usage\n")
        for image, label, use in zip(images, labels, usage, strict=True):
            pixels = " ".join(map(str, image.ravel().tolist()))
            f.write(f"{label},{pixels},{names[use]}\n")
    print(f"{packed} -> {csv}: {len(labels):,} faces")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("pack", "unpack"))
    parser.add_argument("source", type=Path)
    parser.add_argument("target", type=Path)
    args = parser.parse_args(argv)
    (pack if args.action == "pack" else unpack)(args.source, args.target)


if __name__ == "__main__":
    main()
