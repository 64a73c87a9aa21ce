#!/usr/bin/env bash
# Provision a real BuildKit for bxtui: Docker Engine from Debian's packages, a private dockerd,
# a `busybox:local` base image built from Debian's busybox-static, and `docker-buildx` as the
# peer for comparison tests.
#
#   scripts/daemon.sh up [ENGINE]    install what is missing, start the daemon, import the base
#                                    image; prints DOCKER_HOST=... on its last line (idempotent)
#   scripts/daemon.sh down [ENGINE]  stop the private daemon
#   scripts/daemon.sh env [ENGINE]   print DOCKER_HOST=..., BXTUI_BUILDX=..., BXTUI_DOCKERD=...,
#                                    and the TLS endpoint: BXTUI_TLS_HOST=tcp://127.0.0.1:PORT,
#                                    BXTUI_TLS_CERT_PATH=DIR (ca.pem cert.pem key.pem, as
#                                    DOCKER_CERT_PATH wants them); DOCKER_HOST stays the socket
#
# ENGINE is 26 (default: Debian trixie's docker.io 26.1.5, BuildKit 0.13, installed with dpkg -i,
# peer docker-buildx 0.13.1) or 28 (Debian sid's docker.io 28.5.2, BuildKit 0.25, unpacked with
# dpkg -x into a private directory, never installed; peer docker-buildx 0.29.1). Both can run
# side by side: each has its own data root, exec root, socket and bridge (28 creates br-bxtui28,
# 172.30.28.1/24, and runs without iptables rules; it never touches docker0).
#
# Each daemon also listens on tcp://127.0.0.1:PORT (23726 for 26, 23728 for 28; loopback only)
# with mutual TLS: a CA, a server certificate (IP:127.0.0.1, DNS:localhost) and a client
# certificate made with openssl once, in $BXTUI_DAEMON_DIR/tls (0700).
#
# Everything lives under $BXTUI_DAEMON_DIR (default /var/lib/bxtui-daemon, /var/lib/bxtui-daemon-28);
# the socket directory is private (0700). Needs root (the daemon runs as root).
set -euo pipefail

ENGINE=${2:-${BXTUI_ENGINE:-26}}
case "$ENGINE" in
  26) SUITE=trixie; sfx= ;;
  28) SUITE=sid; sfx=-28 ;;
  *) echo "daemon.sh: unknown engine '$ENGINE' (26 or 28)" >&2; exit 2 ;;
esac
DIR=${BXTUI_DAEMON_DIR:-/var/lib/bxtui-daemon$sfx}
RUN=${BXTUI_DAEMON_RUN:-/run/bxtui-daemon$sfx}
SOCK=$RUN/docker.sock
PKG=$DIR/pkgs
TOOLS=$DIR/tools           # docker-buildx (peer), busybox: unpacked, not installed system-wide
ENGINE_ROOT=$DIR/engine    # engine 28 only: the unpacked docker.io package
BRIDGE=br-bxtui28          # engine 28 only
BRIDGE_ADDR=172.30.28.1/24
IMAGE=busybox:local
TLS_PORT=${BXTUI_TLS_PORT:-237$ENGINE}
TLS_DIR=$DIR/tls           # ca*.pem, server-*.pem; client/ = DOCKER_CERT_PATH (ca, cert, key)

log() { printf 'daemon.sh: %s\n' "$*" >&2; }

ping_daemon() {
  curl -fsS --max-time 2 --unix-socket "$SOCK" http://d/_ping >/dev/null 2>&1
}

need_root() {
  if [ "$(id -u)" != 0 ]; then
    log "must run as root (it installs packages and starts dockerd)"
    exit 1
  fi
}

# Installed for real: "dpkg -s" also succeeds for a removed package whose config files remain.
installed() {
  [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

apt_updated=
apt_install() {
  local missing=()
  for p in "$@"; do installed "$p" || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ -z "$apt_updated" ]; then apt-get update -qq; apt_updated=1; fi
  log "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Download packages of $SUITE with a private apt state, leaving the system's sources alone.
suite_download() {
  local st=$DIR/apt-$SUITE
  mkdir -p "$st/lists/partial" "$PKG"
  if [ ! -s "$st/sources.list" ]; then
    echo "deb http://deb.debian.org/debian $SUITE main" >"$st/sources.list"
  fi
  local aptopts=(-o "Dir::State::Lists=$st/lists" -o "Dir::Etc::SourceList=$st/sources.list"
                 -o "Dir::Etc::SourceParts=/dev/null" -o "Dir::Cache::Archives=$PKG" -o "APT::Sandbox::User=root")
  if [ -z "$(ls "$st/lists" 2>/dev/null | grep -v partial)" ]; then
    apt-get "${aptopts[@]}" update -qq
  fi
  (cd "$PKG" && apt-get "${aptopts[@]}" download "$@" >/dev/null)
}

dockerd_bin() {
  if [ "$ENGINE" = 26 ]; then command -v dockerd || echo /usr/sbin/dockerd
  else echo "$ENGINE_ROOT/usr/sbin/dockerd"; fi
}

install_engine() {
  apt_install ca-certificates curl iptables runc containerd tini xz-utils python3 procps iproute2
  apt_install openssh-client  # ssh-agent, ssh-add, ssh-keygen for the --ssh tests
  if [ "$ENGINE" = 28 ]; then
    if [ ! -x "$ENGINE_ROOT/usr/sbin/dockerd" ]; then
      log "downloading docker.io from Debian $SUITE (unpacked, not installed)"
      rm -f "$PKG"/docker.io_*.deb
      suite_download docker.io
      rm -rf "$ENGINE_ROOT.tmp"
      dpkg -x "$PKG"/docker.io_*.deb "$ENGINE_ROOT.tmp"
      rm -rf "$ENGINE_ROOT" && mv "$ENGINE_ROOT.tmp" "$ENGINE_ROOT"
    fi
  elif ! command -v dockerd >/dev/null 2>&1 || ! dockerd --version | grep -q ' 2[6-9]\.'; then
    log "downloading docker.io from Debian $SUITE"
    suite_download docker.io
    log "installing docker.io"
    # Its post-install script tries to start a service; with no init system that fails harmlessly.
    DEBIAN_FRONTEND=noninteractive dpkg -i --force-confold "$PKG"/docker.io_*.deb >/dev/null 2>&1 \
      || DEBIAN_FRONTEND=noninteractive apt-get install -f -y -qq >/dev/null
    command -v dockerd >/dev/null || { log "dockerd did not install"; exit 1; }
  fi
  if [ ! -x "$TOOLS/docker-buildx" ] || [ ! -x "$TOOLS/busybox" ]; then
    log "downloading docker-buildx and busybox-static from Debian $SUITE"
    rm -f "$PKG"/docker-buildx_*.deb "$PKG"/busybox-static_*.deb
    suite_download docker-buildx busybox-static
    local x; x=$(mktemp -d)
    dpkg -x "$PKG"/docker-buildx_*.deb "$x/bx"
    dpkg -x "$PKG"/busybox-static_*.deb "$x/bb"
    mkdir -p "$TOOLS"
    install -m 0755 "$x/bx/usr/libexec/docker/cli-plugins/docker-buildx" "$TOOLS/docker-buildx"
    install -m 0755 "$x/bb/usr/bin/busybox" "$TOOLS/busybox"
    rm -rf "$x"
  fi
}

# A dockerd left from an earlier run that no longer answers: stop it (a zombie counts as gone).
stop_stale() {
  local pidf=$RUN/dockerd.pid pid state
  [ -f "$pidf" ] || return 0
  pid=$(cat "$pidf" 2>/dev/null || true)
  if [ -n "$pid" ] && [ -r "/proc/$pid/stat" ]; then
    state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || echo Z)
    if [ "$state" != Z ] && grep -q dockerd "/proc/$pid/comm" 2>/dev/null; then
      log "stopping unresponsive dockerd ($pid)"
      kill "$pid" 2>/dev/null || true
      local i
      for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$pidf"
}

# The TLS endpoint's certificates (once): a CA, the server's (127.0.0.1, localhost), a client's.
make_tls() {
  [ -s "$TLS_DIR/client/key.pem" ] && return 0
  apt_install openssl
  log "making the TLS endpoint's CA and certificates in $TLS_DIR"
  local t=$TLS_DIR.tmp
  rm -rf "$t"
  install -d -m 0700 "$t" "$t/client"
  (
    cd "$t"
    umask 077
    local ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
    openssl req -x509 "${ec[@]}" -keyout ca-key.pem -out ca.pem -days 3650 \
      -subj "/CN=bxtui test engine CA" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >server.ext
    printf 'extendedKeyUsage=clientAuth\n' >client.ext
    openssl req "${ec[@]}" -keyout server-key.pem -out server.csr -subj "/CN=localhost" 2>/dev/null
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 3650 \
      -extfile server.ext -out server-cert.pem 2>/dev/null
    openssl req "${ec[@]}" -keyout client/key.pem -out client.csr -subj "/CN=bxtui client" 2>/dev/null
    openssl x509 -req -in client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 3650 \
      -extfile client.ext -out client/cert.pem 2>/dev/null
    cp ca.pem client/ca.pem
    rm -f ./*.csr ./*.ext ca.srl
  )
  rm -rf "$TLS_DIR" && mv "$t" "$TLS_DIR"
}

start_daemon() {
  if ping_daemon; then return 0; fi
  mkdir -p "$DIR/data" "$DIR/exec"
  install -d -m 0700 "$RUN"
  stop_stale
  rm -f "$SOCK"
  local extra=() path=$PATH
  if [ "$ENGINE" = 28 ]; then
    # Its own bridge: the default one (docker0) belongs to the other daemon.
    if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
      ip link add "$BRIDGE" type bridge
      ip addr add "$BRIDGE_ADDR" dev "$BRIDGE"
    fi
    ip link set "$BRIDGE" up
    extra=(--bridge="$BRIDGE" --iptables=false --ip6tables=false)
    path=$ENGINE_ROOT/usr/sbin:$ENGINE_ROOT/usr/bin:$ENGINE_ROOT/usr/libexec/docker:$PATH
  fi
  make_tls
  extra+=(--host "tcp://127.0.0.1:$TLS_PORT" --tlsverify --tlscacert "$TLS_DIR/ca.pem"
          --tlscert "$TLS_DIR/server-cert.pem" --tlskey "$TLS_DIR/server-key.pem")
  log "starting dockerd $ENGINE on unix://$SOCK and tcp://127.0.0.1:$TLS_PORT (mutual TLS)"
  PATH=$path setsid "$(dockerd_bin)" --host "unix://$SOCK" --data-root "$DIR/data" \
    --exec-root "$DIR/exec" --pidfile "$RUN/dockerd.pid" "${extra[@]}" \
    >"$DIR/dockerd.log" 2>&1 </dev/null &
  local i
  for i in $(seq 1 300); do
    if ping_daemon; then return 0; fi
    if ! kill -0 $! 2>/dev/null; then break; fi
    sleep 0.1
  done
  log "dockerd did not answer; its log ends with:"
  tail -n 20 "$DIR/dockerd.log" >&2
  exit 1
}

import_base_image() {
  if curl -fsS --unix-socket "$SOCK" "http://d/images/$IMAGE/json" >/dev/null 2>&1; then
    return 0
  fi
  log "importing $IMAGE from busybox-static"
  local root; root=$(mktemp -d)
  mkdir -p "$root/bin" "$root/etc" "$root/tmp" "$root/root" "$root/usr/bin" "$root/usr/sbin" "$root/sbin"
  chmod 1777 "$root/tmp"
  cp "$TOOLS/busybox" "$root/bin/busybox"
  local applet
  for applet in $("$TOOLS/busybox" --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
  local repo=${IMAGE%%:*} tag=${IMAGE##*:}
  tar -C "$root" -c . | curl -fsS --unix-socket "$SOCK" -X POST -H 'Content-Type: application/x-tar' \
    --data-binary @- "http://d/images/create?fromSrc=-&repo=$repo&tag=$tag" >/dev/null
  rm -rf "$root"
  curl -fsS --unix-socket "$SOCK" "http://d/images/$IMAGE/json" >/dev/null
}

stop_daemon() {
  local pidf=$RUN/dockerd.pid
  if [ -f "$pidf" ] && kill -0 "$(cat "$pidf")" 2>/dev/null; then
    local pid; pid=$(cat "$pidf")
    kill "$pid"
    local i
    for i in $(seq 1 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    log "stopped dockerd ($pid)"
  else
    log "no private dockerd running"
  fi
}

case "${1:-up}" in
  up)
    need_root
    # Nothing to install when our daemon already answers and the peer tools are unpacked.
    if ! { ping_daemon && [ -x "$TOOLS/docker-buildx" ] && [ -x "$TOOLS/busybox" ]; }; then
      install_engine
    fi
    start_daemon
    import_base_image
    log "docker-buildx (peer): $TOOLS/docker-buildx"
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$TLS_PORT") 2>/dev/null; then
      log "nothing listens on tcp://127.0.0.1:$TLS_PORT: a dockerd started before the TLS" \
          "endpoint existed; 'daemon.sh down $ENGINE && daemon.sh up $ENGINE' adds it"
    fi
    echo "DOCKER_HOST=unix://$SOCK"
    ;;
  down) need_root; stop_daemon ;;
  env)
    echo "DOCKER_HOST=unix://$SOCK"
    echo "BXTUI_BUILDX=$TOOLS/docker-buildx"
    echo "BXTUI_DOCKERD=$(dockerd_bin)"
    echo "BXTUI_ENGINE=$ENGINE"
    echo "BXTUI_TLS_HOST=tcp://127.0.0.1:$TLS_PORT"
    echo "BXTUI_TLS_CERT_PATH=$TLS_DIR/client"
    ;;
  *) echo "usage: $0 up|down|env [26|28]" >&2; exit 2 ;;
esac
