#!/usr/bin/env bash
# The GPU figures of issues 4, 8 and 12, prepared for the device tool (one H200, 10 minutes a
# call, 15 minutes a session, of which a machine's start takes one or two): one call of
# `all` does what a session can afford. Never written by hand: every figure comes from the runs.
#
#   all      benchmarks/ema_update.py and 100 profiled steps of fer_cpu; experiment=fer_sota (SOTA_EPOCHS, default 30;
#            SOTA_ARGS, its variants) and experiment=fer_cpu (its 60 epochs) side by side on
#            the one GPU, each stopped by trainer.max_time (MAX_TIME, default 00:00:07:00) so
#            that the test still runs on the best checkpoint; then, in what is left of
#            ALL_LIMIT_S (default 530 s), 2-epoch timings of each network alone.
#   timings  3 epochs of each network alone, data on the GPU; prints its epoch times.
#   strong   issue 12's pace check of the strong recipes on the GPU: experiment=fer_sota
#            (SOTA_EPOCHS, SOTA_ARGS) beside model=vgg_fer (aug=standard, SGD at lr 0.01 as
#            Khaireddin & Chen trained it, validated every 25 steps as on the CPU, PACE_STEPS
#            steps: default 1000, past EmoCNN's 750), each stopped by trainer.max_time
#            (MAX_TIME) at the latest.
#   sota     experiment=fer_sota alone; fer_cpu: experiment=fer_cpu alone.
#
# $OUT receives summary.txt, logs.tgz (each command's log, nvidia-smi dmon) and runs.tgz.part-*
# (the run folders without checkpoints, split to the tool's 16 MiB a file):
#   cat runs.tgz.part-* | tar xz -C outputs/train/runs
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
# Then, with the device tool: run(command="bash benchmarks/gpu_check.sh all",
#   carry=[".whl", ".devdata"], timeout_s=590).
# Locally, as a dry run on the CPU: GPU_CHECK_DRY=1 bash benchmarks/gpu_check.sh all
set -uo pipefail
mode=${1:?usage: gpu_check.sh all|timings|strong|sota|fer_cpu}
out=${OUT:-/tmp/gpu_check_out}
logs=/tmp/gpu_check_logs
runs=/tmp/gpu_check_runs
csv=/tmp/fer2013_dev.csv
mkdir -p "$out" "$logs" "$runs"
export PYTHONUNBUFFERED=1 HYDRA_FULL_ERROR=1
python=python3
workdir=$PWD
max_time=${MAX_TIME:-00:00:07:00}
pace_every=25  # validation every this many steps in the pace check (strong)
common=(data=fer2013_dev "data.path=$csv" trainer=gpu data.on_device=true logger=default
  "paths.log_dir=$runs")
if [[ -n ${GPU_CHECK_DRY:-} ]]; then  # the same commands on this CPU, on a sliver of the data
  python=${PYTHON:-.venv/bin/python}
  common=(data=fer2013_dev "data.path=$csv" trainer=cpu data.on_device=false logger=default
    "paths.log_dir=$runs" trainer.limit_train_batches=2
    trainer.limit_val_batches=1 trainer.limit_test_batches=1 data.batch_size=32
    data.eval_batch_size=32)
  max_time=${MAX_TIME:-00:00:01:00}
  pace_every=1
else
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || exit 1
  # The package laid out as its wheel lays it out: conf/ inside as fer_lightning.conf.
  rm -rf /tmp/pkg && mkdir -p /tmp/pkg && cp -r fer_lightning /tmp/pkg/ && cp -r conf /tmp/pkg/fer_lightning/conf
  export PYTHONPATH=/tmp/site:/tmp/pkg
  workdir=/tmp/pkg  # not the checkout, whose fer_lightning/ (no conf/ inside) would come first
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader \
    | tee -a "$out/summary.txt"
  $python -c "import torch, lightning; print('torch', torch.__version__, 'lightning', lightning.__version__)" \
    | tee -a "$out/summary.txt"
fi
[[ -f $csv ]] || $python benchmarks/devdata.py unpack .devdata/fer.npz "$csv" || exit 1

train() {  # train NAME [overrides...]: one run, its log in $logs/NAME.log, its exit in summary
  local name=$1  # a caller's `local limit=S` stops the run after S seconds (SIGTERM)
  shift
  (cd "$workdir" && ${limit:+timeout --signal=TERM "$limit"} $python -m fer_lightning \
    "${common[@]}" "$@" > "$logs/$name.log" 2>&1)
  echo "$name exit $?" | tee -a "$out/summary.txt"
}

# SOTA_ARGS: more overrides for fer_sota, space-separated; variants run side by side are
# separated by ';' (e.g. "scheduler=onecycle;model.zero_init_residual=true": two runs).
sota() {
  local variants extra i=0 pids=()
  IFS=';' read -ra variants <<< "${SOTA_ARGS:- }"
  for variant in "${variants[@]}"; do
    read -ra extra <<< "$variant"
    train "fer_sota_$i" experiment=fer_sota "trainer.max_epochs=${SOTA_EPOCHS:-30}" \
      callbacks.progress_bar=null "${extra[@]}" "$@" &
    pids+=($!)
    i=$((i + 1))
  done
  wait "${pids[@]}"
}
fer_cpu() { train fer_cpu experiment=fer_cpu callbacks.progress_bar=null "$@"; }

timings() {  # timings EPOCHS [DEADLINE]: each network alone, while time is left before DEADLINE
  local epochs=$1 deadline=${2:-}
  for model in emo1 emo5 compact_vgg vgg_fer resnet18_fer; do
    if [[ -n $deadline ]] && ((deadline - SECONDS < 45)); then
      echo "timings: no time left for $model" | tee -a "$out/summary.txt"
      break
    fi
    local limit=$((${deadline:-SECONDS + 600} - SECONDS))
    train "timings_$model" "model=$model" "trainer.max_epochs=$epochs" test=false \
      callbacks=minimal "run_name=epochs_$model"
  done
}

summarize() {  # per run: epochs, each epoch's training seconds, best val, test accuracy
  $python - "$runs" <<'EOF' | tee -a "$out/summary.txt"
import json, sys
from pathlib import Path
import pandas as pd
from fer_lightning.runs.results import metrics_csv
for run in sorted(Path(sys.argv[1]).glob("train/runs/*")):
    path = metrics_csv(run)
    table = pd.read_csv(path) if path else pd.DataFrame()
    col = "train/epoch_seconds"
    epochs = table[col].dropna().tolist() if col in table else []
    final = json.loads((run / "final_metrics.json").read_text()) if (run / "final_metrics.json").exists() else {}
    print(f"{run.name}: {len(epochs)} epochs, train epoch (s) {', '.join(f'{t:.2f}' for t in epochs)}; "
          f"val/acc_best {final.get('val/acc_best', float('nan')):.4f}; "
          f"test/acc {final.get('test/acc', float('nan')):.4f}; "
          f"fit time {final.get('train_time_s', float('nan')):.0f} s")
EOF
}

pack() {  # logs and run folders (no checkpoints) into $out, in pieces the tool carries back
  tar czf "$out/logs.tgz" -C "$logs" .
  tar cz --exclude='*.ckpt' -C "$runs/train/runs" . | split -b 15m - "$out/runs.tgz.part-"
  ls -l "$out" | tee -a "$out/summary.txt"
}

case $mode in
  all)
    deadline=$((SECONDS + ${ALL_LIMIT_S:-530}))
    # A few seconds: the weight average's update per step, per tensor against foreach.
    $python benchmarks/ema_update.py --device "$([[ -n ${GPU_CHECK_DRY:-} ]] && echo cpu || echo cuda)" \
      --rounds 3 2>&1 | tee -a "$out/summary.txt"
    # About 20 s: where fer_cpu's step spends its time on the GPU, Lightning's hook by hook.
    train fer_cpu_profile experiment=fer_cpu callbacks.progress_bar=null trainer.max_epochs=1 \
      trainer.limit_train_batches=100 trainer.limit_val_batches=0 test=false \
      +trainer.profiler=simple "run_name=profile_fer_cpu"
    grep -E "^\|  (run_training_batch|\[Strategy\]\S*\.(training_step|backward)|\S*(\.optimizer_step|on_after_batch_transfer|EMA\.on_train_batch_end)) " \
      "$logs/fer_cpu_profile.log" | cut -c1-60,160- | tee -a "$out/summary.txt"
    mv "$runs"/train/runs/*profile_fer_cpu* "$logs/"  # not a training result: kept out of runs
    if command -v nvidia-smi > /dev/null; then
      nvidia-smi dmon -s um -d 5 > "$logs/dmon.txt" 2>&1 &
      dmon=$!
    fi
    # Side by side: the small network leaves most of the GPU idle (dmon.txt shows how much).
    sota "trainer.max_time=$max_time" &
    first=$!
    fer_cpu "trainer.max_time=$max_time" &
    wait "$first" $!
    [[ -n ${dmon:-} ]] && kill "$dmon"
    timings 2 "$deadline"
    ;;
  timings) timings 3 ;;
  strong)
    sota "trainer.max_time=$max_time" &
    first=$!
    # The paper's optimizer: under the default Adam (lr 1e-3) vgg_fer sat at the class prior.
    train vgg_fer_pace model=vgg_fer aug=standard optimizer=sgd optimizer.lr=0.01 \
      optimizer.weight_decay=1e-4 "trainer.val_check_interval=$pace_every" \
      "trainer.max_steps=${PACE_STEPS:-1000}" callbacks.progress_bar=null \
      "trainer.max_time=$max_time" run_name=pace_vgg_fer &
    wait "$first" $!
    ;;
  sota) sota ;;
  fer_cpu) fer_cpu ;;
  *) echo "unknown mode $mode: use all, timings, strong, sota or fer_cpu"; exit 2 ;;
esac
summarize
pack
