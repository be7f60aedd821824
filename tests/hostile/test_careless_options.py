"""Careless options end in one line naming the option and the fix, before any training."""

from __future__ import annotations

import pytest

from fer_lightning.errors import UserError
from fer_lightning.training.fit import train
from tests.helpers.commands import run_cli
from tests.helpers.fer_csv import csv_text, fer_rows
from tests.helpers.runs import TINY, on_data


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["data.batch_size=-1"], r"data.batch_size=-1: give a whole number of faces"),
        (["data.batch_size=0"], r"data.batch_size=0"),
        (["data.eval_batch_size=2.5"], r"data.eval_batch_size=2.5"),
        (["data.val_ratio=1.5"], r"data.val_ratio=1.5: give a fraction in \[0, 1\)"),
        (["optimizer.lr=abc"], r"optimizer torch.optim.Adam refuses its options .*optimizer.lr"),
        (["trainer.max_epochs=0"], r"trainer.max_epochs=0 .* trains nothing"),
    ],
)
def test_bad_option_is_one_line(train_cfg, overrides, message):
    with pytest.raises(UserError, match=message):
        train(train_cfg([*TINY, *overrides]))


def test_an_empty_carved_validation_split_names_val_ratio(train_cfg, write_csv):
    images, labels, usage = fer_rows(60, seed=7)
    usage[:] = 0  # Training rows only, as in a copy without the test rows
    path = write_csv(csv_text(images, labels, usage))
    cfg = train_cfg(on_data(TINY, "data=fer2013_dev", f"data.path={path}", "data.val_ratio=0"))
    with pytest.raises(UserError, match=r"val split is empty: .*data.val_ratio") as error:
        train(cfg)
    assert "val_usage" not in str(error.value)


def test_common_trainer_flags_override_without_plus(train_cfg):
    cfg = train_cfg([*TINY, "trainer=cpu", "trainer.max_steps=2", "trainer.fast_dev_run=false"])
    assert cfg.trainer.max_steps == 2
    for key in ("accumulate_grad_batches", "gradient_clip_val", "val_check_interval"):
        assert key in cfg.trainer


@pytest.mark.e2e
def test_the_command_line_exits_2_with_one_line(tmp_path):
    result = run_cli([*TINY, "data.batch_size=-1"], cwd=tmp_path)
    lines = [x for x in result.stderr.splitlines() if x.strip()]
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert lines[-1].startswith("error: data.batch_size=-1")


@pytest.mark.e2e
def test_a_non_ascii_path_says_to_quote_it(tmp_path):
    result = run_cli(["data.path=/tmp/données/fer.csv", "--cfg", "job"], cwd=tmp_path)
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.strip().splitlines() == [
        "error: data.path=/tmp/données/fer.csv: Hydra reads characters beyond ASCII only inside "
        """quotes: write 'data.path="/tmp/données/fer.csv"' (the single quotes keep the double """
        "ones from the shell)"
    ]
    quoted = run_cli(['data.path="/tmp/données/fer.csv"', "--cfg", "job"], cwd=tmp_path)
    assert quoted.returncode == 0 and "path: /tmp/données/fer.csv" in quoted.stdout


no_gpu = pytest.mark.skipif(
    __import__("torch").cuda.is_available(), reason="a GPU is there: the option works"
)


@no_gpu
@pytest.mark.parametrize(
    ("overrides", "option"),
    [
        (["trainer=gpu"], "trainer.accelerator=gpu"),
        (["trainer.accelerator=gpu"], "trainer.accelerator=gpu"),
        (["trainer.accelerator=cuda"], "trainer.accelerator=cuda"),
        (["trainer.accelerator=mps"], "trainer.accelerator=mps"),
        (["trainer.accelerator=nope"], "trainer.accelerator=nope"),
        (["trainer.accelerator=cpu", "trainer.devices=0"], "trainer.devices=0"),
    ],
)
def test_a_device_this_machine_lacks_is_one_line_in_train(train_cfg, overrides, option):
    with pytest.raises(UserError, match=r"trainer\.accelerator=(auto|cpu)|trainer=cpu") as error:
        train(train_cfg([*TINY, *overrides]))
    assert str(error.value).startswith(option), str(error.value)
    assert "\n" not in str(error.value)


@pytest.mark.e2e
@no_gpu
def test_a_device_this_machine_lacks_is_one_line_in_eval(tmp_path, tiny_run):
    from fer_lightning.eval import evaluate
    from tests.helpers.configs import compose_train

    cfg = compose_train([f"ckpt_path={tiny_run.best}", "trainer.accelerator=gpu"], tmp_path, "eval")
    with pytest.raises(UserError, match=r"^trainer\.accelerator=gpu: .*trainer\.accelerator=cpu"):
        evaluate(cfg)


def test_an_argument_the_trainer_lacks_is_one_line(train_cfg):
    with pytest.raises(UserError, match=r"^trainer\.no_such_flag=1: .*unexpected keyword"):
        train(train_cfg([*TINY, "+trainer.no_such_flag=1"]))
