"""Cluster sweeps: the submitit launcher presets (the [slurm] extra), run with submitit's local
executor, which takes the same path as SLURM up to the scheduler: pickled jobs, one process each."""

import json

import pytest
import yaml

from fer_lightning.report import main as report_main
from tests.test_sweep_report import SHORT
from tests.test_train import run_cli

pytest.importorskip("hydra_plugins.hydra_submitit_launcher", reason="needs the [slurm] extra")


def test_local_submitit_sweep_gives_one_run_folder_per_job(tmp_path):
    result = run_cli(["-m", "hydra/launcher=local", "model=emo1,emo2", *SHORT], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    (sweep,) = (tmp_path / "outputs" / "train" / "multiruns").iterdir()
    runs = sorted(p.name for p in sweep.iterdir() if p.is_dir() and p.name.isdigit())
    assert runs == ["0", "1"]
    models = set()
    for run in runs:
        metrics = json.loads((sweep / run / "final_metrics.json").read_text())
        assert 0.0 <= metrics["test/acc"] <= 1.0
        overrides = (sweep / run / ".hydra" / "overrides.yaml").read_text()
        models.update(m for m in ("emo1", "emo2") if f"model={m}" in overrides)
    assert models == {"emo1", "emo2"}
    # submitit ran each job in its own process and kept its logs beside the runs
    logs = list((sweep / ".submitit").rglob("*_log.out"))
    assert len(logs) == 2, sorted(p.name for p in (sweep / ".submitit").rglob("*"))
    report_main([str(sweep), "--out", str(tmp_path / "report")])
    assert (tmp_path / "report" / "results.csv").is_file()


def test_slurm_preset_composes_one_task_per_gpu(tmp_path):
    """The SLURM preset resolves without a cluster (--cfg prints it): a task per GPU, the nodes
    of the trainer, and submitit's logs inside the sweep folder."""
    overrides = ["trainer=ddp", "trainer.num_nodes=2", "hydra.launcher.gpus_per_node=4"]
    args = ["hydra/launcher=slurm", *overrides, "--cfg", "all", "--resolve"]
    result = run_cli(args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    launcher = yaml.safe_load(result.stdout)["hydra"]["launcher"]
    assert launcher["_target_"].endswith("SlurmLauncher")
    assert (launcher["nodes"], launcher["gpus_per_node"], launcher["tasks_per_node"]) == (2, 4, 4)
    assert "/multiruns/" in launcher["submitit_folder"]
