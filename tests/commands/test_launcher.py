"""Cluster sweeps: the submitit launcher presets (the [slurm] extra), run with submitit's local
executor, which takes the same path as SLURM up to the scheduler: pickled jobs, one process each."""

import importlib.util
import json

import pytest
import yaml

from fer_lightning.cli import PLUGIN_CHOICES, check_plugins
from fer_lightning.report import main as report_main
from tests.helpers.commands import run_cli
from tests.helpers.runs import REPORTED_RUN

needs_slurm = pytest.mark.skipif(
    importlib.util.find_spec("hydra_plugins.hydra_submitit_launcher") is None,
    reason="needs the [slurm] extra",
)


@pytest.mark.e2e
@needs_slurm
def test_local_submitit_sweep_gives_one_run_folder_per_job(tmp_path):
    result = run_cli(["-m", "hydra/launcher=local", "model=emo1,emo2", *REPORTED_RUN], cwd=tmp_path)
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


@pytest.mark.e2e
@needs_slurm
def test_slurm_preset_builds_its_launcher_one_task_per_gpu(tmp_path):
    """Without a cluster: the preset composes (--cfg prints it: a task per GPU, submitit's logs
    inside the sweep folder), and a multirun gets as far as submitit's SLURM executor, which
    stops only because there is no srun here."""
    overrides = ["trainer=ddp", "hydra.launcher.nodes=2", "hydra.launcher.gpus_per_node=4"]
    args = ["hydra/launcher=slurm", *overrides, "--cfg", "all", "--resolve"]
    result = run_cli(args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    launcher = yaml.safe_load(result.stdout)["hydra"]["launcher"]
    assert launcher["_target_"].endswith("SlurmLauncher")
    assert (launcher["nodes"], launcher["gpus_per_node"], launcher["tasks_per_node"]) == (2, 4, 4)
    assert "/multiruns/" in launcher["submitit_folder"]
    result = run_cli(["-m", "hydra/launcher=slurm", *REPORTED_RUN], cwd=tmp_path)
    assert result.returncode != 0
    assert 'Could not detect "srun"' in result.stderr, result.stderr[-3000:]


def test_a_missing_plugin_is_one_line(monkeypatch, capsys):
    """hydra/launcher=slurm (or hparams_search=optuna) without its extra: say which to install."""
    monkeypatch.setitem(PLUGIN_CHOICES, "hydra/launcher=slurm", ("no_such_plugin", "slurm"))
    with pytest.raises(SystemExit) as info:
        check_plugins(["-m", "model=emo1", "hydra/launcher=slurm"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install 'fer_lightning[slurm]'" in err
    check_plugins(["model=emo1", "trainer=cpu"])  # no plugin asked for: returns
