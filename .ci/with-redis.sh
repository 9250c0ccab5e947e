#!/usr/bin/env bash
# CI: run a command with a real redis-server on 127.0.0.1 (issue 7).
#
#   bash .ci/with-redis.sh make test
#
# Installs Debian's redis-server if missing, starts it on a free loopback
# port under a temporary folder (no persistence), exports
# HERBARIUM_REDIS_URL=redis://127.0.0.1:PORT/0 for the command, and stops the
# server by PID when the command ends. Tests that need Redis read that
# variable and skip without it. Where redis-server cannot be installed, the
# command runs without it and says so.
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: $0 COMMAND [ARGS...]" >&2; exit 2; }

if ! command -v redis-server >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "with-redis: installing redis-server from Debian's packages"
    export DEBIAN_FRONTEND=noninteractive
    apt=(apt-get -o DPkg::Lock::Timeout=120 -y -qq --no-install-recommends)
    "${apt[@]}" install redis-server >/tmp/with-redis-apt.log 2>&1 || {
      apt-get -o DPkg::Lock::Timeout=120 -qq update >>/tmp/with-redis-apt.log 2>&1 &&
        "${apt[@]}" install redis-server >>/tmp/with-redis-apt.log 2>&1
    } || true
  fi
fi
if ! command -v redis-server >/dev/null; then
  echo "with-redis: SKIPPED: redis-server is not installed and cannot be" \
    "(needs root and apt-get); running without HERBARIUM_REDIS_URL"
  exec "$@"
fi

TMP=$(mktemp -d /tmp/herbarium-redis.XXXXXX)
stop_redis() {
  local status=$?
  if [ -s "$TMP/redis.pid" ]; then
    local pid
    pid=$(cat "$TMP/redis.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -rf "$TMP"
  exit "$status"
}
trap stop_redis EXIT
trap 'exit 143' TERM INT

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
redis-server --bind 127.0.0.1 --port "$PORT" --daemonize yes \
  --pidfile "$TMP/redis.pid" --dir "$TMP" --logfile "$TMP/redis.log" \
  --save "" --appendonly no --protected-mode yes
for _ in $(seq 50); do
  [ "$(redis-cli -h 127.0.0.1 -p "$PORT" ping 2>/dev/null)" = PONG ] && break
  sleep 0.1
done
[ "$(redis-cli -h 127.0.0.1 -p "$PORT" ping 2>/dev/null)" = PONG ] ||
  { echo "with-redis: redis-server did not answer on 127.0.0.1:$PORT" >&2; exit 1; }
export HERBARIUM_REDIS_URL="redis://127.0.0.1:$PORT/0"
echo "with-redis: redis-server $(redis-server --version | grep -o 'v=[0-9.]*')" \
  "on $HERBARIUM_REDIS_URL (pid $(cat "$TMP/redis.pid"))"
"$@"
