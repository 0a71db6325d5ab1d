#!/usr/bin/env bash
# Reproduce the bundled SynthCats demo weights on a CPU (fixed seeds, wall-clock budgets).
#
#   bash scripts/train_bundled.sh            # all stages: generator, guide, classifier, bundle (+ export + evaluate)
#   bash scripts/train_bundled.sh generator  # one stage: generator | guide | classifier | bundle
#
# Budgets: GEN_MINUTES (66), GUIDE_MINUTES (12: the autoguidance guide, docs/guidance.md) and CLS_MINUTES (25); GEN_STEPS is the generator's LR horizon. Runs go to
# runs/synthcats-*; `bundle` writes cats/weights/synthcats/ (fp16 weights), rebuilds the ONNX export in
# webclient/public/models/ (a build output, ignored by git) and writes the evaluation next to the weights.
# A release commits cats/weights/synthcats/ only: git add cats/weights/synthcats && git commit
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_WAIT_POLICY=PASSIVE
GEN=runs/synthcats-generator
CLS=runs/synthcats-classifier
GUIDE=runs/guide-u
stages=("$@")
[ ${#stages[@]} -eq 0 ] && stages=(generator guide classifier bundle)

for stage in "${stages[@]}"; do
  case "$stage" in
    generator)
      # The recipe chosen by the equal-budget ablation (docs/generator_recipe.md). --steps is the LR
      # horizon (warm-up, then cosine to 10%): 7,176 is what the bundled run's speed probe estimated
      # for 66 minutes; --minutes stopped it at step 6,854 on the 2-core CPU.
      python -m cats.training generator --data synthcats --preset "${GEN_PRESET:-tiny}" --out "$GEN" --seed 0 \
        --batch-size 64 --lr "${GEN_LR:-1.2e-3}" --warmup 200 --ema-decay 0.999 --steps "${GEN_STEPS:-7176}" \
        --minutes "${GEN_MINUTES:-66}" --checkpoint-every 1000 --keep 12 --eval-every 1000 --sample-every 1000 \
        --threads 2 --compile --resume ;;
    guide)
      # The guide of autoguidance: a smaller network (guide-u) trained briefly on the same drawings.
      python -m cats.training generator --data synthcats --preset guide-u --out "$GUIDE" --seed 0 --batch-size 64 \
        --lr 1.2e-3 --warmup 200 --ema-decay 0.999 --minutes "${GUIDE_MINUTES:-12}" --checkpoint-every 1000 --keep 2 \
        --eval-every 1000 --threads 2 --resume ;;
    classifier)
      python -m cats.training classifier --data synthcats --preset tiny --out "$CLS" --seed 0 \
        --steps 1000 --minutes "${CLS_MINUTES:-25}" --batch-size 64 --lr 1e-3 \
        --checkpoint-every 250 --eval-every 250 --threads "${CLS_THREADS:-2}" --resume ;;
    bundle)
      if [ -d "$CLS/classifier" ]; then
        python scripts/bundle_weights.py --generator "$GEN/pipeline" --classifier "$CLS/classifier" --name synthcats
      else  # no classifier run here: replace the generator, keep the bundled classifier
        python scripts/bundle_weights.py --generator "$GEN/pipeline" --name synthcats
      fi
      if [ -d "$GUIDE/pipeline" ]; then  # the guided defaults measured in docs/guidance.md
        python scripts/bundle_weights.py --guide "$GUIDE/pipeline/transformer" --autoguidance "${AUTOGUIDANCE:-2}" \
          --guidance "${GUIDANCE:-2}" --interval "${GUIDANCE_INTERVAL:-0.2-0.75}" --name synthcats
      fi
      python export.py --model synthcats --out webclient/public/models
      python -m cats.evaluation generator --model synthcats --data synthcats --out cats/weights/synthcats/metrics_generator.json
      python -m cats.evaluation classifier --model synthcats --data synthcats --split test --out cats/weights/synthcats/metrics_classifier.json ;;
    *) echo "unknown stage '$stage': use generator, guide, classifier or bundle" >&2; exit 2 ;;
  esac
done
