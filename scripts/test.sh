#!/usr/bin/env bash
# Provision everything (packages, daemon, base image, virtualenv) and run every check:
# generated-code freshness, ruff, mypy, and the test suite against the real daemon.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup-env.sh
export BXTUI_REQUIRE_DAEMON=1
echo "== generated protobuf modules"
.venv/bin/python scripts/genproto.py --check
echo "== ruff"
.venv/bin/ruff check .
echo "== mypy"
.venv/bin/mypy
echo "== pytest"
.venv/bin/pytest -q -p no:cacheprovider "$@"
