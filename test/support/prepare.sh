#!/usr/bin/env bash
# Installs the system packages the tests run against, when missing: influxd (the real InfluxDB
# the storage tests talk to), chromium (dashboard tests), mosquitto_pub and openssl (broker and
# TLS tests), redis-server (cluster mode tests), PostgreSQL (the shared-state stores' tests),
# haproxy (the deployment example, in front of two nodes) and systemd-analyze (checks the unit
# file). Tests run their own servers of these.
# In a clone with no npm dependencies installed yet (`npm test` as its first command), installs
# them as the lock file says first.
# Starts nothing; fast and silent when everything is already there.
set -euo pipefail

# npm writes this file at every install; an existing install, however made, is left alone.
if [ ! -e node_modules/.package-lock.json ]; then
  echo "prepare.sh: installing the npm dependencies (npm ci)" >&2
  npm ci --no-audit --no-fund
fi

missing=()
command -v influxd >/dev/null 2>&1 || missing+=(influxdb)
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v mosquitto_pub >/dev/null 2>&1 || missing+=(mosquitto-clients)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
[ -x /usr/bin/redis-server ] || missing+=(redis-server)
compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null || missing+=(postgresql)
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || missing+=(haproxy)
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)

[ ${#missing[@]} -eq 0 ] && exit 0

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "prepare.sh: need root to install: ${missing[*]}" >&2; exit 1; }
  sudo=(sudo)
fi

echo "prepare.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
# policy-rc.d answering 101 keeps the packages' own influxdb and postgresql services from
# starting: tests run their own. An existing policy (as in container images) is left as it is.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  "${sudo[@]}" sh -c 'printf "#!/bin/sh\nexit 101\n" > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d'
  trap '"${sudo[@]}" rm -f /usr/sbin/policy-rc.d' EXIT
fi
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
