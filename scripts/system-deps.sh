#!/usr/bin/env bash
# Install the Debian packages the tests need (Chromium for browser tests, a CJK font for
# signboards) and make sure the local PostgreSQL is running. Idempotent; needs root for apt.
set -euo pipefail

need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
# Signboards embed WenQuanYi Micro Hei (reportlab cannot embed the CFF-based Noto CJK fonts).
[ -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || need+=(fonts-wqy-microhei fontconfig)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "system-deps: installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "system-deps: please install as root: apt-get install ${need[*]}" >&2
    exit 1
  fi
fi

# PostgreSQL on 127.0.0.1:5432: the PostgreSQL tests run for real and never skip.
if command -v pg_isready >/dev/null && ! pg_isready -h 127.0.0.1 -p 5432 -q; then
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    echo "system-deps: starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
    for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
  fi
fi
