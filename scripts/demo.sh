#!/usr/bin/env bash
# Set up and start the Gradio demo on the bundled SynthCats weights: bash scripts/demo.sh [app flags]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh" requirements.txt
exec python spaces_demo/app.py "$@"
