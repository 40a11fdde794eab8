#!/usr/bin/env bash
# Install the Prometheus tools the deploy/ tests need: promtool (Debian package
# `prometheus`) and Alertmanager with amtool (Debian package `prometheus-alertmanager`);
# for the explorer's tests, PostgreSQL (`postgresql`) and a headless browser
# (`chromium`, `chromium-driver`).
#
# Idempotent: installs only what is missing, runs `apt-get update` at most once,
# and prints the versions. Debian's postinst may start the Prometheus or
# Alertmanager server on hosts where services can run; the tests only need the
# binaries, so service starts are refused during the install (policy-rc.d) and
# any server the install started all the same is stopped again (a Prometheus
# left on :9090 would clash with a real one). Servers running before are left alone.
set -euo pipefail

log() { printf 'install-tools: %s\n' "$*" >&2; }

have() { command -v "$1" >/dev/null 2>&1; }

SUDO=()
((EUID == 0)) || SUDO=(sudo)

alertmanager_bin() {
  if have prometheus-alertmanager; then echo prometheus-alertmanager
  elif have alertmanager; then echo alertmanager
  fi
}

# Pids of the servers a Debian postinst may have started (not promtool/amtool runs).
server_pids() {
  local pid exe
  for pid in /proc/[0-9]*; do
    pid="${pid#/proc/}"
    exe="$(readlink "/proc/$pid/exe" 2>/dev/null || true)"
    case "$exe" in
      /usr/bin/prometheus | /usr/bin/prometheus-alertmanager) echo "$pid" ;;
    esac
  done
}

# Stop the servers that were not running before the install (never the user's own).
stop_new_servers() {
  local before=" $* " pid pids=()
  for pid in $(server_pids); do
    [[ "$before" == *" $pid "* ]] || pids+=("$pid")
  done
  ((${#pids[@]})) || return 0
  log "stopping servers started by the package install: ${pids[*]}"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for _ in $(seq 50); do
    local alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    ((alive)) || return 0
    sleep 0.1
  done
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
}

install_missing() {
  local wanted=()
  have promtool || wanted+=(prometheus)
  # The explorer's tests: a real PostgreSQL server and a headless browser.
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || wanted+=(postgresql)
  have chromium || wanted+=(chromium)
  have chromedriver || wanted+=(chromium-driver)
  [[ -n "$(alertmanager_bin)" ]] && have amtool || wanted+=(prometheus-alertmanager)
  if ((${#wanted[@]} == 0)); then
    log "promtool, alertmanager, postgresql and chromium already installed"
    return 0
  fi
  log "installing ${wanted[*]}"
  "${SUDO[@]}" apt-get update -qq
  # No services may be started from a package script here: policy-rc.d answers
  # "forbidden" (101) for the duration of the install.
  local policy=/usr/sbin/policy-rc.d
  if [[ ! -e "$policy" ]]; then
    printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$policy" >/dev/null
    "${SUDO[@]}" chmod 755 "$policy"
    trap "${SUDO[*]} rm -f $policy" EXIT
  fi
  local running
  running="$(server_pids | tr '\n' ' ')"
  DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq --no-install-recommends \
    "${wanted[@]}" >/dev/null
  # shellcheck disable=SC2086 # a list of pids
  stop_new_servers $running
}

install_missing

promtool --version 2>&1 | head -n 1
"$(alertmanager_bin)" --version 2>&1 | head -n 1
amtool --version 2>&1 | head -n 1
