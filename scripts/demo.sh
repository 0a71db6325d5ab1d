#!/usr/bin/env bash
# Set up and start the Gradio demo on the bundled SynthCats weights: bash scripts/demo.sh [app flags]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh" requirements.txt
# The ONNX backend's graphs are built from the bundled weights on the first start (it says so; 1-2 minutes on
# 2 CPU cores) and reused by later starts until the weights change.
python export.py --model synthcats --out webclient/public/models
exec python spaces_demo/app.py "$@"
