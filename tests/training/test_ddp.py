"""Two-process DDP on the CPU (gloo): one run folder, the test accuracy of a single process."""

import json

import pytest

from fer_lightning.eval import evaluate
from tests.helpers.commands import run_cli
from tests.helpers.configs import compose_train
from tests.helpers.runs import ALL_OUTPUTS, TINY_RUN

pytestmark = pytest.mark.e2e  # every test here trains or runs a command


def test_ddp_cpu_fits_and_tests_into_one_run_folder(tmp_path):
    cwd = tmp_path / "ddp"
    cwd.mkdir()
    result = run_cli(
        [
            *TINY_RUN,
            *ALL_OUTPUTS,
            "trainer=ddp_cpu",
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
    # Synchronized across ranks: 28 test faces split 14 + 14, no padding, the same accuracy.
    assert metrics["test/acc"] == pytest.approx(single["test/acc"], abs=1e-6)
