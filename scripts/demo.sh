#!/usr/bin/env bash
# The main job: set everything up, then build an example whose test step fails and open a
# shell in the failed step's final state (exit the shell to finish). Extra arguments go to
# `bxtui build`, e.g. `scripts/demo.sh --initial` for the state before the step ran.
set -euo pipefail
cd "$(dirname "$0")/.."
setup_env=$(bash scripts/bootstrap.sh)  # fails the script if set-up fails
set -a
eval "$setup_env"
set +a
exec .venv/bin/bxtui build --progress=plain --invoke /bin/sh "$@" examples/fail-run
