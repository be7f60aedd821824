"""A finished run folder made without training, and what the report tests compare: the
report's hostile cases (test_hostile_report*.py) share them."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from fer_lightning.report import main as report_main

BEGIN, END = "<!-- begin report results -->", "<!-- end report results -->"
README = f"# Title\n\n{BEGIN}\n| stale |\n{END}\n\nText after.\n"
OUTPUTS = ("results.csv", "results.md", "test_accuracy.png", "val_curves.png", "loss_curves.png")


def make_run(folder: Path, name: str, acc: float = 0.5, overrides: list[str] | None = None) -> Path:
    """A finished run folder as training leaves it, without training: what the report reads."""
    run = folder / name
    (run / ".hydra").mkdir(parents=True)
    metrics = {"test/acc": acc, "val/acc_best": 0.4, "epochs": 2, "params": 10}
    (run / "final_metrics.json").write_text(json.dumps({**metrics, "test/recall/angry": 0.3}))
    config = {"seed": 1, "optimizer": {"lr": 0.1}, "trainer": {"max_epochs": 2}}
    OmegaConf.save(config, run / ".hydra" / "config.yaml")
    choices = {"model": "emo1", "aug": "none", "scheduler": "cosine"}
    OmegaConf.save({"hydra": {"runtime": {"choices": choices}}}, run / ".hydra" / "hydra.yaml")
    OmegaConf.save(OmegaConf.create(overrides or []), run / ".hydra" / "overrides.yaml")
    (run / "metrics.csv").write_text("epoch,step,val/acc,val/loss\n0,1,0.3,1.1\n1,2,0.4,1.0\n")
    return run


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file below ``folder`` (links as the text of the link), to compare before and after."""
    return {
        str(p.relative_to(folder)): os.readlink(p).encode() if p.is_symlink() else p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_symlink() or p.is_file()
    }


def one_error_line(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """Run the report expecting a refusal: exit 2 and one line on stderr, which is returned."""
    with pytest.raises(SystemExit) as exit_info:
        report_main(list(args))
    err = capsys.readouterr().err
    assert exit_info.value.code == 2, err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    return err
