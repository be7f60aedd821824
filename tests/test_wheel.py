"""The wheel of the checkout works from anywhere: its own code and configs, no checkout needed.

The wheel goes into a fresh venv that sees the current interpreter's third-party packages (torch,
lightning, ...) through a .pth file but not the checkout nor its editable install, and its
commands run from a folder outside the checkout.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e  # every test here trains or runs a command

ROOT = Path(__file__).resolve().parents[1]
# Local state of a checkout that is not part of it (what .gitignore names at the top).
NOT_SOURCE = {".git", ".venv", "build", "dist", "outputs", "data", ".pytest_cache", ".ruff_cache"}
TRAIN = [
    "data=synthetic",
    "data.synthetic_size=300",
    "model=emo1",
    "trainer=cpu",
    "trainer.max_epochs=1",
    "trainer.limit_train_batches=2",
    "trainer.limit_val_batches=1",
    "trainer.limit_test_batches=1",
    "callbacks=minimal",
    "logger=none",
]
GROUPS = ["aug", "callbacks", "data", "experiment", "logger", "model", "optimizer", "trainer"]


def source_copy(dest: Path) -> Path:
    """The checkout's sources without build leftovers: a stale build/ would leak into the wheel."""

    def ignore(folder: str, names: list[str]) -> set[str]:
        skip = {n for n in names if n == "__pycache__" or n.endswith(".egg-info")}
        if Path(folder) == ROOT:
            skip |= NOT_SOURCE & set(names)
        return skip

    shutil.copytree(ROOT, dest, ignore=ignore)
    return dest


def build_wheel(src: Path, dist: Path) -> Path:
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(src)]
    built = subprocess.run(pip_wheel, capture_output=True, text=True)
    if built.returncode != 0:
        # Build isolation fetches setuptools from the package index; offline, the one installed.
        built = subprocess.run([*pip_wheel, "--no-build-isolation"], capture_output=True, text=True)
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = dist.glob("fer_lightning-*.whl")
    return wheel


def third_party_paths() -> list[str]:
    """The current interpreter's package folders, the checkout and the standard library left out."""
    stdlib = {Path(sysconfig.get_path(k)).resolve() for k in ("stdlib", "platstdlib")}
    prefix = Path(sys.prefix).resolve()
    paths = []
    for entry in sys.path:
        path = Path(entry or ".").resolve()
        # A venv's site-packages lies below its (platform) stdlib folder: keep those.
        in_stdlib = path in stdlib or (path.parent in stdlib and path.name != "site-packages")
        if not path.is_dir() or in_stdlib:
            continue
        # The checkout's own folders, but not a venv kept inside it (.venv, as `make` makes).
        inside_venv = prefix == path or prefix in path.parents
        if path == ROOT or (ROOT in path.parents and not inside_venv):
            continue
        paths.append(str(path))
    return paths


def wheel_venv(wheel: Path, home: Path) -> Path:
    """A venv with the wheel installed; other packages come from the current interpreter.

    The .pth lists plain folders, so the .pth files inside them (an editable install's finder)
    are not run there: only the wheel's fer_lightning is importable.
    """
    venv.create(home, with_pip=True)
    python = home / "bin" / "python"
    install = [str(python), "-m", "pip", "install", "--no-deps", "--no-index", "-q", str(wheel)]
    installed = subprocess.run(install, capture_output=True, text=True)
    assert installed.returncode == 0, installed.stderr[-3000:]
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(site, "current_interpreter_packages.pth").write_text("\n".join(third_party_paths()) + "\n")
    return python


@pytest.fixture(scope="module")
def wheel_env(tmp_path_factory) -> tuple[Path, Path, Path]:
    """(the wheel, the venv's python, an empty folder outside the checkout to run in)."""
    tmp = tmp_path_factory.mktemp("wheel")
    wheel = build_wheel(source_copy(tmp / "src"), tmp / "dist")
    python = wheel_venv(wheel, tmp / "venv")
    work = tmp / "work"
    work.mkdir()
    return wheel, python, work


def run(python: Path, args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env.setdefault("OMP_NUM_THREADS", "2")
    return subprocess.run([str(python), *args], cwd=cwd, env=env, capture_output=True, text=True)


def test_the_wheel_holds_every_package_module_and_config(wheel_env):
    wheel, _, _ = wheel_env
    names = set(zipfile.ZipFile(wheel).namelist())
    package = ROOT / "fer_lightning"
    modules = {
        str(p.relative_to(ROOT)) for p in package.rglob("*.py") if "__pycache__" not in p.parts
    }
    assert modules - names == set(), "modules missing: a package absent from pyproject's list?"
    configs = {
        f"fer_lightning/conf/{p.relative_to(ROOT / 'conf')}"
        for p in (ROOT / "conf").rglob("*")
        if p.suffix in (".yaml", ".py") and "__pycache__" not in p.parts
    }
    shipped = {n for n in names if n.startswith("fer_lightning/conf/")}
    assert configs == shipped


def test_the_installed_wheel_trains_and_evaluates_outside_the_checkout(wheel_env):
    _, python, work = wheel_env
    where = run(python, ["-c", "import fer_lightning.conf as c; print(c.__file__)"], work)
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).is_relative_to(python.parents[1])  # the venv's own copy

    shown = run(python, ["-m", "fer_lightning", "--help"], work)
    assert shown.returncode == 0, shown.stderr[-3000:]
    listed = shown.stdout.split("== Configuration groups ==")[1]
    for group in GROUPS:
        assert f"\n{group}: " in listed, group
    assert "seed_emo1" in listed and "synthetic" in listed

    trained = run(python, ["-m", "fer_lightning", *TRAIN], work)
    assert trained.returncode == 0, trained.stderr[-3000:]
    (run_dir,) = (work / "outputs" / "train" / "runs").iterdir()
    checkpoint = run_dir / "checkpoints" / "last.ckpt"
    assert checkpoint.is_file() and (run_dir / "final_metrics.json").is_file()

    tested = run(python, ["-m", "fer_lightning.eval", f"ckpt_path={checkpoint}"], work)
    assert tested.returncode == 0, tested.stderr[-3000:]
    assert "test accuracy" in tested.stdout + tested.stderr
    (eval_dir,) = (work / "outputs" / "eval" / "runs").iterdir()
    assert (eval_dir / "metrics.json").is_file()


def test_the_installed_wheel_ships_the_trained_models(wheel_env):
    """from_pretrained works from the wheel alone: the weights and cards are package data."""
    from fer_lightning.zoo.registry import SHIPPED

    wheel, python, work = wheel_env
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in SHIPPED:
        assert {f"fer_lightning/zoo/models/{name}.{s}" for s in ("safetensors", "json")} <= names
    code = (
        "import numpy as np; from fer_lightning import EmotionRecognizer as R; "
        "from fer_lightning.zoo import SHIPPED; "
        "print([R.from_pretrained(n, device='cpu').classify(np.zeros((1, 48, 48), np.uint8)).shape"
        " for n in SHIPPED])"
    )
    loaded = run(python, ["-c", code], work)
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    assert loaded.stdout.count("(1, ") == len(SHIPPED)
