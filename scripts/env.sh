# Sourced by scripts/demo.sh and scripts/test.sh: a virtual environment with the pinned requirements.
#
# .venv is created with --system-site-packages so that packages already installed on the machine at
# the pinned versions (torch is several GB) are reused; anything missing or at another version is
# installed into .venv. Set PYTHON to choose the interpreter (default: python3.11, else python3).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-$(command -v python3.11 || command -v python3)}"
"$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
  || { echo "tiny-cats needs Python 3.11 or newer; $PY is $("$PY" --version 2>&1)" >&2; exit 1; }
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv with $PY"
  "$PY" -m venv --system-site-packages .venv
fi
# shellcheck disable=SC1091
source .venv/bin/activate
req="${1:-requirements.txt}"
stamp=".venv/.installed-$(basename "$req")"
if [ ! -f "$stamp" ] || [ "$req" -nt "$stamp" ] || [ requirements.txt -nt "$stamp" ]; then
  echo "==> installing $req"
  python -m pip install -q --disable-pip-version-check -r "$req"
  touch "$stamp"
fi
