# Sourced (not run) by the scripts that need everything set up first: provisions the daemon,
# base image and virtualenv (scripts/bootstrap.sh) and exports the environment it prints
# (DOCKER_HOST=..., BXTUI_BUILDX=...). Fails the sourcing script if set-up fails.
setup_env=$(bash scripts/bootstrap.sh)
set -a
eval "$setup_env"
set +a
