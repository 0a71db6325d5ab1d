#!/usr/bin/env bash
# Reproduce the bundled SynthCats demo weights on a CPU (fixed seeds, wall-clock budgets).
#
#   bash scripts/train_bundled.sh            # all stages: generator, classifier, bundle (+ export + evaluate)
#   bash scripts/train_bundled.sh generator  # one stage: generator | classifier | bundle
#
# Budgets: GEN_MINUTES (45) + GEN_EXTRA_MINUTES (13) and CLS_MINUTES (25). The first --steps of each
# model is its LR horizon. Runs go to
# runs/synthcats-*; `bundle` writes cats/weights/synthcats/ (fp16 weights), the ONNX export in
# webclient/public/models/ and the evaluation next to the weights.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_WAIT_POLICY=PASSIVE
GEN=runs/synthcats-generator
CLS=runs/synthcats-classifier
stages=("$@")
[ ${#stages[@]} -eq 0 ] && stages=(generator classifier bundle)

for stage in "${stages[@]}"; do
  case "$stage" in
    generator)
      gen_args=(--data synthcats --preset tiny --out "$GEN" --seed 0 --batch-size 32 --lr 6e-4 --warmup 200
                --ema-decay 0.998 --checkpoint-every 250 --eval-every 500 --sample-every 500 --threads 2 --resume)
      # 1) warm-up + cosine decay over 3,500 steps (45 min here reached about 3,400 of them);
      # 2) then more steps at the LR floor (the horizon stays 3,500, as saved in the checkpoints).
      python -m cats.train generator "${gen_args[@]}" --steps 3500 --minutes "${GEN_MINUTES:-45}"
      python -m cats.train generator "${gen_args[@]}" --steps 6000 --minutes "${GEN_EXTRA_MINUTES:-13}" ;;
    classifier)
      python -m cats.train classifier --data synthcats --preset tiny --out "$CLS" --seed 0 \
        --steps 1000 --minutes "${CLS_MINUTES:-25}" --batch-size 64 --lr 1e-3 \
        --checkpoint-every 250 --eval-every 250 --threads "${CLS_THREADS:-2}" --resume ;;
    bundle)
      python scripts/bundle_weights.py --generator "$GEN/pipeline" --classifier "$CLS/classifier" --name synthcats
      python export.py --model synthcats --out webclient/public/models
      python -m cats.evaluate generator --model synthcats --data synthcats --out cats/weights/synthcats/metrics_generator.json
      python -m cats.evaluate classifier --model synthcats --data synthcats --split test --out cats/weights/synthcats/metrics_classifier.json ;;
    *) echo "unknown stage '$stage': use generator, classifier or bundle" >&2; exit 2 ;;
  esac
done
