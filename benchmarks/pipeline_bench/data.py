"""The CSV both sides read, and the load rows: the report's parse against ours, cold and cached."""

from __future__ import annotations

import argparse
import gzip
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from pipeline_bench.clock import CpuWatch, busy, say
from pipeline_bench.plan import REPO
from pipeline_bench.report_way import report_load

DEFAULT_CSV = REPO / ".." / "shared" / "data" / "fer2013" / "fer2013_dev.csv.gz"


ROWS = 32_298  # rows of the shared development CSV; the synthetic stand-in has as many


TRAIN_ROWS = 28_709  # its Training rows (the rest PublicTest), as in FER2013


def write_synthetic_csv(path: Path, rows: int = ROWS) -> None:
    """The built-in faces in the Kaggle format (emotion,pixels,Usage), gzipped like the real one."""
    from fer_lightning.data.synthetic import generate_faces

    images, labels = generate_faces(rows, seed=0)
    n_train = round(rows * TRAIN_ROWS / ROWS)
    with gzip.open(path, "wt", compresslevel=1, newline="") as f:
        f.write("emotion,pixels,Usage\n")
        for i, (image, label) in enumerate(zip(images.reshape(rows, -1), labels, strict=True)):
            usage = "Training" if i < n_train else "PublicTest"
            f.write(f"{label},{' '.join(map(str, image.tolist()))},{usage}\n")


def choose_data(args: argparse.Namespace, tmp: Path) -> tuple[Path, str]:
    """The CSV to use and how to describe it: --csv, the shared real CSV, or synthetic faces."""
    if args.csv:
        path = Path(args.csv).expanduser().resolve()
        if not path.is_file():
            sys.exit(f"error: no CSV at {path}")
        return path, f"`{path.name}` (given with --csv)"
    if DEFAULT_CSV.is_file():
        path = DEFAULT_CSV.resolve()
        return path, f"`{path.name}` (real FER2013 pixels, the shared development CSV)"
    path = tmp / "synthetic_fer2013.csv.gz"
    say(f"no {DEFAULT_CSV}: writing {ROWS:,} synthetic faces to {path} ...")
    write_synthetic_csv(path)
    return path, "synthetic faces (`generate_faces`, seed 0) in the Kaggle format, gzipped"


def measure_loads(csv: Path, tmp: Path) -> dict[str, Any]:
    """Rows 1-2 in this process: the report's parse against ours, cold and cached."""
    from fer_lightning.data.csv_source import read_fer_csv
    from fer_lightning.data.sources import load_faces

    csv.read_bytes()  # both parsers then find the file in the OS page cache
    watch = CpuWatch()
    say("report's load: pandas + per-row split into float32 ...")
    start = time.perf_counter()
    img_array, label_array = report_load(csv)
    report_parse = time.perf_counter() - start
    say(f"report's load: {report_parse:.1f} s for {len(img_array):,} rows")
    np.save(tmp / "report_images.npy", img_array)
    np.save(tmp / "report_labels.npy", label_array)

    start = time.perf_counter()
    faces = read_fer_csv(csv)
    ours_parse = time.perf_counter() - start
    rows = len(faces)
    same = rows == len(img_array) and np.array_equal(faces.images, img_array)
    say(f"our load (read_fer_csv): {ours_parse:.2f} s; same pixels: {same}")
    del img_array, label_array, faces

    cache = tmp / "cache"
    start = time.perf_counter()
    load_faces("csv", csv, cache_dir=cache)
    cache_write = time.perf_counter() - start
    times = []
    for _ in range(3):
        start = time.perf_counter()
        load_faces("csv", csv, cache_dir=cache)
        times.append(time.perf_counter() - start)
    say(f"our cached load: {statistics.median(times):.3f} s (first call {cache_write:.2f} s)")
    others = watch.others()
    if busy(others):
        say(f"loads{busy(others)}")
    return {
        "others_cpu": others,
        "report_parse": report_parse,
        "ours_parse": ours_parse,
        "ours_cached": statistics.median(times),
        "ours_cache_write": cache_write,
        "same_pixels": same,
        "rows": rows,
    }
