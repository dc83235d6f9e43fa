#!/usr/bin/env bash
# Check the deployment files as far as this machine allows: hadolint on the Dockerfile (from PyPI),
# dclint on docker-compose.yml (from the npm registry, when npm is here), and a real image build when a
# Docker daemon answers. Run by .ci/run; `make check-deploy` runs it alone.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}

echo "check-deploy: hadolint Dockerfile"
"$BIN/hadolint" --failure-threshold warning Dockerfile

if command -v npm >/dev/null; then
  tools=${XDG_CACHE_HOME:-$HOME/.cache}/villagebot-dclint
  if [ ! -x "$tools/node_modules/.bin/dclint" ]; then
    mkdir -p "$tools"
    (cd "$tools" && npm install --silent --no-audit --no-fund dclint@3.1.0 >/dev/null)
  fi
  echo "check-deploy: dclint docker-compose.yml"
  "$tools/node_modules/.bin/dclint" docker-compose.yml
else
  echo "check-deploy: npm is not installed here: docker-compose.yml not linted"
fi

if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
  echo "check-deploy: docker build"
  docker build -q -t villagebot:check .
else
  echo "check-deploy: no Docker daemon here: the image is linted, not built"
fi
