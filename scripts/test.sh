#!/usr/bin/env bash
# Run the test suite (what `make test` and CI run), exiting with pytest's own exit code.
#   PYTEST_ARGS="-k monitor -x" scripts/test.sh
# Installs what the tests need if missing, and starts the private Redis unless the
# caller already points REDIS_URL somewhere (as a CI with its own Redis could).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

scripts/venv.sh
# Browser tests drive Debian's Chromium through Playwright (never `playwright install`).
[[ -x /usr/bin/chromium ]] || scripts/ensure-apt.sh chromium fonts-liberation
if [[ -z "${REDIS_URL:-}" ]]; then
  scripts/redis.sh start
else
  echo "redis: using REDIS_URL from the environment"
fi

echo "==> pytest ${PYTEST_ARGS:-}"
set +e
set -f  # split PYTEST_ARGS on spaces, but do not expand globs in it
# shellcheck disable=SC2086
.venv/bin/pytest ${PYTEST_ARGS:-}
rc=$?
set -e
if [[ $rc -eq 5 ]]; then
  echo "ERROR: pytest collected no tests (exit 5). That is a failure, not a pass." >&2
fi
exit $rc
