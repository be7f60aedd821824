"""The README's pictures, regenerated from real runs: `make docs-figures RUNS=... [RUN=...]`.

Writes small PNGs to ``docs/``: one run's test confusion matrix, curves and one activation grid,
the results chart of every run under RUNS, and (where ``chromium-headless-shell`` is installed)
screenshots of the Custom Scalars and Images tabs of TensorBoard (DASHBOARD's, else RUN's;
tabs drawn without WebGL, which headless Chromium renders only in part). The run shown is RUN,
or else the finished run with the best validation accuracy (never chosen on the test rows).
"""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from PIL import Image

from fer_lightning.report import write_report
from fer_lightning.runs.results import epoch_curves, find_runs, results_table

DOCS = Path(__file__).resolve().parent
# Wide enough to read in a README (GitHub shows about 880 pixels), small enough to commit.
MAX_WIDTH = {"activations.png": 1100}
DEFAULT_WIDTH = 900


def shrink(source: Path, target: Path) -> Path:
    """Scale down to the README's width and store as a 256-colour PNG (about 4x smaller)."""
    if not source.is_file():
        raise SystemExit(
            f"{source}: no such picture (a finished run trained with callbacks=default?)"
        )
    with Image.open(source) as image:
        image = image.convert("RGB")
        width = MAX_WIDTH.get(target.name, DEFAULT_WIDTH)
        if image.width > width:
            height = round(image.height * width / image.width)
            image = image.resize((width, height), Image.Resampling.LANCZOS)
        image.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(target, optimize=True)
    return target


def best_run(runs: list[Path], table) -> Path:
    """The FER2013 run with the best validation accuracy: the README shows a model selected as
    users do (FER+ accuracy, against other labels, is not comparable)."""
    fer2013 = table[table["labels"] == "fer2013"] if "labels" in table else table
    return runs[int((fer2013 if len(fer2013) else table)["best_val_acc"].astype(float).idxmax())]


def activation_grid(run: Path) -> Path:
    """The end-of-training grid of the second conv stage: past plain edges, still face-shaped."""
    grids = sorted((run / "activations").glob("end_*.png"))
    grids = [g for g in grids if g.name != "end_filters.png"]
    if not grids:
        raise SystemExit(f"{run}/activations: no end_*.png (train with callbacks=default)")
    return grids[min(2, len(grids) - 1)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def screenshot(logdir: Path, tab: str, target: Path, size: str = "1400,900") -> Path | None:
    """A headless Chromium screenshot of one TensorBoard tab over logdir."""
    chromium = shutil.which("chromium-headless-shell") or shutil.which("chromium")
    if chromium is None:
        print(f"skipped {target.name}: no chromium-headless-shell (apt-get install it)")
        return None
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tensorboard.main",
            "--logdir",
            str(logdir),
            "--port",
            str(port),
            "--host",
            "127.0.0.1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(120):
            try:
                urllib.request.urlopen(url, timeout=1)
                break
            except OSError:
                time.sleep(0.5)
        with tempfile.TemporaryDirectory() as tmp:
            raw = Path(tmp) / "raw.png"
            subprocess.run(
                [
                    chromium,
                    "--no-sandbox",
                    "--hide-scrollbars",
                    f"--screenshot={raw}",
                    f"--window-size={size}",
                    "--virtual-time-budget=40000",
                    f"{url}/#{tab}",
                ],
                check=True,
                capture_output=True,
                timeout=180,
            )
            return shrink(raw, target)
    finally:
        server.terminate()
        server.wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path, help="folder of finished runs (outputs/train/runs)")
    parser.add_argument("--run", type=Path, help="the run shown (default: best validation)")
    parser.add_argument(
        "--dashboard", type=Path, help="the run whose TensorBoard is shown (default: --run)"
    )
    parser.add_argument("--out", type=Path, default=DOCS)
    args = parser.parse_args(argv)
    runs = find_runs([args.runs])
    table = results_table(runs)
    run = args.run or best_run(runs, table)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        write_report(table, [epoch_curves(r) for r in runs], Path(tmp))
        written = [
            shrink(run / "confusion_matrix_test.png", args.out / "confusion_matrix.png"),
            shrink(run / "curves.png", args.out / "curves.png"),
            shrink(activation_grid(run), args.out / "activations.png"),
            shrink(Path(tmp) / "test_accuracy.png", args.out / "test_accuracy.png"),
        ]
    dashboard = args.dashboard or run
    written.append(
        screenshot(dashboard / "tensorboard", "custom_scalars", args.out / "tensorboard_curves.png")
    )
    written.append(
        screenshot(dashboard / "tensorboard", "images", args.out / "tensorboard_images.png")
    )
    print(f"pictures of {run} (TensorBoard: {dashboard}):")
    for path in filter(None, written):
        print(f"  {path} ({path.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
