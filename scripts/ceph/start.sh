#!/bin/bash
# Starts a throwaway single-node Ceph cluster for tests: one monitor, one
# memstore OSD (RAM-backed, nothing persists), radosgw on 127.0.0.1, no
# systemd, auth none, one S3 user with fixed test keys.
#
#   eval "$(scripts/ceph/start.sh)"     # sets ROMI_TEST_RGW_* for the tests
#   scripts/ceph/stop.sh
#
# stdout carries only the export line; progress and errors go to stderr.
# Every stage is checked (mon in quorum and ours, OSD up and in, radosgw ours and
# answering, an S3 round trip with the test keys). When a stage fails, the reason
# and the tail of the relevant log go to stderr, the cluster is stopped and wiped,
# and the start is retried from scratch; the logs of a failed attempt are kept
# in $ROMI_CEPH_DIR/log.failed-<n>.
# Env: ROMI_CEPH_DIR (default /tmp/romi-ceph), ROMI_RGW_PORT (default 7480,
# the next free port is used when taken), ROMI_CEPH_MON_PORT (default 6789, same),
# ROMI_CEPH_START_TIMEOUT (s per attempt, default 120),
# ROMI_CEPH_START_ATTEMPTS (default 3).
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CEPH_DIR=${ROMI_CEPH_DIR:-/tmp/romi-ceph}
ATTEMPT_TIMEOUT_S=${ROMI_CEPH_START_TIMEOUT:-120}
ATTEMPTS=${ROMI_CEPH_START_ATTEMPTS:-3}
ACCESS_KEY=${ROMI_TEST_RGW_ACCESS_KEY:-ROMITESTACCESSKEY0001}
SECRET_KEY=${ROMI_TEST_RGW_SECRET_KEY:-romi-test-secret-key-not-a-secret-0001}
STARTED_AT=$(date +%s)
CONF="$CEPH_DIR/ceph.conf"
C=(-c "$CONF")

log() { echo "ceph: $*" >&2; }

for bin in ceph-mon ceph-osd radosgw radosgw-admin ceph ceph-authtool monmaptool curl; do
  command -v "$bin" >/dev/null || { log "$bin not found; run scripts/ceph/install.sh"; exit 1; }
done

stop_cluster() { ROMI_CEPH_DIR="$CEPH_DIR" "$SCRIPT_DIR/stop.sh" >/dev/null 2>&1 || true; }

# ---------------------------------------------------------------------------
# One attempt, run in a subshell: any failure ends it with exit 1 after logging
# the reason. On success it writes the export line to $CEPH_DIR/export.

new_uuid() { cat /proc/sys/kernel/random/uuid; }

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

free_port_from() {
  local port=$1
  while port_in_use "$port"; do port=$((port + 1)); done
  echo "$port"
}

# The ceph CLI, bounded: --connect-timeout only bounds the connection, and a
# command whose monitor dies under it waits for ever.
ceph_q() { timeout -k 5 20 ceph "${C[@]}" --connect-timeout 10 "$@"; }

daemon_pid() {
  local pid
  pid=$(cat "$CEPH_DIR/run/$1.pid" 2>/dev/null) || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

# True when process $1 holds the listening TCP socket on 127.0.0.1:$2, i.e. the
# port answers for this cluster and not for some other process that took it.
listens_on() {
  local hexport inode
  hexport=$(printf '%04X' "$2")
  inode=$(awk -v a="0100007F:$hexport" '$2 == a && $4 == "0A" { print $10; exit }' /proc/net/tcp)
  [ -n "$inode" ] && ls -l "/proc/$1/fd" 2>/dev/null | grep -q "socket:\[$inode\]"
}

attempt() {
  local n=$1 deadline=$(($(date +%s) + ATTEMPT_TIMEOUT_S))

  # Ends the attempt: the reason, then the tail of the logs that explain it.
  die() {
    local reason=$1 f
    shift
    log "attempt $n/$ATTEMPTS failed: $reason"
    for f in "$@"; do
      [ -s "$f" ] || continue
      echo "----- tail of $f -----" >&2
      tail -n 30 "$f" >&2
    done
    exit 1
  }
  trap 'die "command failed (line $LINENO): $BASH_COMMAND" "$CEPH_DIR"/log/*' ERR

  # Daemons started so far (name and log); they must all stay alive. A daemon
  # may write its pid file just after the command that started it has returned.
  local -a daemons=() daemon_logs=()
  started() {
    local tries=0
    until daemon_pid "$1" >/dev/null; do
      tries=$((tries + 1))
      [ "$tries" -le 40 ] || die "$1 did not start (no live pid in $CEPH_DIR/run/$1.pid)" "$2" "${@:3}"
      sleep 0.25
    done
    daemons+=("$1")
    daemon_logs+=("$2")
  }
  check_daemons() {
    local i
    for i in "${!daemons[@]}"; do
      daemon_pid "${daemons[$i]}" >/dev/null ||
        die "${daemons[$i]} exited while waiting for $1" "${daemon_logs[@]:$i}"
    done
  }

  # Polls "$@" until it succeeds; gives up when a daemon has exited or the
  # attempt's (or STAGE_TIMEOUT_S's) time is up. $what and $logs describe the stage.
  wait_until() {
    local what=$1 logs=$2 deadline=$deadline
    shift 2
    [ -z "${STAGE_TIMEOUT_S:-}" ] || deadline=$(($(date +%s) + STAGE_TIMEOUT_S))
    while :; do
      check_daemons "$what"
      "$@" >/dev/null 2>&1 && check_daemons "$what" && return 0
      # shellcheck disable=SC2086
      [ "$(date +%s)" -lt "$deadline" ] || die "timed out waiting for $what" $logs
      sleep 0.25
    done
  }

  # The ceph CLI (librados) has the same window as the OSD (see below): it
  # fetches its config first and then talks with cluster fsid 0000… until the
  # monmap arrives, so a command can fail with "Error EPERM: problem getting
  # command descriptions from mon." (seen under load). The commands used here
  # are idempotent; a failed one is retried.
  ceph_cli() {
    local try
    for try in 1 2 3 4 5; do
      [ "$(date +%s)" -lt "$deadline" ] || return 1
      ceph_q "$@" && return 0
      echo "(try $try of ceph $* failed)" >&2
      sleep 0.5
    done
    return 1
  }

  # Runs a command with its output in $CEPH_DIR/log/$1.out; fails the attempt on
  # error, and kills the command when the attempt's time is up (exit 124).
  step() {
    local name=$1 out="$CEPH_DIR/log/$1.out" left
    shift
    left=$((deadline - $(date +%s)))
    [ "$left" -gt 0 ] || die "timed out before $name" "$CEPH_DIR/log/mon.a.log"
    if [ "$(type -t "$1")" = function ]; then
      "$@" >"$out" 2>&1 || die "$name: exit $? from $*" "$out"
    else
      timeout -k 5 "$left" "$@" >"$out" 2>&1 || die "$name: exit $? from $*" "$out"
    fi
  }

  mkdir -p "$CEPH_DIR"/{mon,osd0,run,log,rgw}
  local mon_port rgw_port fsid osd_uuid osd_id
  mon_port=$(free_port_from "${ROMI_CEPH_MON_PORT:-6789}")
  rgw_port=$(free_port_from "${ROMI_RGW_PORT:-7480}")
  [ "$rgw_port" != "$mon_port" ] || rgw_port=$(free_port_from $((mon_port + 1)))
  fsid=$(new_uuid)

  cat >"$CONF" <<CONF
[global]
fsid = $fsid
mon host = v1:127.0.0.1:$mon_port
public network = 127.0.0.0/8
auth cluster required = none
auth service required = none
auth client required = none
auth allow insecure global id reclaim = true
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
mon allow pool size one = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
osd crush chooseleaf type = 0
run dir = $CEPH_DIR/run
admin socket = $CEPH_DIR/run/\$name.asok
log file = $CEPH_DIR/log/\$name.log
pid file = $CEPH_DIR/run/\$name.pid
keyring = $CEPH_DIR/keyring
ms bind msgr2 = false
[mon]
mon data = $CEPH_DIR/mon
mon cluster log file = $CEPH_DIR/log/cluster.log
# commit map changes (pool and OSD creation) without the default 1 s batching
paxos propose interval = 0.05
[osd]
osd data = $CEPH_DIR/osd0
osd objectstore = memstore
memstore device bytes = 2147483648
# as in the tested recipe (toolchain.md Appendix C)
osd max object name len = 460
osd max object namespace len = 64
# start.sh places the OSD in the CRUSH map itself; the OSD must not send
# mon commands while it starts (see the comment on --no-mon-config below)
osd crush update on start = false
osd class update on start = false
[client.rgw.local]
rgw frontends = beast endpoint=127.0.0.1:$rgw_port tcp_nodelay=1
rgw data = $CEPH_DIR/rgw
log file = $CEPH_DIR/log/rgw.log
CONF

  log "attempt $n/$ATTEMPTS: mon on 127.0.0.1:$mon_port, rgw on 127.0.0.1:$rgw_port, dir $CEPH_DIR"

  # --- monitor: ours (our fsid, our process on the port) and in quorum
  # auth is off, but the tools still want a keyring to exist
  step keyring ceph-authtool --create-keyring "$CEPH_DIR/keyring" --gen-key -n mon. --cap mon 'allow *'
  step keyring ceph-authtool "$CEPH_DIR/keyring" --gen-key -n client.admin \
    --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' --cap mds 'allow *'
  step monmap monmaptool --create --addv a "[v1:127.0.0.1:$mon_port]" --fsid "$fsid" "$CEPH_DIR/monmap"
  step mon-mkfs ceph-mon "${C[@]}" --mkfs -i a --monmap "$CEPH_DIR/monmap" --keyring "$CEPH_DIR/keyring"
  step mon-start ceph-mon "${C[@]}" -i a
  started mon.a "$CEPH_DIR/log/mon.a.log" "$CEPH_DIR/log/mon-start.out"
  mon_ready() {
    local pid
    pid=$(daemon_pid mon.a) && listens_on "$pid" "$mon_port" &&
      [ "$(ceph_q fsid)" = "$fsid" ] &&
      ceph_q quorum_status -f json | grep -q '"quorum_names":\["a"\]'
  }
  wait_until "the monitor to form a quorum" "$CEPH_DIR/log/mon.a.log" mon_ready

  # --- OSD: up and in
  # The OSD runs with --no-mon-config. Without it, ceph-osd first fetches its
  # config from the monitor, and its MonClient then builds its monmap from the
  # monitor addresses that fetch left behind, with cluster fsid 0000…; until the
  # real monmap arrives, a mon command carries that fsid. With auth none the
  # OSD's first command (set-device-class / create-or-move, sent as soon as
  # authentication is done) can beat the monmap, and the monitor answers
  # 'wrong fsid' (its log: "handle_command on fsid 00000000-… != <fsid>"), so
  # the OSD exits: "mon_cmd_maybe_osd_create fail: 'wrong fsid'". Starting the
  # OSD 40 times on a CPU core kept busy by another process, that happened 7
  # times; with --no-mon-config 0 times. The config file holds all the config,
  # so nothing is lost; and the OSD sends no such commands anyway (osd
  # crush/class update on start = false). (osd-mkfs.out always holds a line
  # "-1 memstore(<dir>) <dir>": a debug print in MemStore::mkfs, not an error.)
  osd_uuid=$(new_uuid)
  step osd-create ceph_cli osd create "$osd_uuid"
  osd_id=$(tail -n 1 "$CEPH_DIR/log/osd-create.out")
  [[ "$osd_id" =~ ^[0-9]+$ ]] || die "osd create printed '$osd_id', not an id" "$CEPH_DIR/log/osd-create.out"
  step osd-mkfs ceph-osd "${C[@]}" --no-mon-config -i "$osd_id" --mkfs --osd-uuid "$osd_uuid"
  step osd-crush ceph_cli osd crush add "osd.$osd_id" 1.0 host=localhost root=default
  step osd-start ceph-osd "${C[@]}" --no-mon-config -i "$osd_id"
  started "osd.$osd_id" "$CEPH_DIR/log/osd.$osd_id.log" "$CEPH_DIR/log/osd-start.out"
  osd_ready() {
    local stat
    stat=$(ceph_q osd stat -f json) &&
      [[ "$stat" == *'"num_up_osds":1,'* && "$stat" == *'"num_in_osds":1,'* ]]
  }
  wait_until "osd.$osd_id to be up and in" \
    "$CEPH_DIR/log/osd.$osd_id.log $CEPH_DIR/log/osd-start.out $CEPH_DIR/log/mon.a.log" osd_ready

  # --- radosgw: our process answers HTTP on the port
  step rgw-start radosgw "${C[@]}" -n client.rgw.local
  started client.rgw.local "$CEPH_DIR/log/rgw.log" "$CEPH_DIR/log/rgw-start.out"
  rgw_ready() {
    local pid
    pid=$(daemon_pid client.rgw.local) && listens_on "$pid" "$rgw_port" &&
      curl -sf --max-time 10 -o /dev/null "http://127.0.0.1:$rgw_port/"
  }
  wait_until "radosgw to answer on port $rgw_port" \
    "$CEPH_DIR/log/rgw.log $CEPH_DIR/log/rgw-start.out" rgw_ready

  # --- the test user, and an S3 round trip with its keys
  step user-create radosgw-admin "${C[@]}" user create --uid=romi-test \
    --display-name="romi tests" --access-key="$ACCESS_KEY" --secret-key="$SECRET_KEY"
  if curl --help all 2>/dev/null | grep -q -- --aws-sigv4; then
    local url="http://127.0.0.1:$rgw_port/romi-ceph-probe-$n" body="probe $fsid"
    s3() { # method, url, body: a SigV4-signed request with the test keys
      curl -sf --max-time 10 --aws-sigv4 "aws:amz:us-east-1:s3" --user "$ACCESS_KEY:$SECRET_KEY" \
        -H "x-amz-content-sha256: $(printf '%s' "$3" | sha256sum | cut -d' ' -f1)" \
        -X "$1" ${3:+--data-binary "$3"} "$2"
    }
    s3_round_trip() {
      s3 PUT "$url" "" >/dev/null && s3 PUT "$url/probe" "$body" >/dev/null &&
        [ "$(s3 GET "$url/probe" "")" = "$body" ] &&
        s3 DELETE "$url/probe" "" >/dev/null && s3 DELETE "$url" "" >/dev/null
    }
    STAGE_TIMEOUT_S=20 wait_until "an S3 round trip with the test keys" "$CEPH_DIR/log/rgw.log" s3_round_trip
  else
    log "curl has no --aws-sigv4; not checking the test keys with an S3 round trip"
  fi

  echo "export ROMI_TEST_RGW_ENDPOINT=http://127.0.0.1:$rgw_port ROMI_TEST_RGW_ACCESS_KEY=$ACCESS_KEY ROMI_TEST_RGW_SECRET_KEY=$SECRET_KEY" \
    >"$CEPH_DIR/export"
}

# ---------------------------------------------------------------------------

# A previous cluster in the same directory must be fully gone first.
stop_cluster
rm -rf "$CEPH_DIR"

for n in $(seq 1 "$ATTEMPTS"); do
  # A failed attempt keeps its logs; everything else is wiped before the next.
  find "$CEPH_DIR" -mindepth 1 -maxdepth 1 ! -name 'log.failed-*' -exec rm -rf {} + 2>/dev/null || true
  set +e
  (
    set -eEuo pipefail
    attempt "$n"
  ) >&2
  status=$?
  set -e
  if [ "$status" -eq 0 ] && [ -s "$CEPH_DIR/export" ]; then
    log "up in $(($(date +%s) - STARTED_AT))s"
    cat "$CEPH_DIR/export"
    exit 0
  fi
  stop_cluster
  if [ -d "$CEPH_DIR/log" ]; then
    rm -rf "$CEPH_DIR/log.failed-$n"
    mv "$CEPH_DIR/log" "$CEPH_DIR/log.failed-$n"
  fi
  if [ "$n" -lt "$ATTEMPTS" ]; then
    log "stopped and wiped the cluster; retrying from scratch (logs of attempt $n: $CEPH_DIR/log.failed-$n)"
  fi
done
log "FAILED: no working cluster after $ATTEMPTS attempts ($(($(date +%s) - STARTED_AT))s); logs in $CEPH_DIR/log.failed-*"
exit 1
