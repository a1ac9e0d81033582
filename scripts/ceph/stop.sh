#!/bin/bash
# Stops the single-node Ceph cluster that start.sh runs in $ROMI_CEPH_DIR and
# waits until its daemons have exited (a new cluster started while an old OSD is
# still shutting down fails with "wrong fsid").
set -euo pipefail

CEPH_DIR=${ROMI_CEPH_DIR:-/tmp/romi-ceph}
EXIT_TIMEOUT_S=${ROMI_CEPH_STOP_TIMEOUT:-30}
CEPH_DAEMONS='^(ceph-mon|ceph-osd|ceph-mgr|radosgw)$'

# Pids from this cluster's pid files whose process is still a Ceph daemon
# (a stale pid file may name a pid that now belongs to something else).
cluster_pids() {
  local pidfile pid
  for pidfile in "$CEPH_DIR"/run/*.pid; do
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile" 2>/dev/null) || continue
    [[ "$pid" =~ ^[0-9]+$ ]] || continue
    if [ -r "/proc/$pid/comm" ] && grep -Eq "$CEPH_DAEMONS" "/proc/$pid/comm"; then
      echo "$pid"
    fi
  done
}

pids=$(cluster_pids)
if [ -z "$pids" ]; then
  echo "ceph: no cluster running in $CEPH_DIR" >&2
  exit 0
fi

echo "ceph: stopping pids" $pids >&2
# shellcheck disable=SC2086
kill -TERM $pids 2>/dev/null || true
for _ in $(seq 1 $((EXIT_TIMEOUT_S * 10))); do
  alive=""
  for pid in $pids; do
    if kill -0 "$pid" 2>/dev/null; then alive="$alive $pid"; fi
  done
  [ -z "$alive" ] && break
  sleep 0.1
done
if [ -n "$alive" ]; then
  echo "ceph: still alive after ${EXIT_TIMEOUT_S}s, killing:$alive" >&2
  # shellcheck disable=SC2086
  kill -KILL $alive 2>/dev/null || true
  sleep 0.5
fi
rm -f "$CEPH_DIR"/run/*.pid
echo "ceph: stopped" >&2
