#!/usr/bin/env bash
# Installs what a fresh machine lacks for pgtools: system packages (PostgreSQL 15, pg_repack,
# etcd, HAProxy, Patroni), pnpm at the pinned version, the locked dependencies; then builds.
# Safe to run again: each step is skipped when already satisfied.
set -euo pipefail
cd "$(dirname "$0")/../.."

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

system_packages=(postgresql-15 postgresql-contrib postgresql-15-repack etcd-server etcd-client haproxy patroni iproute2 procps openssl curl)
missing=()
for pkg in "${system_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" != 0 ]; then
    say "missing system packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})"
    exit 1
  fi
  say "installing system packages: ${missing[*]}"
  # Package scripts must not start services (a stock PostgreSQL on 5432, etcd on 2379): the tests
  # and the demo start their own servers on free loopback ports.
  policy_added=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && policy_added=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  [ "$policy_added" = 1 ] && rm -f /usr/sbin/policy-rc.d
fi

pnpm_version=$(node -p 'require("./package.json").packageManager.split("@")[1]')
if [ "$(pnpm --version 2>/dev/null || true)" != "$pnpm_version" ]; then
  say "installing pnpm $pnpm_version"
  npm install -g --silent "pnpm@$pnpm_version" >/dev/null 2>&1 || npm install -g "pnpm@$pnpm_version"
fi

say "installing dependencies from the lockfile"
pnpm install --frozen-lockfile --reporter=silent
say "building"
pnpm exec turbo run build --output-logs=errors-only >&2
