"""The seed-style model summary: the report's parameter counts per layer, and in a real run."""

import logging
from types import SimpleNamespace

import pytest
import torch
from hydra.utils import instantiate
from lightning.pytorch.loggers import TensorBoardLogger
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from fer_lightning.callbacks.model_summary import ReportSummary, summary_rows, summary_table
from fer_lightning.data import FERDataModule
from fer_lightning.data.augment import Augmentation
from fer_lightning.training.fit import train
from tests.helpers.configs import compose_train
from tests.helpers.runs import TINY_RUN, events_dir

# The report's tables: parameters of each layer that has any, in order, and the total.
CONV = [448, 32, 4640, 64, 18496, 128, 73856, 256, 147584, 256]
SEED_TABLES = {
    "emo1": ([*CONV, 129031], 374_791),
    "emo2": ([*CONV, 89607], 335_367),
    "emo3": ([*CONV, 295168, 512, 258055], 799_495),
    "emo4": ([*CONV, 295168, 512, 4718720, 903], 5_261_063),
    "emo5": (
        [*CONV, 295168, 512, 590080, 512, 295040, 256, 73792, 128, 64519],
        1_565_767,
    ),
    "emo6": ([1216, 32, 12832, 64, 51264, 128, 204928, 256, 409728, 256, 129031], 809_735),
}


def build(model: str, tmp_path) -> torch.nn.Module:
    return instantiate(compose_train([f"model={model}"], tmp_path).model)


@pytest.mark.e2e
@pytest.mark.parametrize("model", sorted(SEED_TABLES))
def test_rows_and_totals_match_the_seed_tables(model, tmp_path):
    net = build(model, tmp_path)
    layers, total = SEED_TABLES[model]
    rows = summary_rows(net, (3, 48, 48))
    assert [r.params for r in rows if r.params] == layers
    table = summary_table(net, (3, 48, 48))
    assert f"Total params: {total:,}" in table
    assert f"Trainable params: {total:,}" in table
    assert "Non-trainable params: 0" in table


def test_emo1_table_reads_like_torchsummary(tmp_path):
    table = summary_table(build("emo1", tmp_path), (3, 48, 48)).splitlines()
    assert table[1].split() == ["Layer", "(type)", "Output", "Shape", "Param", "#"]
    rows = [line.split(maxsplit=1) for line in table[3:]]
    assert rows[0] == ["Conv2d-1", "[-1, 16, 48, 48]             448"]
    assert rows[1] == ["BatchNorm2d-2", "[-1, 16, 48, 48]              32"]
    kinds = [r[0] for r in rows if r[0].split("-")[0] in ("Conv2d", "BatchNorm2d", "Linear")]
    expected = ["Conv2d", "BatchNorm2d"] * 5 + ["Linear"]
    assert [k.split("-")[0] for k in kinds] == expected
    assert any(line.startswith("Linear-") for line in [r[0] for r in rows])
    assert any("[-1, 7]" in line and line.rstrip().endswith("129,031") for line in table)


@pytest.mark.e2e
def test_output_shapes_follow_padding_and_input_size(tmp_path):
    emo2 = summary_rows(build("emo2", tmp_path), (3, 48, 48))
    convs = [r.output_shape for r in emo2 if r.layer.startswith("Conv2d")]
    assert convs == [(-1, 16, 46, 46), (-1, 32, 44, 44), (-1, 64, 20, 20)] + [(-1, 128, 10, 10)] * 2
    net = instantiate(compose_train(["model=emo1", "model.input_size=40"], tmp_path).model)
    rows = summary_rows(net, (3, 40, 40))
    assert rows[0].output_shape == (-1, 16, 40, 40) and rows[0].name == "features.stage1.conv"
    assert rows[-1].output_shape == (-1, 7)


def test_summary_leaves_the_network_as_it_was(tmp_path):
    net = build("emo1", tmp_path).train()
    bn = net.features.stage1.bn
    before = bn.running_mean.clone(), int(bn.num_batches_tracked)
    summary_table(net, (3, 48, 48))
    assert net.training
    torch.testing.assert_close(bn.running_mean, before[0])
    assert int(bn.num_batches_tracked) == before[1]
    assert all(not m._forward_hooks for m in net.modules())


@pytest.mark.e2e
def test_a_run_writes_the_table_the_log_and_the_graph(tmp_path, caplog):
    cfg = compose_train(
        [
            *TINY_RUN,
            "trainer.limit_train_batches=1",
            "trainer.limit_val_batches=1",
            "trainer.log_every_n_steps=1",
            "logger=default",
            "test=false",
            "+callbacks.report_summary._target_=fer_lightning.callbacks.model_summary.ReportSummary",
            "+callbacks.report_summary.output_dir=${paths.output_dir}",
        ],
        tmp_path,
    )
    with caplog.at_level(logging.INFO, logger="fer_lightning"):
        train(cfg)
    run = tmp_path / "run"
    text = (run / "model_summary.txt").read_text()
    assert "Conv2d-1" in text and "Total params: 374,791" in text
    assert any(
        r.name == "fer_lightning" and "Total params: 374,791" in r.getMessage()
        for r in caplog.records
    )
    acc = EventAccumulator(str(events_dir(run)), size_guidance={"graph": 0})
    acc.Reload()
    assert acc.Tags()["graph"]
    assert any("Conv2d" in node.op or "conv" in node.name for node in acc.Graph().node)


def test_input_size_is_the_side_of_the_evaluation_view(tmp_path):
    """A ten-crop run's network sees 40x40 crops; a plain run's, whole 48x48 faces."""
    callback = ReportSummary(str(tmp_path))
    dm = FERDataModule(augmentation=Augmentation(eval_crop="ten", crop_size=40))
    tencrop = SimpleNamespace(datamodule=dm)
    assert callback._input_size(tencrop) == 40
    assert ReportSummary(str(tmp_path), input_size=44)._input_size(tencrop) == 44
    assert callback._input_size(SimpleNamespace(datamodule=FERDataModule())) == 48
    assert callback._input_size(SimpleNamespace(datamodule=None)) == 48  # no data module


def test_a_graph_that_cannot_be_traced_is_a_warning(tmp_path, caplog):
    logger = TensorBoardLogger(str(tmp_path), name="tb", version="")

    def fail(*args, **kwargs):
        raise RuntimeError("cannot trace this")

    logger.experiment.add_graph = fail
    net = instantiate(compose_train(["model=emo1"], tmp_path).model).train()
    module = SimpleNamespace(net=net, hparams={})
    trainer = SimpleNamespace(loggers=[logger], datamodule=None)
    with caplog.at_level(logging.INFO, logger="fer_lightning"):
        ReportSummary(str(tmp_path)).on_fit_start(trainer, module)
    assert (tmp_path / "model_summary.txt").is_file()
    assert any("cannot trace this" in r.getMessage() for r in caplog.records)
    assert net.training
