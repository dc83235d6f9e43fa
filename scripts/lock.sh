#!/usr/bin/env bash
# Regenerate requirements.lock: the exact runtime dependencies the Docker image installs.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
python3 -m venv "$tmp/venv"
"$tmp/venv/bin/pip" install -q .
{
  echo "# The runtime dependencies of the Docker image, pinned (pip freeze of \`pip install .\` on Python 3.11)."
  echo "# Regenerate with scripts/lock.sh after changing pyproject.toml; CI checks the image lints clean."
  "$tmp/venv/bin/pip" freeze --exclude villagebot
} > requirements.lock
rm -rf "$tmp"
