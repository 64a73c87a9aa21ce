#!/usr/bin/env bash
# Private registries for the registry tests: Debian's docker-registry (distribution 2.8), bound
# to 127.0.0.1 only, with htpasswd (bcrypt) authentication.
#
#   scripts/registry.sh up [ENGINE]   install what is missing, start both registries, trust the
#                                     CA, push busybox:local from the engine (default 26) to both
#                                     (idempotent)
#   scripts/registry.sh down          stop both registries (their data stays)
#   scripts/registry.sh env           print BXTUI_REGISTRY=..., its TLS twin, user, password, CA
#
# Instances: "plain" on 127.0.0.1:$BXTUI_REGISTRY_PORT (default 5510, plain HTTP: the engine
# treats 127.0.0.0/8 as insecure) and "tls" on 127.0.0.1:$BXTUI_REGISTRY_TLS_PORT (default 5511,
# HTTPS with a server certificate signed by a CA this script makes). The CA goes to
# /etc/docker/certs.d/127.0.0.1:PORT/ca.crt, where every dockerd running as root looks (the
# engine reads that directory at each pull; a fresh start trusts it too).
# The base image is pushed as REGISTRY/private/busybox:local.
# Everything lives under $BXTUI_REGISTRY_DIR (default /var/lib/bxtui-registry, 0700).
set -euo pipefail

DIR=${BXTUI_REGISTRY_DIR:-/var/lib/bxtui-registry}
PORT=${BXTUI_REGISTRY_PORT:-5510}
TLS_PORT=${BXTUI_REGISTRY_TLS_PORT:-5511}
CERTS_D=${BXTUI_REGISTRY_CERTS_D:-/etc/docker/certs.d}
USER_NAME=bxtui
REPO=private/busybox
TAG=local
HERE=$(cd "$(dirname "$0")" && pwd)

log() { printf 'registry.sh: %s\n' "$*" >&2; }

need_root() {
  if [ "$(id -u)" != 0 ]; then
    log "must run as root (it installs packages and writes $CERTS_D)"
    exit 1
  fi
}

# Installed for real: "dpkg -s" also succeeds for a removed package whose config files remain.
installed() {
  [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

install_packages() {
  local missing=() p
  for p in docker-registry apache2-utils openssl curl; do
    installed "$p" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

password() { cat "$DIR/password"; }

make_secrets() {
  install -d -m 0700 "$DIR" "$DIR/pki"
  if [ ! -s "$DIR/password" ]; then
    (umask 077; openssl rand -hex 16 >"$DIR/password")
  fi
  if [ ! -s "$DIR/htpasswd" ] || ! htpasswd -vbB "$DIR/htpasswd" "$USER_NAME" "$(password)" >/dev/null 2>&1; then
    (umask 077; htpasswd -cbB "$DIR/htpasswd" "$USER_NAME" "$(password)" 2>/dev/null)
  fi
  local t=$DIR/pki
  if [ ! -s "$t/ca.crt" ] || [ ! -s "$t/server.crt" ]; then
    log "making a CA and a server certificate for 127.0.0.1"
    (umask 077
     openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=bxtui test registry CA" \
       -keyout "$t/ca.key" -out "$t/ca.crt" 2>/dev/null
     openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
       -keyout "$t/server.key" -out "$t/server.csr" 2>/dev/null
     printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$t/ext"
     openssl x509 -req -in "$t/server.csr" -CA "$t/ca.crt" -CAkey "$t/ca.key" -CAcreateserial \
       -days 3650 -extfile "$t/ext" -out "$t/server.crt" 2>/dev/null)
    chmod 0644 "$t/ca.crt"
  fi
  install -d -m 0755 "$CERTS_D/127.0.0.1:$TLS_PORT"
  install -m 0644 "$t/ca.crt" "$CERTS_D/127.0.0.1:$TLS_PORT/ca.crt"
}

# write_config NAME PORT [tls]
write_config() {
  local name=$1 port=$2 tls=${3:-}
  install -d -m 0700 "$DIR/$name" "$DIR/$name/data"
  [ -s "$DIR/$name/secret" ] || (umask 077; openssl rand -hex 16 >"$DIR/$name/secret")
  {
    echo "version: 0.1"
    echo "log: {level: info}"
    echo "storage:"
    echo "  filesystem: {rootdirectory: $DIR/$name/data}"
    echo "  delete: {enabled: true}"
    echo "http:"
    echo "  addr: 127.0.0.1:$port"
    echo "  secret: $(cat "$DIR/$name/secret")"
    if [ -n "$tls" ]; then
      echo "  tls: {certificate: $DIR/pki/server.crt, key: $DIR/pki/server.key}"
    fi
    echo "auth:"
    echo "  htpasswd: {realm: bxtui-$name, path: $DIR/htpasswd}"
  } >"$DIR/$name/config.yml"
  chmod 0600 "$DIR/$name/config.yml"
}

url_of() {  # url_of NAME
  if [ "$1" = tls ]; then echo "https://127.0.0.1:$TLS_PORT"; else echo "http://127.0.0.1:$PORT"; fi
}

answers() {  # answers NAME: the registry's /v2/ asks for credentials
  local code
  code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 2 --cacert "$DIR/pki/ca.crt" \
    "$(url_of "$1")/v2/" 2>/dev/null || true)
  [ "$code" = 401 ]
}

running_pid() {  # running_pid NAME: the pid of our registry process, if it runs
  local pidf=$DIR/$1/registry.pid pid
  [ -f "$pidf" ] || return 1
  pid=$(cat "$pidf" 2>/dev/null || true)
  [ -n "$pid" ] && grep -q docker-regist "/proc/$pid/comm" 2>/dev/null || return 1
  echo "$pid"
}

start_one() {  # start_one NAME
  local name=$1
  if answers "$name"; then return 0; fi
  local pid
  if pid=$(running_pid "$name"); then
    log "stopping unresponsive $name registry ($pid)"
    kill "$pid" 2>/dev/null || true
  fi
  log "starting the $name registry on $(url_of "$name")"
  setsid docker-registry serve "$DIR/$name/config.yml" >>"$DIR/$name/registry.log" 2>&1 </dev/null &
  echo $! >"$DIR/$name/registry.pid"
  local i
  for i in $(seq 1 100); do
    if answers "$name"; then return 0; fi
    kill -0 "$(cat "$DIR/$name/registry.pid")" 2>/dev/null || break
    sleep 0.1
  done
  log "the $name registry did not answer; its log ends with:"
  tail -n 20 "$DIR/$name/registry.log" >&2
  exit 1
}

stop_one() {
  local pid i
  if pid=$(running_pid "$1"); then
    kill "$pid"
    for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    log "stopped the $1 registry ($pid)"
  fi
  rm -f "$DIR/$1/registry.pid"
}

has_image() {  # has_image NAME
  curl -fsS -o /dev/null --max-time 5 --cacert "$DIR/pki/ca.crt" -u "$USER_NAME:$(password)" \
    -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
    "$(url_of "$1")/v2/$REPO/manifests/$TAG" 2>/dev/null
}

# push_base NAME HOST:PORT: tag busybox:local and push it through the Engine API (X-Registry-Auth)
push_base() {
  local name=$1 reg=$2 sock auth out
  has_image "$name" && return 0
  sock=$(bash "$HERE/daemon.sh" env "$ENGINE" | sed -n 's|^DOCKER_HOST=unix://||p')
  log "pushing busybox:local to $reg/$REPO:$TAG"
  curl -fsS --unix-socket "$sock" -X POST \
    "http://d/images/busybox:local/tag?repo=$reg/$REPO&tag=$TAG" >/dev/null
  auth=$(printf '{"username":"%s","password":"%s","serveraddress":"%s"}' \
    "$USER_NAME" "$(password)" "$reg" | base64 -w0 | tr '+/' '-_')
  out=$(curl -fsS --unix-socket "$sock" -X POST -H "X-Registry-Auth: $auth" \
    "http://d/images/$reg/$REPO/push?tag=$TAG")
  curl -fsS --unix-socket "$sock" -X DELETE "http://d/images/$reg/$REPO:$TAG?noprune=1" >/dev/null || true
  if printf '%s' "$out" | grep -q '"error'; then
    log "push to $reg failed: $(printf '%s' "$out" | grep -o '"error":"[^"]*"' | head -1)"
    exit 1
  fi
  has_image "$name" || { log "push to $reg left no manifest"; exit 1; }
}

ENGINE=${2:-${BXTUI_ENGINE:-26}}
case "${1:-up}" in
  up)
    need_root
    install_packages
    make_secrets
    write_config plain "$PORT"
    write_config tls "$TLS_PORT" tls
    start_one plain
    start_one tls
    push_base plain "127.0.0.1:$PORT"
    push_base tls "127.0.0.1:$TLS_PORT"
    ;;
  down) need_root; stop_one plain; stop_one tls ;;
  env)
    echo "BXTUI_REGISTRY=127.0.0.1:$PORT"
    echo "BXTUI_REGISTRY_TLS=127.0.0.1:$TLS_PORT"
    echo "BXTUI_REGISTRY_USER=$USER_NAME"
    echo "BXTUI_REGISTRY_PASSWORD=$( [ -r "$DIR/password" ] && password || true)"
    echo "BXTUI_REGISTRY_CA=$DIR/pki/ca.crt"
    echo "BXTUI_REGISTRY_IMAGE=$REPO:$TAG"
    ;;
  *) echo "usage: $0 up|down|env [26|28]" >&2; exit 2 ;;
esac
