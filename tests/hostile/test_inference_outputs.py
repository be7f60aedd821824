"""Where predict, export and visualize write, and on what: one line naming the option.

An output that is a folder, lies under a file or in a place that refuses writes, a run folder
(``hydra.run.dir``) that cannot be made, and a device that is not there: each is refused in one
line before the work, never a traceback after it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import torch

from fer_lightning.data.synthetic import generate_faces
from fer_lightning.errors import UserError
from fer_lightning.export import export
from fer_lightning.inference import face_detection as fd
from fer_lightning.inference.argv_checks import check_run_folder
from fer_lightning.pixel_limit import ENV
from fer_lightning.predict import predict
from fer_lightning.visualize import visualize
from tests.helpers.configs import compose_train
from tests.helpers.inference import BOMB_SIDE, bomb_png, run_predict
from tests.helpers.paths import ROOT

pytest.importorskip("cv2", reason="photo prediction needs opencv-python-headless")


@pytest.fixture(scope="module")
def bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bomb_png(tmp_path_factory.mktemp("bomb") / "bomb.png", BOMB_SIDE)


def unwritable_folder() -> Path:
    """A folder nobody may write in, root included (sysfs), or a skip where there is none."""
    folder = Path("/sys")
    try:
        with tempfile.NamedTemporaryFile(dir=folder):
            pass
    except OSError:
        return folder
    pytest.skip("no folder here refuses writes to root")


def run_commands(cases: list[tuple[str, list[str]]], cwd: Path) -> list[tuple[int, list[str]]]:
    """Each command's ``main`` as a user runs it, all in one process (one torch import).

    Returns per case the exit code and the lines it wrote to stderr.
    """
    script = """
import contextlib, importlib, io, json, sys
from hydra.core.global_hydra import GlobalHydra
for module, args in json.loads(sys.argv[1]):
    sys.argv, err, code = [module, *args], io.StringIO(), 0
    GlobalHydra.instance().clear()
    with contextlib.redirect_stderr(err):
        try:
            importlib.import_module(module).main()
        except SystemExit as stop:
            code = stop.code
    print("RESULT " + json.dumps([code, err.getvalue()]))
"""
    env = {**os.environ, "HYDRA_FULL_ERROR": "0", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", script, json.dumps(cases)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    results = [
        json.loads(line.removeprefix("RESULT "))
        for line in done.stdout.splitlines()
        if line.startswith("RESULT ")
    ]
    assert len(results) == len(cases), done.stderr[-3000:]
    return [(code, [x for x in err.splitlines() if x.strip()]) for code, err in results]


@pytest.mark.e2e
def test_export_onto_a_folder_or_under_a_file_is_one_line(tiny_run, tmp_path):
    folder = tmp_path / "models"
    folder.mkdir()
    (tmp_path / "a_file").write_text("not a folder")
    for output, message in (
        (folder, r"models: is a folder: name the file to write, e.g. output=.*model\.onnx"),
        (tmp_path / "a_file" / "model.onnx", r"a_file.*not a folder"),
    ):
        cfg = compose_train(
            [f"ckpt_path={tiny_run.last}", f"output={output}", "check_faces=2"], tmp_path, "export"
        )
        with pytest.raises(UserError, match=message):
            export(cfg)
    assert list(folder.iterdir()) == []


@pytest.mark.e2e
@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_export_into_a_folder_that_refuses_writes_is_one_line(tiny_run, tmp_path, fmt):
    output = unwritable_folder() / f"model.{fmt}"
    overrides = [f"ckpt_path={tiny_run.last}", f"output={output}", f"format={fmt}", "check_faces=2"]
    with pytest.raises(
        UserError, match=rf"output={output}: cannot write in {output.parent} \(.*\): choose a place"
    ):
        export(compose_train(overrides, tmp_path, "export"))


@pytest.mark.e2e
@pytest.mark.parametrize("command", ["predict", "visualize", "export"])
def test_a_run_folder_that_refuses_writes_is_one_line(tiny_run, tmp_path, command):
    face = tmp_path / "face.png"
    fd.write_image(face, generate_faces(1, seed=3)[0][0])
    run_dir = unwritable_folder() / "fer_run"
    overrides = {
        "predict": [f"input={face}"],
        "visualize": [f"image={face}"],
        "export": ["check_faces=2"],
    }[command]
    cfg = compose_train(
        [f"ckpt_path={tiny_run.last}", f"paths.output_dir={run_dir}", *overrides],
        tmp_path,
        command,
    )
    task = {"predict": predict, "visualize": visualize, "export": export}[command]
    with pytest.raises(UserError, match=rf"{run_dir}: cannot write .*hydra\.run\.dir="):
        task(cfg)


@pytest.mark.e2e
@pytest.mark.parametrize("device", ["cuda", "cuda:7", "mps"])
def test_predict_on_a_device_that_is_not_there_is_one_line(tiny_run, tmp_path, device):
    kind, index = torch.device(device).type, torch.device(device).index or 0
    if kind == "cuda" and torch.cuda.device_count() > index:
        pytest.skip(f"{device} is here")
    if kind == "mps" and torch.backends.mps.is_available():
        pytest.skip("mps is here")
    face = tmp_path / "face.png"
    fd.write_image(face, generate_faces(1, seed=3)[0][0])
    with pytest.raises(UserError, match=rf"device={re.escape(device)}: .* use device="):
        run_predict(tiny_run.last, tmp_path, f"input={face}", f"device={device}")


@pytest.mark.e2e
def test_the_commands_answer_in_one_line_and_exit_2(tiny_run, tmp_path, bomb):
    (tmp_path / "a_file").write_text("not a folder")
    face = tmp_path / "face.png"
    fd.write_image(face, generate_faces(1, seed=3)[0][0])
    ckpt, sys_dir = f"ckpt_path={tiny_run.last}", unwritable_folder()
    predict_face = ("fer_lightning.predict", ckpt, f"input={face}")
    cases = [  # (module, *arguments, the one line it must answer)
        ("fer_lightning.visualize", ckpt, f"image={bomb}", rf"{bomb}: 20000x20000 is .* {ENV}=N"),
        (*predict_face, "hydra.run.dir=a_file/run", r"hydra.run.dir=a_file/run: a_file is a file"),
        (*predict_face, f"hydra.run.dir={sys_dir}", rf"hydra.run.dir={sys_dir}: cannot write in"),
        ("fer_lightning.export", ckpt, "device=cuda", r"device=cuda: export has no device option"),
        ("fer_lightning.visualize", ckpt, "+device=cuda", r"\+device=cuda: visualize has no dev"),
        ("fer_lightning.export", ckpt, f"output={tmp_path}", rf"output={tmp_path}: is a folder"),
    ]
    for module in ("fer_lightning.export", "fer_lightning.visualize"):
        cases.append((module, ckpt, "hydra.run.dir=a_file/x", r"hydra.run.dir=a_file/x: a_file"))
    if not torch.cuda.is_available():
        cases.append((*predict_face, "device=cuda", r"device=cuda: .* use device="))
    results = run_commands([(module, list(args)) for module, *args, _ in cases], tmp_path)
    for case, (code, lines) in zip(cases, results, strict=True):
        assert code == 2 and len(lines) == 1, (case, lines[-5:])
        assert re.match(f"error: {case[-1]}", lines[0]), (case, lines[0])


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["hydra.run.dir=a_file/run"], r"hydra.run.dir=a_file/run: a_file is a file, not a folder"),
        (["++hydra.run.dir='a_file/${now:%H}'"], r"hydra.run.dir=a_file/\$\{now:%H\}: a_file is"),
        (["paths.log_dir=a_file/logs"], r"paths.log_dir=a_file/logs: a_file is a file"),
        (["-m", "hydra.sweep.dir=a_file/s"], r"hydra.sweep.dir=a_file/s: a_file is a file"),
        (["x=1"], r"outputs: cannot write in /sys \(.*\): choose a folder .*hydra.run.dir="),
    ],
)
def test_a_run_folder_that_cannot_be_made_is_refused_before_hydra(
    tmp_path, monkeypatch, argv, message
):
    (tmp_path / "a_file").write_text("not a folder")
    monkeypatch.chdir(unwritable_folder() if argv == ["x=1"] else tmp_path)
    with pytest.raises(UserError, match=message):
        check_run_folder(argv)


def test_the_run_folder_check_passes_what_can_be_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a_file").write_text("not a folder")
    check_run_folder(["hydra.run.dir=new/deeper/run", "paths.log_dir=a_file"])
    check_run_folder(["hydra.run.dir=a_file/run", "--cfg", "job"])  # Hydra writes nothing then
    check_run_folder(["hydra.run.dir=${oc.env:HOME}/run"])  # known only once Hydra runs
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file"]
