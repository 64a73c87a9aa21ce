#!/usr/bin/env bash
# The main job: set everything up, then open the bxtui app on an example whose test step
# fails: the failure shows by itself; f opens a shell in the failed step's final state, i in
# its initial state, ctrl+] returns to the panes, q closes everything. Extra arguments go to
# `bxtui build`, e.g. `scripts/demo.sh --no-cache`. Without a terminal it prints plain progress.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup-env.sh
exec .venv/bin/bxtui build "$@" examples/fail-run
