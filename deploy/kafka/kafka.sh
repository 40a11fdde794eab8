#!/usr/bin/env bash
# Install and run a single-node KRaft Apache Kafka from Maven Central jars (no Docker).
#
#   kafka.sh up      resolve jars if missing, format storage once, start, wait until ready
#   kafka.sh down    SIGTERM, wait, then SIGKILL; no stray java left
#   kafka.sh logs    tail the broker log
#   kafka.sh status  exit 0 when the broker answers a metadata request
#   kafka.sh format  render the config and format storage, without starting
#   kafka.sh jars    resolve the jars if missing and print their folder
#   kafka.sh cluster-id [N]   print N (1) new random cluster ids
#   kafka.sh class CLASS ARGS...   run a Kafka tool class (ProducerPerformance, ...)
#
# Environment: KAFKA_HOME (default <repo>/.kafka), KAFKA_PORT (9092),
# KAFKA_CONTROLLER_PORT (19093), PYTHON (interpreter with the processor package,
# used for the readiness probe), KAFKA_READY_TIMEOUT_S (90), KAFKA_HEAP (1g),
# KAFKA_CLUSTER_ID (default: a random one, made once at format time).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
home="${KAFKA_HOME:-$repo/.kafka}"
port="${KAFKA_PORT:-9092}"
cport="${KAFKA_CONTROLLER_PORT:-19093}"  # 9093 is Alertmanager's
python="${PYTHON:-$repo/.venv/bin/python}"
ready_timeout="${KAFKA_READY_TIMEOUT_S:-90}"
heap="${KAFKA_HEAP:-1g}"
lib="$home/lib"
data="$home/data"
props="$home/server.properties"
pidfile="$home/kafka.pid"
logfile="$home/kafka.log"

log() { printf 'kafka: %s\n' "$*" >&2; }

running_pid() {
  [[ -f "$pidfile" ]] || return 1
  local pid
  pid="$(cat "$pidfile")"
  kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}

resolve_jars() {
  if compgen -G "$lib/kafka_2.13-*.jar" >/dev/null; then return 0; fi
  log "resolving broker jars from Maven Central into $lib"
  mkdir -p "$lib"
  mvn -q -B -f "$here/pom.xml" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$lib"
}

render_props() {
  mkdir -p "$data"
  sed -e "s#@PORT@#$port#g" -e "s#@CONTROLLER_PORT@#$cport#g" -e "s#@DATA_DIR@#$data#g" \
    "$here/server.properties.in" >"$props"
}

# A random base64url UUID that never starts with "-": the storage tool would take
# such an id for an option (1 in 64 ids did). It is also passed as --cluster-id=ID.
new_cluster_id() {
  python3 - "${1:-1}" <<'PY'
import base64, sys, uuid
for _ in range(int(sys.argv[1])):
    while (i := base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode())[0] == "-":
        pass
    print(i)
PY
}

format_storage() {
  if [[ -f "$data/meta.properties" ]]; then return 0; fi
  local id="${KAFKA_CLUSTER_ID:-$(new_cluster_id)}"
  log "formatting storage (cluster id $id)"
  java -Xmx256m -cp "$lib/*" kafka.tools.StorageTool format "--cluster-id=$id" -c "$props" \
    --ignore-formatted >/dev/null
}

probe() {
  "$python" -m processor.kafka.probe --bootstrap-servers "127.0.0.1:$port" --timeout-s "${1:-5}"
}

cmd_up() {
  if pid="$(running_pid)"; then
    if probe 5 >/dev/null 2>&1; then log "already running (pid $pid) on 127.0.0.1:$port"; return 0; fi
  fi
  local t0=$SECONDS
  resolve_jars
  render_props
  format_storage
  log "starting on 127.0.0.1:$port"
  : >"$logfile"
  # setsid: the broker outlives the shell that started it and gets no terminal signals.
  setsid java "-Xms256m" "-Xmx$heap" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
    "-Dlog4j2.configurationFile=$here/log4j2.properties" -cp "$lib/*" kafka.Kafka "$props" \
    >>"$logfile" 2>&1 </dev/null &
  echo $! >"$pidfile"
  local pid deadline=$((SECONDS + ready_timeout))
  pid="$(cat "$pidfile")"
  until probe 2 >/dev/null 2>&1; do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "java exited before the broker was ready; last lines of $logfile:"
      tail -n 40 "$logfile" >&2
      rm -f "$pidfile"
      return 1
    fi
    if ((SECONDS > deadline)); then
      log "not ready after ${ready_timeout}s; last lines of $logfile:"
      tail -n 40 "$logfile" >&2
      cmd_down
      return 1
    fi
    sleep 0.5
  done
  log "ready on 127.0.0.1:$port (pid $pid) in $((SECONDS - t0))s"
}

cmd_down() {
  local pid
  if ! pid="$(running_pid)"; then rm -f "$pidfile"; log "not running"; return 0; fi
  log "stopping pid $pid"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$pidfile"; log "stopped"; return 0; }
    sleep 0.5
  done
  log "still alive after 30s: SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$pidfile"
}

cmd_class() {
  resolve_jars
  local cls="$1"
  shift
  exec java -Xmx512m "-Dlog4j2.configurationFile=$here/log4j2.properties" -cp "$lib/*" "$cls" "$@"
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  logs) tail -n "${LINES:-100}" -f "$logfile" ;;
  status) probe 5 ;;
  format) resolve_jars; render_props; format_storage ;;
  jars) resolve_jars; echo "$lib" ;;
  cluster-id) new_cluster_id "${2:-1}" ;;
  class) shift; cmd_class "$@" ;;
  *) echo "usage: $0 up|down|logs|status|format|jars|cluster-id|class CLASS ARGS..." >&2; exit 2 ;;
esac
