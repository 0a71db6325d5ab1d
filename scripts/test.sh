#!/usr/bin/env bash
# Set up and run every test, Python and web: bash scripts/test.sh
# Needs Python 3.11+, Node 20+ and Chromium at /usr/bin/chromium (or CHROMIUM_PATH); run as root on
# Debian/Ubuntu, it installs apt's chromium when there is none.
set -euo pipefail
chromium_bin="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [ ! -x "$chromium_bin" ]; then
  if [ -z "${CHROMIUM_PATH:-}" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "==> no Chromium at $chromium_bin: installing Debian's chromium for the browser tests"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "no Chromium at $chromium_bin for the browser tests. Install it first:" >&2
    echo "  sudo apt-get install -y chromium    (Debian/Ubuntu; or set CHROMIUM_PATH to a Chromium or Chrome binary)" >&2
    exit 1
  fi
fi
source "$(dirname "${BASH_SOURCE[0]}")/env.sh" requirements-dev.txt

echo "==> Python lint (ruff)"
ruff check .

echo "==> GitHub workflow lint (actionlint, zizmor; offline)"
actionlint
zizmor --offline --persona=pedantic --quiet .github/workflows

echo "==> web client dependencies"
(cd webclient && npm ci --no-audit --no-fund --loglevel=error)

echo "==> ONNX graphs of the bundled weights (python export.py: built on a first run, rebuilt when the weights change)"
# Nothing derived from the weights is committed: the graphs, manifest and golden fixtures that the Python and
# web tests load are built here, and reused while the stamp in their manifest matches.
python export.py --model synthcats --out webclient/public/models

echo "==> Python tests"
# pytest exits 5 when it collected no test: set -e turns that into a failure, as it should be.
python -m pytest -n 2 --dist loadfile -q

echo "==> web tests (unit + end-to-end in Chromium)"
(cd webclient && npm test)
echo "==> all tests passed"
