"""Hydra's own errors in the project's form: one line naming the closest option and the choices.

Hydra answers a typo with 6-16 lines and advises ``+key=value``, which adds a key nothing reads
and trains the default. Every command composes through ``cli.command``; these run its ``main``
in-process, as the shell would, and read the exit code and stderr.
"""

from __future__ import annotations

import importlib
import sys

import pytest
from hydra.core.global_hydra import GlobalHydra


@pytest.fixture(autouse=True)
def fresh_hydra(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # a run that slipped through would write here, not in the tree
    monkeypatch.delenv("HYDRA_FULL_ERROR", raising=False)
    GlobalHydra.instance().clear()
    yield
    GlobalHydra.instance().clear()


def run_command(command: str, args: list[str], monkeypatch, capsys) -> tuple[object, list[str]]:
    """``python -m fer_lightning.<command> args``: its exit code (None: returned) and stderr's
    lines; stdout stays in ``capsys``."""
    module = importlib.import_module(f"fer_lightning.{command}")
    monkeypatch.setattr(sys, "argv", [f"fer_lightning.{command}", *args])
    code = None
    try:
        module.main()
    except SystemExit as stop:
        code = stop.code
    captured = capsys.readouterr()
    print(captured.out, end="")  # back to capsys for a test that reads it
    return code, [line for line in captured.err.splitlines() if line.strip()]


def assert_one_line(code: object, lines: list[str], *parts: str) -> str:
    assert code == 2 and len(lines) == 1, (code, lines)
    (line,) = lines
    assert line.startswith("error: "), line
    for part in parts:
        assert part in line, line
    return line


@pytest.mark.parametrize(
    ("args", "parts"),
    [
        # A group's name mistyped: the closest group, with the value as typed.
        (["modle=emo5"], ["modle=emo5", "did you mean model=emo5?", "aug", "optimizer"]),
        (["shceduler=cosine"], ["did you mean scheduler=cosine?"]),
        # No such option in a group: the closest option and every choice.
        (["model=emo9"], ["model=emo9", "compact_vgg", "emo1", "resnet18_fer", "vgg_fer"]),
        (["aug=nope"], ["aug=nope", "did you mean aug=none?", "colorjitter", "tencrop"]),
        (["experiment=fer_cpuu"], ["did you mean experiment=fer_cpu?", "seed_emo1"]),
        (["hydra/launcher=locl"], ["did you mean hydra/launcher=local?"]),
        # A key mistyped, at any depth, in a group's chosen option too.
        (["data.batch_sise=64"], ["data.batch_sise=64", "did you mean data.batch_size=64?"]),
        (["trainer.max_stepz=3"], ["did you mean trainer.max_steps=3?"]),
        (["data=synthetic", "data.synthetic_sise=9"], ["did you mean data.synthetic_size=9?"]),
        (["sead=1"], ["did you mean seed=1?"]),
        (["modle.num_classes=7"], ["did you mean model.num_classes=7?"]),
    ],
)
def test_a_typo_is_one_line_with_the_closest_option(args, parts, monkeypatch, capsys):
    line = assert_one_line(*run_command("train", args, monkeypatch, capsys), *parts)
    assert "+" not in line.split("did you mean")[-1], line  # never Hydra's advice to append


@pytest.mark.e2e
@pytest.mark.parametrize("plus", ["+", "++"])
@pytest.mark.parametrize(
    ("key", "suggestion"),
    [("modle=emo5", "model=emo5"), ("data.batch_sise=64", "data.batch_size=64")],
)
def test_appending_a_near_miss_is_refused_not_silently_ignored(
    plus, key, suggestion, monkeypatch, capsys
):
    """``+modle=emo5`` composes (a new key modle that nothing reads) and trains the default."""
    code, lines = run_command("train", [f"{plus}{key}", "--cfg", "job"], monkeypatch, capsys)
    assert_one_line(code, lines, f"{plus}{key}", f"did you mean {suggestion}?")


def test_appending_a_new_key_far_from_any_still_works(monkeypatch, capsys):
    """A Trainer argument the config lacks is added with + (Hydra's way), and reaches it."""
    code, lines = run_command(
        "train", ["+trainer.profiler=simple", "--cfg", "job"], monkeypatch, capsys
    )
    assert code is None and not [x for x in lines if x.startswith("error")], lines
    assert "profiler: simple" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "parts"),
    [
        (["+trainer.max_steps=5"], ["+trainer.max_steps=5", "trainer.max_steps=5"]),
        (["+model=emo5"], ["+model=emo5", "model=emo5"]),
        (["model=emo1,emo5"], ["model=emo1,emo5", "-m"]),
        (["~nokey"], ["~nokey"]),
        (["data.path"], ["data.path", "key=value"]),
    ],
)
def test_other_composition_errors_are_one_line(args, parts, monkeypatch, capsys):
    assert_one_line(*run_command("train", args, monkeypatch, capsys), *parts)


@pytest.mark.parametrize(
    ("command", "args", "parts"),
    [
        ("eval", ["splt=val"], ["splt=val", "did you mean split=val?"]),
        ("eval", ["trainer=cpuu"], ["did you mean trainer=cpu?", "ddp"]),
        ("eval", ["data=synthetic"], ["data=synthetic: data holds keys here", "eval_batch_size"]),
        ("predict", ["devise=cpu"], ["did you mean device=cpu?"]),
        ("export", ["formt=onnx"], ["did you mean format=onnx?"]),
        ("visualize", ["max_chanels=8"], ["did you mean max_channels=8?"]),
        ("aug_preview", ["aug=colorjiter"], ["did you mean aug=colorjitter?"]),
        ("aug_preview", ["+modle=emo5"], ["did you mean model=emo5?"]),
    ],
)
def test_every_command_answers_in_one_line(command, args, parts, monkeypatch, capsys):
    assert_one_line(*run_command(command, args, monkeypatch, capsys), *parts)


def test_a_multirun_with_a_bad_option_stops_before_any_job(monkeypatch, capsys, tmp_path):
    """Hydra checks a sweep's jobs before it runs them; the answer is one line, and no job ran."""
    code, lines = run_command("train", ["-m", "model=emo1,emo9"], monkeypatch, capsys)
    assert_one_line(code, lines, "model=emo9", "emo1")
    assert not (tmp_path / "outputs").exists()


@pytest.mark.e2e
@pytest.mark.parametrize("sweep", ["model=emo1,emo2", "experiment=glob(seed_emo1*)"])
def test_a_good_sweep_passes_the_check(sweep):
    """Hydra runs no sweep with --cfg: the check itself, as ``main`` calls it."""
    from fer_lightning.cli_overrides import check_overrides
    from fer_lightning.config import register_resolvers

    register_resolvers()
    check_overrides("train", ["-m", sweep, "data=synthetic"])


@pytest.mark.e2e
def test_a_typo_from_the_shell_exits_2_in_one_line(tmp_path):
    from tests.helpers.commands import run_cli

    result = run_cli(["modle=emo5"], cwd=tmp_path)
    lines = [x for x in result.stderr.splitlines() if x.strip()]
    assert result.returncode == 2 and len(lines) == 1, result.stderr[-2000:]
    assert lines[0].startswith("error: modle=emo5") and "model=emo5" in lines[0]
