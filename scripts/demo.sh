#!/usr/bin/env bash
# The main job: set everything up, then build an example whose test step fails.
set -euo pipefail
cd "$(dirname "$0")/.."
set -a
eval "$(bash scripts/bootstrap.sh)"
set +a
exec .venv/bin/bxtui build --progress=plain "$@" examples/fail-run
