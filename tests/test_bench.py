"""The benchmark scripts still match the package: a moved config or renamed module fails here in
seconds, not in a 4-minute `make bench` whose rows come back n/a; pace.py lines runs up by step
or by faces seen."""

import importlib.util
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch

from fer_lightning.data.augment import build_augmentation
from tests.helpers.configs import compose_train
from tests.helpers.paths import ROOT

BENCHMARKS = ROOT / "benchmarks"


def load_script(name: str):
    """A script of benchmarks/ as a module (registered first: its dataclasses look it up), with
    benchmarks/ on the path as when it runs, so bench.py finds its parts in pipeline_bench/."""
    if str(BENCHMARKS) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS))
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench():
    """bench.py's parts, reached as bench.py itself imports them."""
    load_script("bench")
    import pipeline_bench.ours

    return pipeline_bench.ours


@pytest.mark.parametrize("aug", ["colorjitter", "fer_cpu"])
def test_the_benchmarks_augmentation_groups_build(bench, aug):
    augmentation = build_augmentation(bench.aug_config(aug))
    assert augmentation.transforms is not None and len(augmentation.transforms) > 0


@pytest.mark.parametrize("name", ["emo1", "emo5", "compact_vgg"])
def test_the_benchmarks_networks_build(bench, name):
    channels = 1 if name == "compact_vgg" else 3
    logits = bench.network(name, channels_last=True)(torch.zeros(2, channels, 48, 48))
    assert logits.shape == (2, 7)


def fake_run(folder, steps, accs, batch):
    (folder / ".hydra").mkdir(parents=True)
    (folder / ".hydra" / "config.yaml").write_text(f"data:\n  batch_size: {batch}\n")
    rows = ["epoch,step,val/acc,train/loss"]
    rows += [f"{i},{s},{a},0.5" for i, (s, a) in enumerate(zip(steps, accs, strict=True))]
    rows.append("9,7,,0.4")  # a training row: no validation
    (folder / "metrics.csv").write_text("\n".join(rows) + "\n")
    return folder


def test_pace_compares_validation_at_equal_steps(tmp_path):
    pace = load_script("pace")
    checked = fake_run(tmp_path / "sota", [10, 20, 30], [0.3, 0.4, 0.5], batch=256)
    baseline = fake_run(tmp_path / "emo1", [15, 30], [0.35, 0.45], batch=1024)
    table = pace.pace_table([checked, baseline])
    assert table["step"].tolist() == [10, 20, 30]
    assert table["emo1 val/acc"].tolist()[1:] == [0.35, 0.45]  # its last at or before the step
    assert pd.isna(table["emo1 val/acc"][0])  # none yet at step 10
    assert table["sota faces seen"].tolist() == [2560, 5120, 7680]


def test_pace_compares_validation_at_equal_faces_seen(tmp_path):
    """A larger batch sees more faces a step: at equal faces, EmoCNN's 1024 is at fewer steps."""
    pace = load_script("pace")
    checked = fake_run(tmp_path / "sota", [10, 20, 40], [0.3, 0.4, 0.5], batch=256)
    baseline = fake_run(tmp_path / "emo1", [3, 5, 10], [0.2, 0.35, 0.45], batch=1024)
    table = pace.pace_table([checked, baseline], by="faces")
    assert table["faces seen"].tolist() == [2560, 5120, 10240]
    # 2,560 faces: emo1's step 2 (no validation yet); 5,120: step 5 (0.35); 10,240: step 10.
    assert pd.isna(table["emo1 val/acc"][0])
    assert table["emo1 val/acc"].tolist()[1:] == [0.35, 0.45]
    assert table["emo1 step"].tolist() == [2, 5, 10]
    assert table["sota val/acc"].tolist() == [0.3, 0.4, 0.5]


def test_step_ops_counts_every_phase_of_the_recipes_step(capsys):
    """benchmarks/step_ops.py composes the real config and counts each phase of one step."""
    load_script("step_ops").main(["experiment=fer_cpu"])
    lines = capsys.readouterr().out.splitlines()
    counts = {line[:40].strip(): int(line[40:].split()[0]) for line in lines[1:]}
    phases = ["augmentation (on_after_batch_transfer)", "forward and loss", "backward"]
    phases += ["optimizer step and zero_grad", "train metrics update", "weight average update"]
    assert list(counts) == [*phases, "total"]
    assert all(counts[p] > 0 for p in phases)
    assert counts["total"] == sum(counts[p] for p in phases)
    assert lines[0].startswith("experiment=fer_cpu, batch 128 (128 network inputs)")


def test_ema_update_benchmark_times_both_kinds(capsys):
    load_script("ema_update").main(["--steps", "2", "--rounds", "1"])
    out = capsys.readouterr().out
    assert "avg_fn, one tensor at a time" in out and "multi_avg_fn, foreach (ours)" in out
    assert "faster" in out.splitlines()[-1]


def test_bench_runs_as_a_script_with_its_parts():
    """`make bench` and each worker start bench.py as a script: its imports must resolve so."""
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "bench.py"), "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "--only {precision,compile,inference}" in done.stdout


def test_pace_means_validation_over_windows(tmp_path):
    """Windows of the first run's axis, up to its last validation; a window without one is NaN."""
    pace = load_script("pace")
    checked = fake_run(tmp_path / "vgg", [10, 20, 30, 40, 50], [0.2, 0.4, 0.5, 0.5, 0.6], batch=128)
    baseline = fake_run(tmp_path / "emo1", [15, 45, 60], [0.3, 0.5, 0.9], batch=128)
    table = pace.window_table([checked, baseline], width=20)
    assert table["step from"].tolist() == [1, 21, 41]
    assert table["step to"].tolist() == [20, 40, 50]
    assert table["vgg mean val/acc"].tolist() == pytest.approx([0.3, 0.5, 0.6])
    assert table["emo1 mean val/acc"].tolist()[::2] == [0.3, 0.5]  # step 60 is past the end
    assert pd.isna(table["emo1 mean val/acc"][1])
    by_faces = pace.window_table([checked, baseline], width=2560, by="faces")
    assert by_faces["faces to"].tolist() == [2560, 5120, 6400]


@pytest.fixture(scope="module")
def inference_bench():
    """The inference part of bench.py, reached as bench.py itself imports it."""
    load_script("bench")
    import pipeline_bench.inference
    import pipeline_bench.inference_table

    return pipeline_bench.inference, pipeline_bench.inference_table


def test_the_inference_stand_in_is_the_shipped_recipes_network_and_views(inference_bench, tmp_path):
    """Until the shipped model exists the bench times a stand-in: its run must still compose to
    experiment=ferplus_cpu's CompactVGG with the 40x40 centre crop and its mirror image."""
    from pipeline_bench.timed_model import STANDIN_RUN

    cfg = compose_train(STANDIN_RUN, tmp_path)
    assert cfg.model._target_.endswith("CompactVGG")
    assert (cfg.aug.crop.eval, cfg.aug.crop.size, cfg.aug.tta) == ("center", 40, "hflip")


def test_the_inference_bench_times_faces_and_a_photo(inference_bench, tiny_run, tmp_path):
    """Every row's call runs on a real recognizer, the photo has its one face, the table fills."""
    from fer_lightning import EmotionRecognizer

    inference, table = inference_bench
    rec = EmotionRecognizer.from_checkpoint(tiny_run.best, device="cpu")
    faces = np.random.default_rng(0).integers(0, 256, (4, 48, 48), np.uint8)
    calls, onnx_gap = inference.classify_calls(rec, faces, tmp_path)
    assert {engine for engine, _ in calls} >= {"PyTorch fp32", "ONNX Runtime fp32"}
    assert onnx_gap < 1e-4
    before = rec.classifier.precision, rec.classifier.fast_net
    for (engine, n), call in calls.items():
        assert call() == n or n > len(faces), engine  # every row runs
    assert (rec.classifier.precision, rec.classifier.fast_net) == before  # and restores the model
    assert inference.items_per_second(calls["ONNX Runtime fp32", 1], 0.01) > 0
    photo = inference.test_photo()
    assert photo.shape == (480, 640, 3) and len(rec.predict(photo)) == 1
    rec.reader.local.detector = inference.TimedDetector(rec.reader.detector())
    timed = inference.photo_rate(rec, photo, 0.01)
    assert timed["rate"] > 0 and 0 < timed["detection"] + timed["network"] <= 1
    result = {
        "faces": {f"{e} {n}": 100.0 for e, n in calls},
        "photos": {"RGB array": timed, "JPEG file": timed},
        "views": 1,
    }
    markdown = "\n".join(table.inference_table(result))
    assert "| PyTorch fp32 (`precision=32`) | 100 | 100 | **1.00x** |" in markdown
    assert "Reached here: 100 faces/s batched" in markdown
