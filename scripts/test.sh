#!/usr/bin/env bash
# Provision everything (packages, daemon, base image, virtualenv) and run every check:
# generated-code freshness, ruff, mypy, and the test suite against the real daemon.
set -euo pipefail
cd "$(dirname "$0")/.."
setup_env=$(bash scripts/bootstrap.sh)  # fails the script if set-up fails
set -a
eval "$setup_env"
set +a
export BXTUI_REQUIRE_DAEMON=1
echo "== generated protobuf modules"
.venv/bin/python scripts/genproto.py --check
echo "== ruff"
.venv/bin/ruff check .
echo "== mypy"
.venv/bin/mypy
echo "== pytest"
.venv/bin/pytest -q -p no:cacheprovider "$@"
