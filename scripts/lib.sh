#!/usr/bin/env bash
# Shared by scripts/up and scripts/test: make sure the tools and the infrastructure this
# project needs are installed and running on a Debian machine, installing what is missing.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# The caller's PATH, before ~/.local/bin (where ensure_uv puts uv) is added for these scripts.
CALLER_PATH="$PATH"
export PATH="$HOME/.local/bin:$PATH"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

apt_install() {
  log "installing $* (apt)"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

ensure_uv() {
  if command -v uv >/dev/null 2>&1; then return; fi
  log "installing uv"
  if python3 -m pip install --quiet --user uv 2>/dev/null; then return; fi
  # Debian's own Python has no pip and refuses installs outside a venv (PEP 668):
  # put uv in a venv of its own and link it onto the PATH.
  local venv="$HOME/.local/share/helpdesk-uv"
  if ! python3 -m venv "$venv" 2>/dev/null; then
    apt_install python3-venv
    python3 -m venv "$venv"
  fi
  "$venv/bin/python" -m pip install --quiet uv
  mkdir -p "$HOME/.local/bin"
  ln -sf "$venv/bin/uv" "$HOME/.local/bin/uv"
}

ensure_python_env() {
  ensure_uv
  log "syncing the Python workspace (uv sync)"
  (cd "$ROOT" && uv sync --all-packages --frozen --quiet)
  uv_path_hint
}

# The scripts find uv in ~/.local/bin by themselves; a shell of the user's own does not, so
# say which line makes `uv` work there too (a fresh shell would answer "uv: command not found").
uv_path_hint() {
  local uv_dir
  uv_dir="$(dirname "$(command -v uv)")"
  case ":$CALLER_PATH:" in *":$uv_dir:"*) return ;; esac
  log "uv is in $uv_dir, which your shell's PATH lacks. The scripts (scripts/up, scripts/test,"
  log "scripts/bench) find it themselves; to run uv yourself, add this line to ~/.bashrc:"
  printf '    export PATH="%s:$PATH"\n' "$uv_dir" >&2
}

ensure_postgres() {
  if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    ensure_postgres_connections
    return
  fi
  if ! command -v pg_ctlcluster >/dev/null 2>&1; then apt_install postgresql; fi
  local version
  version="$(ls /etc/postgresql | sort -V | tail -n 1)"
  log "starting PostgreSQL $version"
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  for _ in $(seq 1 60); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.5; done
  pg_isready -q -h 127.0.0.1 -p 5432 || { echo "PostgreSQL did not start" >&2; exit 1; }
  # Local development and tests connect as postgres over loopback without a password.
  if ! psql -h 127.0.0.1 -U postgres -tAc 'select 1' >/dev/null 2>&1; then
    local hba
    hba="$(ls /etc/postgresql/"$version"/main/pg_hba.conf)"
    log "allowing trust auth on loopback for local development ($hba)"
    as_root sed -i -E 's/^(host\s+all\s+all\s+127\.0\.0\.1\/32\s+)\S+/\1trust/' "$hba"
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main reload
  fi
  ensure_postgres_connections
}

# Every service replica keeps a pool, and the end-to-end tests run whole systems side by side:
# Debian's default of 100 connections runs out. 300 costs little memory on a 24 GiB machine.
ensure_postgres_connections() {
  local wanted=300 current version
  current="$(psql -h 127.0.0.1 -U postgres -tAc 'show max_connections' 2>/dev/null || echo 0)"
  if [ "${current:-0}" -ge "$wanted" ]; then return; fi
  version="$(ls /etc/postgresql | sort -V | tail -n 1)"
  log "raising PostgreSQL max_connections from $current to $wanted (restart)"
  psql -h 127.0.0.1 -U postgres -qc "alter system set max_connections = $wanted" >/dev/null
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main restart
  for _ in $(seq 1 60); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.5; done
}

ensure_rabbitmq() {
  if (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null; then return; fi
  if ! command -v rabbitmq-server >/dev/null 2>&1; then apt_install rabbitmq-server; fi
  log "starting RabbitMQ"
  as_root rabbitmq-server -detached || true
  for _ in $(seq 1 120); do (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null && return; sleep 0.5; done
  echo "RabbitMQ did not start" >&2
  exit 1
}

# The browser tests drive Debian's Chromium through Playwright (never `playwright install`:
# no browser download from anywhere but the distribution).
ensure_browser() {
  if [ -x /usr/bin/chromium ]; then return; fi
  apt_install chromium
}

# Installs Debian packages whose system services must not run (the project starts private
# instances of its own): policy-rc.d keeps them from starting while the packages install,
# and on a systemd machine the named units are disabled afterwards. Only called when the
# program was missing, so a service an operator already runs is never touched.
# Usage: install_without_services "<unit> ..." <package> ...
install_without_services() {
  local units=$1 policy=/usr/sbin/policy-rc.d own_policy=0 status=0 unit
  shift
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | as_root tee "$policy" >/dev/null
    as_root chmod 755 "$policy"
    own_policy=1
  fi
  apt_install "$@" || status=$?
  if [ "$own_policy" = 1 ]; then as_root rm -f "$policy"; fi
  if [ "$status" != 0 ]; then exit "$status"; fi
  if [ -d /run/systemd/system ]; then
    for unit in $units; do
      as_root systemctl disable --now "$unit" >/dev/null 2>&1 || true
    done
  fi
}

# The malware-scanning tests start a clamd of their own (helpdesk_testing.clamd: a local
# signature, no download); Debian's would start a system clamd and freshclam (which
# downloads the signature database).
ensure_clamav() {
  # p7zip-full: the tests build a 7z archive around the EICAR file (clamd unpacks 7z too).
  if [ -x /usr/sbin/clamd ] && command -v 7z >/dev/null; then return; fi
  install_without_services \
    "clamav-daemon.socket clamav-daemon.service clamav-freshclam.service" \
    clamav-daemon p7zip-full
}

# The mail-intake tests (and scripts/up) start private Dovecot IMAP servers of their own
# (helpdesk_testing.imap: own configuration, port and users); Debian's dovecot service,
# which would serve the machine's accounts on 143/993, is not started.
ensure_dovecot() {
  # dovecot-core alone has no IMAP service: imap-login comes with dovecot-imapd.
  if [ -x /usr/sbin/dovecot ] && [ -x /usr/lib/dovecot/imap-login ]; then return; fi
  install_without_services "dovecot.service dovecot.socket" dovecot-imapd
}

# tests/test_deployment_config.py validates docker-compose.yml with a real Compose
# implementation, offline: Debian's docker-compose (1.29, Python; `config` needs no engine).
# Without recommends: no Docker engine comes with it.
ensure_compose_checker() {
  if command -v docker-compose >/dev/null 2>&1; then return; fi
  apt_install --no-install-recommends docker-compose
}

# tests/test_monitoring.py checks the monitoring shipped in deploy/monitoring with Debian's
# tools: promtool (prometheus), amtool (prometheus-alertmanager), and starts a node exporter
# and a blackbox exporter of its own on free ports. Their system services are not started.
ensure_prometheus() {
  if command -v promtool >/dev/null 2>&1 && command -v amtool >/dev/null 2>&1 \
    && [ -x /usr/bin/prometheus-node-exporter ] && [ -x /usr/bin/prometheus-blackbox-exporter ]; then
    return
  fi
  install_without_services \
    "prometheus.service prometheus-alertmanager.service prometheus-node-exporter.service prometheus-blackbox-exporter.service" \
    prometheus prometheus-alertmanager prometheus-node-exporter prometheus-blackbox-exporter
}

# tests/test_kubernetes.py renders deploy/kubernetes with `kubectl kustomize` (offline, no
# cluster): the kubectl on the PATH (Debian's kubernetes-client if there is none), and Debian's
# kubernetes-client 1.20 unpacked under .local/ without installing it, whose old embedded
# Kustomize (v2) the manifests stay compatible with (the test compares both renders).
ensure_kubectl() {
  if ! command -v kubectl >/dev/null 2>&1; then apt_install kubernetes-client; fi
  local old="$ROOT/.local/kubernetes-client"
  if [ -x "$old/usr/bin/kubectl" ]; then return; fi
  log "unpacking Debian's kubernetes-client into $old (the old-Kustomize check)"
  local tmp
  tmp="$(mktemp -d)"
  if ! (cd "$tmp" && apt-get download kubernetes-client >/dev/null 2>&1); then
    as_root apt-get update -qq
    (cd "$tmp" && apt-get download kubernetes-client >/dev/null 2>&1)
  fi
  mkdir -p "$old"
  dpkg -x "$tmp"/kubernetes-client_*.deb "$old"
  rm -rf "$tmp"
}

ensure_infrastructure() {
  ensure_postgres
  ensure_rabbitmq
}
