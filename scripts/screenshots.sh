#!/usr/bin/env bash
# Take the screenshots in screenshots/ (SVG, plus PNG for review) of the real bxtui app on the
# real daemon: a running build, the failure view, shells in the final and initial states, the
# success summary, the help screen and a small terminal. Sets everything up first, like
# scripts/demo.sh. Extra arguments go to scripts/screenshots.py (e.g. --only help).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup-env.sh
if ! command -v rsvg-convert >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq librsvg2-bin >/dev/null
fi
exec .venv/bin/python scripts/screenshots.py --png "$@"
