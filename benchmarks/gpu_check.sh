#!/usr/bin/env bash
# The GPU figures of issues 4 and 8, prepared for the device tool (one H200, 10 minutes a call,
# 15 minutes a session): `timings` (about 3 minutes) trains each network 3 epochs with the data
# on the GPU and prints its epoch times; `sota` (SOTA_EPOCHS, default 30: about 6-8 minutes
# if ResNet-18 trains ~25k crops/s) runs experiment=fer_sota and reports validation (carved from
# Training) and PublicTest accuracy; `fer_cpu` runs the CPU recipe (experiment=fer_cpu, all its
# 60 epochs) on the GPU the same way. Never written by hand: every figure comes from the runs.
#
# Here, once (the device has no hydra-core, omegaconf or kornia, and ../shared does not travel;
# .whl/ and .devdata/ are git-ignored, so they travel only when carried):
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#     --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
#     --platform manylinux2014_x86_64 -d .whl hydra-core==1.3.8 omegaconf==2.3.1 \
#     kornia==0.9.0 kornia-rs==0.2.0 isal==1.9.1
#   .venv/bin/pip wheel --no-deps -w .whl antlr4-python3-runtime==4.9.3  # sdist only: built here
#   .venv/bin/python benchmarks/devdata.py pack ../shared/data/fer2013/fer2013_dev.csv.gz \
#     .devdata/fer.npz
# Then, with the device tool: run(command="bash benchmarks/gpu_check.sh timings",
#   carry=[".whl", ".devdata"], timeout_s=400), and the same with `sota` (timeout_s=600).
# Locally, as a dry run on the CPU: GPU_CHECK_DRY=1 bash benchmarks/gpu_check.sh timings
set -uo pipefail
mode=${1:?usage: gpu_check.sh timings|sota|fer_cpu}
out=${OUT:-/tmp/gpu_check_out}
runs=/tmp/gpu_check_runs
csv=/tmp/fer2013_dev.csv
mkdir -p "$out" "$runs"
export PYTHONUNBUFFERED=1 HYDRA_FULL_ERROR=1
python=python3
common=(data=fer2013_dev "data.path=$csv" trainer=gpu data.on_device=true logger=default
  "paths.log_dir=$runs")
if [[ -n ${GPU_CHECK_DRY:-} ]]; then  # the same commands on this CPU, on a sliver of the data
  python=${PYTHON:-.venv/bin/python}
  common=(data=fer2013_dev "data.path=$csv" trainer=cpu data.on_device=false logger=default
    "paths.log_dir=$runs" trainer.limit_train_batches=2
    trainer.limit_val_batches=1 trainer.limit_test_batches=1 data.batch_size=32
    data.eval_batch_size=32)
else
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || exit 1
  # The package laid out as its wheel lays it out: conf/ inside as fer_lightning.conf.
  rm -rf /tmp/pkg && mkdir -p /tmp/pkg && cp -r fer_lightning /tmp/pkg/ && cp -r conf /tmp/pkg/fer_lightning/conf
  export PYTHONPATH=/tmp/site:/tmp/pkg
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader \
    | tee -a "$out/summary.txt"
fi
[[ -f $csv ]] || $python benchmarks/devdata.py unpack .devdata/fer.npz "$csv" || exit 1

summarize() {  # per run: epochs, each epoch's training seconds, best val, test accuracy
  $python - "$runs" <<'EOF' | tee -a "$out/summary.txt"
import json, sys
from pathlib import Path
import pandas as pd
for run in sorted(Path(sys.argv[1]).glob("train/runs/*")):
    table = pd.read_csv(run / "metrics.csv")
    epochs = table["train/epoch_seconds"].dropna().tolist() if "train/epoch_seconds" in table else []
    final = json.loads((run / "final_metrics.json").read_text()) if (run / "final_metrics.json").exists() else {}
    print(f"{run.name}: train epochs (s) {', '.join(f'{t:.2f}' for t in epochs)}; "
          f"val/acc_best {final.get('val/acc_best', float('nan')):.4f}; "
          f"test/acc {final.get('test/acc', float('nan')):.4f}; run time {final.get('train_time_s', float('nan')):.0f} s")
EOF
}

case $mode in
  timings)
    for model in emo1 emo5 compact_vgg vgg_fer resnet18_fer; do
      $python -m fer_lightning "model=$model" "${common[@]}" trainer.max_epochs=3 test=false \
        callbacks=minimal "run_name=epochs_$model" > "$out/timings_$model.log" 2>&1 \
        || echo "$model failed: see timings_$model.log" | tee -a "$out/summary.txt"
    done
    summarize
    ;;
  sota)
    epochs=${SOTA_EPOCHS:-30}
    # Stopped before the tool's limit, the run still saves last.ckpt and its metrics.
    timeout --signal=TERM "${SOTA_LIMIT_S:-540}" $python -m fer_lightning experiment=fer_sota \
      "${common[@]}" "trainer.max_epochs=$epochs" callbacks.progress_bar=null \
      > "$out/fer_sota.log" 2>&1
    echo "fer_sota exit $?" | tee -a "$out/summary.txt"
    summarize
    run=$(ls -d "$runs"/train/runs/*fer_sota* | tail -n 1)
    cp "$run/metrics.csv" "$out/fer_sota_metrics.csv"
    cp "$run/curves.png" "$run/confusion_matrix_test.png" "$out/" 2>/dev/null
    ;;
  fer_cpu)
    timeout --signal=TERM "${FER_CPU_LIMIT_S:-540}" $python -m fer_lightning experiment=fer_cpu \
      "${common[@]}" callbacks.progress_bar=null > "$out/fer_cpu.log" 2>&1
    echo "fer_cpu exit $?" | tee -a "$out/summary.txt"
    summarize
    run=$(ls -d "$runs"/train/runs/*fer_cpu* | tail -n 1)
    cp "$run/metrics.csv" "$out/fer_cpu_metrics.csv"
    cp "$run/curves.png" "$run/confusion_matrix_test.png" "$out/" 2>/dev/null
    ;;
  *) echo "unknown mode $mode: use timings, sota or fer_cpu"; exit 2 ;;
esac
