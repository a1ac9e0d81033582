#!/bin/bash
# Starts a throwaway single-node Ceph cluster for tests: one monitor, one
# memstore OSD (RAM-backed, nothing persists), radosgw on 127.0.0.1, no
# systemd, auth none, one S3 user with fixed test keys.
#
#   eval "$(scripts/ceph/start.sh)"     # sets ROMI_TEST_RGW_* for the tests
#   scripts/ceph/stop.sh
#
# stdout carries only the export line; progress and errors go to stderr.
# Env: ROMI_CEPH_DIR (default /tmp/romi-ceph), ROMI_RGW_PORT (default 7480,
# the next free port is used when taken), ROMI_CEPH_START_TIMEOUT (s, default 120).
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CEPH_DIR=${ROMI_CEPH_DIR:-/tmp/romi-ceph}
START_TIMEOUT_S=${ROMI_CEPH_START_TIMEOUT:-120}
ACCESS_KEY=${ROMI_TEST_RGW_ACCESS_KEY:-ROMITESTACCESSKEY0001}
SECRET_KEY=${ROMI_TEST_RGW_SECRET_KEY:-romi-test-secret-key-not-a-secret-0001}
STARTED_AT=$(date +%s)

log() { echo "ceph: $*" >&2; }

fail() {
  log "FAILED: $*"
  for f in "$CEPH_DIR"/log/*; do
    [ -s "$f" ] || continue
    echo "----- tail of $f -----" >&2
    tail -n 25 "$f" >&2
  done
  ROMI_CEPH_DIR="$CEPH_DIR" "$SCRIPT_DIR/stop.sh" || true
  exit 1
}
trap 'fail "command failed (line $LINENO): $BASH_COMMAND"' ERR

seconds_left() { echo $((START_TIMEOUT_S - ($(date +%s) - STARTED_AT))); }

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

free_port_from() {
  local port=$1
  while port_in_use "$port"; do port=$((port + 1)); done
  echo "$port"
}

# Polls a command until it succeeds or the start timeout runs out.
wait_for() {
  local what=$1
  shift
  while ! "$@" >/dev/null 2>&1; do
    [ "$(seconds_left)" -gt 0 ] || fail "timed out after ${START_TIMEOUT_S}s waiting for $what"
    sleep 0.5
  done
}

for bin in ceph-mon ceph-osd radosgw radosgw-admin ceph ceph-authtool monmaptool curl; do
  command -v "$bin" >/dev/null || { log "$bin not found; run scripts/ceph/install.sh"; exit 1; }
done

# A previous cluster in the same directory must be fully gone first.
ROMI_CEPH_DIR="$CEPH_DIR" "$SCRIPT_DIR/stop.sh"
rm -rf "$CEPH_DIR"
mkdir -p "$CEPH_DIR"/{mon,osd0,run,log,rgw}

MON_PORT=$(free_port_from "${ROMI_CEPH_MON_PORT:-6789}")
RGW_PORT=$(free_port_from "${ROMI_RGW_PORT:-7480}")
[ "$RGW_PORT" != "$MON_PORT" ] || RGW_PORT=$(free_port_from $((MON_PORT + 1)))
FSID=$(uuidgen)
CONF="$CEPH_DIR/ceph.conf"
C=(-c "$CONF")

cat >"$CONF" <<CONF
[global]
fsid = $FSID
mon host = v1:127.0.0.1:$MON_PORT
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
[osd]
osd data = $CEPH_DIR/osd0
osd objectstore = memstore
memstore device bytes = 2147483648
# as in the tested recipe (toolchain.md Appendix C)
osd max object name len = 460
osd max object namespace len = 64
[client.rgw.local]
rgw frontends = beast endpoint=127.0.0.1:$RGW_PORT tcp_nodelay=1
rgw data = $CEPH_DIR/rgw
log file = $CEPH_DIR/log/rgw.log
CONF

log "mon on 127.0.0.1:$MON_PORT, rgw on 127.0.0.1:$RGW_PORT, dir $CEPH_DIR"
# auth is off, but the tools still want a keyring to exist
ceph-authtool --create-keyring "$CEPH_DIR/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
ceph-authtool "$CEPH_DIR/keyring" --gen-key -n client.admin \
  --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' --cap mds 'allow *' >/dev/null
monmaptool --create --addv a "[v1:127.0.0.1:$MON_PORT]" --fsid "$FSID" "$CEPH_DIR/monmap" >/dev/null
ceph-mon "${C[@]}" --mkfs -i a --monmap "$CEPH_DIR/monmap" --keyring "$CEPH_DIR/keyring" \
  >"$CEPH_DIR/log/mon-mkfs.out" 2>&1
ceph-mon "${C[@]}" -i a >>"$CEPH_DIR/log/mon-start.out" 2>&1
wait_for "the monitor" ceph "${C[@]}" --connect-timeout 5 status

OSD_ID=$(ceph "${C[@]}" osd create)
ceph-osd "${C[@]}" -i "$OSD_ID" --mkfs --osd-uuid "$(uuidgen)" >"$CEPH_DIR/log/osd-mkfs.out" 2>&1
ceph "${C[@]}" osd crush add-bucket localhost host >/dev/null 2>&1
ceph "${C[@]}" osd crush move localhost root=default >/dev/null 2>&1
ceph "${C[@]}" osd crush add "osd.$OSD_ID" 1.0 host=localhost >/dev/null 2>&1
# daemons fork into the background; keep their start-up chatter out of stdout
ceph-osd "${C[@]}" -i "$OSD_ID" >>"$CEPH_DIR/log/osd-start.out" 2>&1
osd_up() { ceph "${C[@]}" --connect-timeout 5 osd stat | grep -q "1 up"; }
wait_for "the OSD to come up" osd_up

radosgw "${C[@]}" -n client.rgw.local >>"$CEPH_DIR/log/rgw-start.out" 2>&1
wait_for "radosgw on port $RGW_PORT" curl -sf -o /dev/null "http://127.0.0.1:$RGW_PORT/"

radosgw-admin "${C[@]}" user create --uid=romi-test --display-name="romi tests" \
  --access-key="$ACCESS_KEY" --secret-key="$SECRET_KEY" >"$CEPH_DIR/log/user-create.out" 2>&1

log "up in $(($(date +%s) - STARTED_AT))s"
echo "export ROMI_TEST_RGW_ENDPOINT=http://127.0.0.1:$RGW_PORT ROMI_TEST_RGW_ACCESS_KEY=$ACCESS_KEY ROMI_TEST_RGW_SECRET_KEY=$SECRET_KEY"
