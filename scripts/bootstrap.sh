#!/usr/bin/env bash
# Set up everything bxtui needs on a Debian machine, from scratch and idempotently:
# the test daemon (scripts/daemon.sh up) and a virtualenv at .venv with bxtui installed.
# Prints the environment to use (DOCKER_HOST=..., BXTUI_BUILDX=...) on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv python3-pip >/dev/null
fi
# the install tests (tests/install): Debian's pipx and a venv of the system Python
if [ ! -x /usr/bin/pipx ] || ! /usr/bin/python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pipx python3-venv >/dev/null
fi
bash scripts/daemon.sh up >/dev/null
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
extra=${BXTUI_PIP_EXTRA:-dev}
if ! .venv/bin/python -c 'import tui, grpc_tools, pytest' >/dev/null 2>&1 \
   || [ pyproject.toml -nt .venv/.bxtui-installed ]; then
  # compat: a plain path entry in a .pth file, as cheap at start-up as a wheel (the default
  # editable finder installs an import hook and imports its own modules at every start)
  .venv/bin/pip install -q --disable-pip-version-check -e ".[$extra]" \
    --config-settings editable_mode=compat 2>&1 \
    | grep -v '^WARNING: Location' >&2 || true
  .venv/bin/python -c 'import tui, grpc' || { echo "bootstrap: install failed" >&2; exit 1; }
  touch .venv/.bxtui-installed
fi
# Byte-compile the package, as installing a wheel does (an editable install does not, and with
# PYTHONDONTWRITEBYTECODE set every start would compile it again).
.venv/bin/python -m compileall -q tui >/dev/null
bash scripts/daemon.sh env
