"""The Optuna search config runs trials through the real entry point (needs the sweep extra)."""

import pytest
import yaml

from tests.helpers.commands import run_cli
from tests.helpers.runs import TINY_RUN

pytest.importorskip(
    "hydra_plugins.hydra_optuna_sweeper",
    reason="the sweep extra is not installed: pip install -e '.[sweep]'",
)


def test_optuna_search_runs_trials_and_reports_the_best(tmp_path):
    result = run_cli(
        [
            "hparams_search=optuna",
            "hydra.sweeper.n_trials=2",
            "hydra.sweeper.sampler.n_startup_trials=2",
            # The search chooses data.batch_size itself: a fixed one would take it out.
            *(o for o in TINY_RUN if not o.startswith("data.batch_size=")),
            "test=false",
        ],
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (sweep,) = (tmp_path / "outputs" / "train" / "multiruns").iterdir()
    assert sorted(p.name for p in sweep.iterdir() if p.is_dir()) == ["0", "1"]
    best = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert 0.0 <= best["best_value"] <= 1.0
    assert {"optimizer.lr", "data.batch_size", "aug"} <= set(best["best_params"])
