#!/usr/bin/env bash
# Make .venv/ (Python 3.11) and install requirements.txt into it, but only when
# requirements.txt changed since the last successful install (its sha256 is kept in
# .venv/.requirements.sha256), so repeated `make run` / `make test` start quickly.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV=$ROOT/.venv
REQ=$ROOT/requirements.txt
STAMP=$VENV/.requirements.sha256

find_python() {
  for py in "${PYTHON:-}" python3.11 python3; do
    [[ -n "$py" ]] || continue
    if command -v "$py" >/dev/null && "$py" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
      echo "$py"; return 0
    fi
  done
  return 1
}

# A venv whose interpreter no longer runs (moved or removed Python) is rebuilt.
if [[ -d "$VENV" ]] && ! "$VENV/bin/python" -c '' 2>/dev/null; then
  echo "==> .venv is broken; recreating it" >&2
  rm -rf "$VENV"
fi

if [[ ! -x "$VENV/bin/python" ]]; then
  if ! PY=$(find_python); then
    # Debian 12's own python3 is 3.11; venv needs its separate package there.
    "$ROOT/scripts/ensure-apt.sh" python3 python3-venv
    PY=$(find_python) || { echo "venv: Python 3.11 not found" >&2; exit 1; }
  fi
  echo "==> creating .venv with $("$PY" --version)" >&2
  "$PY" -m venv "$VENV"
fi

want=$(sha256sum "$REQ" | cut -d' ' -f1)
have=$(cat "$STAMP" 2>/dev/null || true)
if [[ "$want" != "$have" ]]; then
  echo "==> pip install -r requirements.txt" >&2
  "$VENV/bin/pip" install --disable-pip-version-check -q -r "$REQ"
  echo "$want" >"$STAMP"
fi
