#!/usr/bin/env bash
# A local PostgreSQL server with role+database "callbacks" (password "callbacks"), for CI
# and for anyone who wants to test against PostgreSQL instead of SQLite.
#   scripts/postgres.sh start   install if needed, start, create role/db; prints DATABASE_URL on stdout
#   scripts/postgres.sh url     prints DATABASE_URL (server must be running)
#   scripts/postgres.sh stop
# Usage:  export DATABASE_URL=$(scripts/postgres.sh start)
# All progress messages go to stderr so that stdout is only the URL.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DB=callbacks
USER_=callbacks
PASSWORD=callbacks

log() { echo "postgres: $*" >&2; }

# The newest PostgreSQL major version whose server binaries are installed.
pg_version() {
  # (client-only packages also make /usr/lib/postgresql/N/, so look for the server binary)
  for bin in /usr/lib/postgresql/*/bin/postgres; do
    [[ -x "$bin" ]] && basename "$(dirname "$(dirname "$bin")")"
  done | sort -n | tail -n 1
}

# "VERSION NAME PORT STATUS" of the first cluster of that version, if any.
pg_cluster() {
  pg_lsclusters -h 2>/dev/null | awk -v v="$1" '$1 == v { print $1, $2, $3, $4; exit }'
}

as_postgres() {
  # cd /: psql run as postgres would complain that it cannot read root's cwd.
  (cd / && runuser -u postgres -- "$@")
}

start() {
  "$ROOT/scripts/ensure-apt.sh" postgresql
  ver=$(pg_version)
  [[ -n "$ver" ]] || { log "no PostgreSQL server found under /usr/lib/postgresql"; exit 1; }

  read -r _ name port status <<<"$(pg_cluster "$ver")" || true
  if [[ -z "${name:-}" ]]; then
    # Debian's package normally creates a "main" cluster; some images skip that.
    log "creating cluster $ver/main"
    pg_createcluster "$ver" main >&2
    read -r _ name port status <<<"$(pg_cluster "$ver")"
  fi

  if [[ "$status" != online* ]]; then
    log "starting cluster $ver/$name (port $port)"
    pg_ctlcluster "$ver" "$name" start >&2
  else
    log "cluster $ver/$name already running (port $port)"
  fi

  for _ in $(seq 60); do
    pg_isready -q -h 127.0.0.1 -p "$port" && break
    sleep 0.5
  done
  pg_isready -h 127.0.0.1 -p "$port" >&2 || { log "server not ready on port $port"; exit 1; }

  # Role and database, idempotently. CREATEDB lets pytest-django create its test database.
  as_postgres psql -X -q -p "$port" -v ON_ERROR_STOP=1 -d postgres >&2 <<SQL
DO \$\$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$USER_') THEN
    CREATE ROLE $USER_ LOGIN CREATEDB PASSWORD '$PASSWORD';
  ELSE
    ALTER ROLE $USER_ LOGIN CREATEDB PASSWORD '$PASSWORD';
  END IF;
END
\$\$;
SQL
  if [[ -z "$(as_postgres psql -X -tA -p "$port" -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '$DB'")" ]]; then
    log "creating database $DB"
    as_postgres createdb -p "$port" -O "$USER_" "$DB"
  fi
  log "ready"
  echo "postgres://$USER_:$PASSWORD@127.0.0.1:$port/$DB"
}

url() {
  read -r _ _ port _ <<<"$(pg_cluster "$(pg_version)")"
  [[ -n "${port:-}" ]] || { log "no cluster found"; exit 1; }
  echo "postgres://$USER_:$PASSWORD@127.0.0.1:$port/$DB"
}

stop() {
  ver=$(pg_version)
  read -r _ name _ status <<<"$(pg_cluster "$ver")" || true
  if [[ "${status:-}" == online* ]]; then
    pg_ctlcluster "$ver" "$name" stop >&2 && log "stopped $ver/$name"
  else
    log "not running"
  fi
}

case "${1:-}" in
  start) start ;;
  url) url ;;
  stop) stop ;;
  *) echo "usage: $0 start|url|stop" >&2; exit 2 ;;
esac
