#!/bin/bash
# Installs the Debian Ceph packages that scripts/ceph/start.sh needs (mon, memstore OSD, radosgw).
# Idempotent: does nothing when the binaries are already there.
set -euo pipefail

NEEDED_BINARIES=(ceph-mon ceph-osd radosgw radosgw-admin ceph ceph-authtool monmaptool)

missing=()
for bin in "${NEEDED_BINARIES[@]}"; do
  command -v "$bin" >/dev/null 2>&1 || missing+=("$bin")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "ceph: already installed ($(ceph --version 2>/dev/null | awk '{print $3}'))" >&2
  exit 0
fi
echo "ceph: missing ${missing[*]}; installing" >&2

if [ "$(id -u)" -ne 0 ]; then
  echo "ceph: install.sh must run as root (apt-get)" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# An empty package index means apt-get update has never run on this machine.
if ! apt-cache show radosgw >/dev/null 2>&1; then
  apt-get update -q >&2
fi
# A stale package index (a mirror that has moved on) fails the install: refresh it and try once more.
apt-get install -y -q --no-install-recommends radosgw ceph-mon ceph-osd >&2 ||
  { apt-get update -q >&2 && apt-get install -y -q --no-install-recommends radosgw ceph-mon ceph-osd >&2; }

# curl is used by start.sh to probe the S3 endpoint.
command -v curl >/dev/null 2>&1 || apt-get install -y -q --no-install-recommends curl >&2

echo "ceph: installed ($(ceph --version | awk '{print $3}'))" >&2
