#!/usr/bin/env bash
# The project's PRIVATE Redis (Celery broker + Channels layer) for local runs and tests.
#   scripts/redis.sh start|stop|status
# It listens on 127.0.0.1:6390 (not Debian's 6379, so a system Redis never matters),
# keeps its pid/log/data under .run/ and persists nothing (--save "" --appendonly no):
# everything in it can be rebuilt from the database.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PORT=${REDIS_PORT:-6390}
RUN=$ROOT/.run
PIDFILE=$RUN/redis.pid

ping() { [[ "$(redis-cli -h 127.0.0.1 -p "$PORT" ping 2>/dev/null)" == "PONG" ]]; }

start() {
  "$ROOT/scripts/ensure-apt.sh" redis-server
  if ping; then
    echo "redis: already running on 127.0.0.1:$PORT"
    return 0
  fi
  mkdir -p "$RUN/redis"
  redis-server --port "$PORT" --bind 127.0.0.1 \
    --daemonize yes --pidfile "$PIDFILE" \
    --dir "$RUN/redis" --logfile "$RUN/redis.log" \
    --save "" --appendonly no
  # daemonize returns before the server accepts connections: wait for it.
  for _ in $(seq 50); do
    if ping; then echo "redis: started on 127.0.0.1:$PORT (log: .run/redis.log)"; return 0; fi
    sleep 0.1
  done
  echo "redis: did not answer on port $PORT; see $RUN/redis.log" >&2
  tail -n 20 "$RUN/redis.log" >&2 || true
  exit 1
}

stop() {
  # Only stop the server this checkout started (its pid file), never someone else's.
  if [[ -f "$PIDFILE" ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
    pid=$(cat "$PIDFILE")
    kill "$pid"
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    echo "redis: stopped"
  elif ping; then
    echo "redis: something else answers on port $PORT (not started from this checkout); left alone"
  else
    echo "redis: not running"
  fi
  rm -f "$PIDFILE"
}

status() {
  if command -v redis-cli >/dev/null && ping; then
    echo "redis: running on 127.0.0.1:$PORT"
  else
    echo "redis: not running"; return 1
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
