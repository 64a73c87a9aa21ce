#!/usr/bin/env bash
# Provision everything (packages, daemons, base image, virtualenv) and run every check:
# generated-code freshness, ruff, mypy, the whole test suite against Docker Engine 26.1 (BuildKit
# 0.13), then the real-daemon tests again against Docker Engine 28.5 (BuildKit 0.25) running
# beside it. BXTUI_ENGINES="26" (or "28") limits the run to one engine.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup-env.sh
export BXTUI_REQUIRE_DAEMON=1
engines=${BXTUI_ENGINES:-26 28}
echo "== generated protobuf modules"
.venv/bin/python scripts/genproto.py --check
echo "== ruff"
.venv/bin/ruff check .
echo "== mypy"
.venv/bin/mypy
for engine in $engines; do
  bash scripts/daemon.sh up "$engine" >/dev/null
  set -a
  eval "$(bash scripts/daemon.sh env "$engine")"
  set +a
  # the private registries (htpasswd, plain HTTP and TLS) with the base image pushed to them
  bash scripts/registry.sh up "$engine"
  set -a
  eval "$(bash scripts/registry.sh env)"
  set +a
  if [ "$engine" = "${engines%% *}" ]; then
    echo "== pytest (Docker Engine $engine: every test)"
    .venv/bin/pytest -q -p no:cacheprovider "$@"
  else
    echo "== pytest (Docker Engine $engine: the real-daemon tests)"
    BXTUI_DAEMON_TESTS_ONLY=1 .venv/bin/pytest -q -p no:cacheprovider "$@"
  fi
done
