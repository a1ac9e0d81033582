#!/bin/bash
# Stops the single-node Ceph cluster that start.sh runs in $ROMI_CEPH_DIR and
# waits until its daemons have exited (a new cluster started while an old OSD is
# still shutting down fails with "wrong fsid").
# The daemons get SIGKILL: nothing of the cluster is worth keeping (memstore,
# wiped by the next start), and on SIGTERM they take 1.5-2 s each to shut down,
# radosgw longer when the OSD goes first. ROMI_CEPH_STOP_TIMEOUT (s, default 30)
# bounds the wait for their exit.
set -euo pipefail

CEPH_DIR=${ROMI_CEPH_DIR:-/tmp/romi-ceph}
EXIT_TIMEOUT_S=${ROMI_CEPH_STOP_TIMEOUT:-30}
CEPH_DAEMONS='^(ceph-mon|ceph-osd|ceph-mgr|radosgw)$'

# Pids from this cluster's pid files whose process is still a Ceph daemon
# (a stale pid file may name a pid that now belongs to something else), and
# Ceph daemons started with this cluster's config file (one killed or failed
# mid-start may have left no pid file, or start.sh may have wiped it).
cluster_pids() {
  local pidfile pid proc comm
  for pidfile in "$CEPH_DIR"/run/*.pid; do
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile" 2>/dev/null) || continue
    [[ "$pid" =~ ^[0-9]+$ ]] || continue
    if read -r comm 2>/dev/null <"/proc/$pid/comm" && [[ "$comm" =~ $CEPH_DAEMONS ]]; then
      echo "$pid"
    fi
  done
  for proc in /proc/[0-9]*; do
    read -r comm 2>/dev/null <"$proc/comm" && [[ "$comm" =~ $CEPH_DAEMONS ]] || continue
    if tr '\0' '\n' <"$proc/cmdline" 2>/dev/null | grep -Fxq "$CEPH_DIR/ceph.conf"; then
      echo "${proc#/proc/}"
    fi
  done
}

mapfile -t pids < <(cluster_pids | sort -un)
if [ ${#pids[@]} -eq 0 ]; then
  echo "ceph: no cluster running in $CEPH_DIR" >&2
  exit 0
fi

echo "ceph: stopping pids ${pids[*]}" >&2
kill -KILL "${pids[@]}" 2>/dev/null || true
for _ in $(seq 1 $((EXIT_TIMEOUT_S * 10))); do
  alive=()
  for pid in "${pids[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then alive+=("$pid"); fi
  done
  [ ${#alive[@]} -eq 0 ] && break
  sleep 0.1
done
if [ ${#alive[@]} -gt 0 ]; then
  echo "ceph: still alive ${EXIT_TIMEOUT_S}s after SIGKILL: ${alive[*]}" >&2
  exit 1
fi
rm -f "$CEPH_DIR"/run/*.pid
echo "ceph: stopped" >&2
