"""Two-process DDP on the CPU (gloo): one run folder, the test accuracy of a single process."""

import json

import pytest

from fer_lightning.eval import evaluate
from tests.conftest import compose_train
from tests.test_train import run_cli


def test_ddp_cpu_fits_and_tests_into_one_run_folder(tmp_path):
    cwd = tmp_path / "ddp"
    cwd.mkdir()
    result = run_cli(
        [
            "trainer=ddp_cpu",
            "data=synthetic",
            "data.synthetic_size=420",
            "data.batch_size=32",
            "trainer.max_epochs=1",
            "trainer.limit_train_batches=3",
            "callbacks.progress_bar=null",
            "callbacks.activation_grids=null",
        ],
        cwd=cwd,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    runs = list((cwd / "outputs" / "train" / "runs").iterdir())
    assert len(runs) == 1  # Hydra and DDP must not make one folder per rank
    (run,) = runs
    assert (run / "train_ddp_process_1.log").exists()  # the second rank really ran
    metrics = json.loads((run / "final_metrics.json").read_text())
    (best,) = (run / "checkpoints").glob("epoch*.ckpt")
    single = evaluate(compose_train([f"ckpt_path={best}"], tmp_path / "eval", "eval"))
    # Synchronized across ranks: 70 test faces split 35 + 35, no padding, the same accuracy.
    assert metrics["test/acc"] == pytest.approx(single["test/acc"], abs=1e-6)
