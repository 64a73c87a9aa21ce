#!/usr/bin/env bash
# --ssh: a RUN step making 20 ssh-agent connections (ssh-add -l) through the session, bxtui and
# buildx alternating on the same daemon.  Needs the daemon's environment (scripts/daemon.sh env)
# and openssh-client.   bash bench/bench_ssh.sh [ROUNDS]
set -euo pipefail
ROUNDS=${1:-5}
BXTUI=${BXTUI:-$(dirname "$0")/../.venv/bin/bxtui}
: "${BXTUI_BUILDX:?run with the environment of scripts/daemon.sh env}"
export DOCKER_HOST
T=$(mktemp -d /tmp/bxtui-bench-ssh.XXXXXX)   # mktemp -d: mode 0700
eval "$(ssh-agent -s -a "$T/agent.sock")" >/dev/null
trap 'kill "$SSH_AGENT_PID"; rm -rf "$T"' EXIT
ssh-keygen -q -t ed25519 -N '' -C bench -f "$T/id"
ssh-add -q "$T/id"
mkdir -p "$T/ctx/t"
cp /usr/bin/ssh-add "$T/ctx/t/"
for l in $(ldd /usr/bin/ssh-add | grep -o '/[^ ]*'); do cp -L "$l" "$T/ctx/t/"; done
A="/t/ld-linux-x86-64.so.2 --library-path /t /t/ssh-add"
cat > "$T/ctx/Dockerfile" <<DF
FROM busybox:local
COPY t /t
ARG N
RUN --mount=type=ssh echo \$N; for i in \$(seq 20); do $A -l >/dev/null || exit 1; done
DF
uptime
for r in $(seq "$ROUNDS"); do
  for tool in bxtui buildx; do
    if [ $tool = bxtui ]; then X=$BXTUI; else X=$BXTUI_BUILDX; fi
    s=$(date +%s.%N)
    "$X" build --progress=plain --ssh default --build-arg "N=$RANDOM$RANDOM" "$T/ctx" >"$T/out" 2>&1
    e=$(date +%s.%N)
    step=$(awk '/RUN --mount=type=ssh/{n=$1} n && $1==n && /DONE/{print $3; exit}' "$T/out")
    printf '%s round %d: build %.2f s, RUN step %s\n' "$tool" "$r" "$(echo "$e - $s" | bc)" "$step"
  done
done
uptime
