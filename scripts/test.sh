#!/usr/bin/env bash
# Set up and run every test, Python and web: bash scripts/test.sh
# Needs Python 3.11+, Node 20+ and Chromium at /usr/bin/chromium (or CHROMIUM_PATH).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh" requirements-dev.txt

echo "==> GitHub workflow lint (actionlint, zizmor; offline)"
actionlint
zizmor --offline --persona=pedantic --quiet .github/workflows

echo "==> web client dependencies"
(cd webclient && npm ci --no-audit --no-fund --loglevel=error)

echo "==> Python tests"
# pytest exits 5 when it collected no test: set -e turns that into a failure, as it should be.
python -m pytest -n 2 --dist loadfile -q

echo "==> web tests (unit + end-to-end in Chromium)"
(cd webclient && npm test)
echo "==> all tests passed"
