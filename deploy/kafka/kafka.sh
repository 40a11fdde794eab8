#!/usr/bin/env bash
# Install and run a local KRaft Apache Kafka from Maven Central jars (no Docker).
#
#   kafka.sh up      resolve jars if missing, format storage once, start, wait until ready
#   kafka.sh down    SIGTERM, wait, then SIGKILL; no stray java left
#   kafka.sh logs    tail the broker log (node 1 in cluster mode)
#   kafka.sh status  exit 0 when the broker(s) answer a metadata request
#   kafka.sh env     print the PROCESSOR_KAFKA_* settings a client needs for this broker
#   kafka.sh format  render the config and format storage, without starting
#   kafka.sh jars    resolve the jars if missing and print their folder
#   kafka.sh cluster-id [N]   print N (1) new random cluster ids
#   kafka.sh node-start|node-stop|node-kill N   one node of the cluster (kill = SIGKILL)
#   kafka.sh class CLASS ARGS...   run a Kafka tool class (ProducerPerformance, ...)
#
# KAFKA_MODE picks the layout (defaults in brackets):
#   single   one PLAINTEXT node: KAFKA_HOME [<repo>/.kafka], KAFKA_PORT [9092],
#            KAFKA_CONTROLLER_PORT [19093] (9093 is Alertmanager's)
#   secure   one node, SASL_SSL (SCRAM-SHA-512/256, PLAIN) on KAFKA_PORT [29092] and
#            mutual TLS on KAFKA_MTLS_PORT [29094], controller [29093]; a local CA, the
#            broker and a client certificate made with openssl into $KAFKA_HOME/tls, SCRAM
#            users admin (inter-broker) and recho (clients) with random passwords in
#            $KAFKA_HOME/secrets [<repo>/.kafka-secure]
#   cluster  three combined broker+controller JVMs, one quorum: brokers on KAFKA_PORT..+2
#            [29192-29194], controllers on KAFKA_CONTROLLER_PORT..+2 [29292-29294],
#            RF 3 and min.insync.replicas 2 for internal topics [<repo>/.kafka-cluster]
# Also: PYTHON (interpreter with the processor package, used for the readiness probe),
# KAFKA_READY_TIMEOUT_S (90), KAFKA_HEAP (single 1g, secure 512m, cluster 384m per node),
# KAFKA_LIB (jar folder; default $KAFKA_HOME/lib, shared <repo>/.kafka/lib for secure and
# cluster), KAFKA_CLUSTER_ID (default: a random one, made once at format time).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
mode="${KAFKA_MODE:-single}"
case "$mode" in
  single) d_home="$repo/.kafka" d_port=9092 d_cport=19093 d_heap=1g nodes=1 ;;
  secure) d_home="$repo/.kafka-secure" d_port=29092 d_cport=29093 d_heap=512m nodes=1 ;;
  cluster) d_home="$repo/.kafka-cluster" d_port=29192 d_cport=29292 d_heap=384m nodes=3 ;;
  *) echo "kafka.sh: KAFKA_MODE must be single, secure or cluster" >&2; exit 2 ;;
esac
home="${KAFKA_HOME:-$d_home}"
port="${KAFKA_PORT:-$d_port}"
cport="${KAFKA_CONTROLLER_PORT:-$d_cport}"
mtls_port="${KAFKA_MTLS_PORT:-$((port + 2))}"
python="${PYTHON:-$repo/.venv/bin/python}"
ready_timeout="${KAFKA_READY_TIMEOUT_S:-90}"
heap="${KAFKA_HEAP:-$d_heap}"
if [[ -n "${KAFKA_LIB:-}" ]]; then lib="$KAFKA_LIB"
elif [[ "$mode" == single || -n "${KAFKA_HOME:-}" ]]; then lib="$home/lib"
else lib="$repo/.kafka/lib"
fi
tls="$home/tls"
secrets="$home/secrets"

log() { printf 'kafka: %s\n' "$*" >&2; }

# Per-node paths: the single and secure layouts keep everything in $home.
node_dir() { if [[ "$mode" == cluster ]]; then echo "$home/node$1"; else echo "$home"; fi; }
node_port() { echo $((port + $1 - 1)); }
node_cport() { echo $((cport + $1 - 1)); }
bootstrap() {
  local i servers=""
  for i in $(seq 1 "$nodes"); do servers+="${servers:+,}127.0.0.1:$(node_port "$i")"; done
  echo "$servers"
}

running_pid() {
  local pidfile pid
  pidfile="$(node_dir "$1")/kafka.pid"
  [[ -f "$pidfile" ]] || return 1
  pid="$(cat "$pidfile")"
  kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}

resolve_jars() {
  if compgen -G "$lib/kafka_2.13-*.jar" >/dev/null; then return 0; fi
  log "resolving broker jars from Maven Central into $lib"
  mkdir -p "$lib"
  # stdout is kept for this script's own answers (`kafka.sh jars` prints the folder):
  # Maven's output, and the colour codes it writes even with -q, go to stderr.
  mvn -q -B -Dstyle.color=never -f "$here/pom.xml" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$lib" >&2
}

# The settings a processor client needs for this broker, one NAME=value a line.
client_env() {
  echo "PROCESSOR_KAFKA_BOOTSTRAP_SERVERS=$(bootstrap)"
  if [[ "$mode" == secure ]]; then
    echo "PROCESSOR_KAFKA_SECURITY_PROTOCOL=SASL_SSL"
    echo "PROCESSOR_KAFKA_SASL_MECHANISM=SCRAM-SHA-512"
    echo "PROCESSOR_KAFKA_SASL_USERNAME=recho"
    echo "PROCESSOR_KAFKA_SASL_PASSWORD_FILE=$secrets/recho.password"
    echo "PROCESSOR_KAFKA_SSL_CA_FILE=$tls/ca.pem"
  else
    echo "PROCESSOR_KAFKA_SECURITY_PROTOCOL=PLAINTEXT"
  fi
}

new_password() { python3 -c 'import secrets; print(secrets.token_urlsafe(24))'; }

# A local CA, a broker certificate for 127.0.0.1/localhost and a client certificate
# for mutual TLS; unencrypted PKCS#8 keys, readable by the owner only.
make_tls() {
  if [[ -f "$tls/broker-keystore.pem" ]]; then return 0; fi
  log "making a local CA and certificates in $tls"
  mkdir -p "$tls"
  chmod 700 "$tls"
  (
    cd "$tls"
    umask 077
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 825 \
      -subj "/CN=recho local Kafka CA" -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    for name in broker client; do
      local cn=localhost san="subjectAltName=IP:127.0.0.1,DNS:localhost"
      [[ "$name" == client ]] && cn=recho-processor san="subjectAltName=DNS:recho-processor"
      openssl req -newkey rsa:2048 -nodes -keyout "$name.key" -out "$name.csr" \
        -subj "/CN=$cn" 2>/dev/null
      printf '%s\nextendedKeyUsage=serverAuth,clientAuth\n' "$san" >"$name.ext"
      openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca.key -CAcreateserial \
        -days 825 -sha256 -extfile "$name.ext" -out "$name.pem" 2>/dev/null
      rm -f "$name.csr" "$name.ext"
    done
    cat broker.key broker.pem ca.pem >broker-keystore.pem
    chmod 644 ca.pem
  )
}

make_secrets() {
  mkdir -p "$secrets"
  chmod 700 "$secrets"
  local user
  for user in admin recho; do
    [[ -f "$secrets/$user.password" ]] || (umask 077 && new_password >"$secrets/$user.password")
  done
}

render_props() {
  local i dir
  for i in $(seq 1 "$nodes"); do
    dir="$(node_dir "$i")"
    mkdir -p "$dir/data"
    case "$mode" in
      single)
        sed -e "s#@PORT@#$port#g" -e "s#@CONTROLLER_PORT@#$cport#g" -e "s#@DATA_DIR@#$dir/data#g" \
          "$here/server.properties.in" >"$dir/server.properties"
        ;;
      secure)
        (umask 077 && sed -e "s#@PORT@#$port#g" -e "s#@CONTROLLER_PORT@#$cport#g" \
          -e "s#@MTLS_PORT@#$mtls_port#g" -e "s#@DATA_DIR@#$dir/data#g" -e "s#@TLS_DIR@#$tls#g" \
          -e "s#@ADMIN_PASSWORD@#$(cat "$secrets/admin.password")#g" -e "s#@CLIENT_USER@#recho#g" \
          -e "s#@CLIENT_PASSWORD@#$(cat "$secrets/recho.password")#g" \
          "$here/server-secure.properties.in" >"$dir/server.properties")
        ;;
      cluster)
        local voters="" j
        for j in $(seq 1 "$nodes"); do voters+="${voters:+,}$j@127.0.0.1:$(node_cport "$j")"; done
        sed -e "s#@NODE_ID@#$i#g" -e "s#@PORT@#$(node_port "$i")#g" \
          -e "s#@CONTROLLER_PORT@#$(node_cport "$i")#g" -e "s#@VOTERS@#$voters#g" \
          -e "s#@DATA_DIR@#$dir/data#g" "$here/server-cluster.properties.in" >"$dir/server.properties"
        ;;
    esac
  done
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
  local i dir id="${KAFKA_CLUSTER_ID:-$(new_cluster_id)}" extra=()
  if [[ "$mode" == secure ]]; then
    # SCRAM credentials go into the first metadata, so inter-broker SASL works at once.
    extra=(--add-scram "SCRAM-SHA-512=[name=admin,password=$(cat "$secrets/admin.password")]"
      --add-scram "SCRAM-SHA-512=[name=recho,password=$(cat "$secrets/recho.password")]"
      --add-scram "SCRAM-SHA-256=[name=recho,password=$(cat "$secrets/recho.password")]")
  fi
  for i in $(seq 1 "$nodes"); do
    dir="$(node_dir "$i")"
    if [[ -f "$dir/data/meta.properties" ]]; then continue; fi
    log "formatting storage of node $i (cluster id $id)"
    java -Xmx256m -cp "$lib/*" kafka.tools.StorageTool format "--cluster-id=$id" \
      -c "$dir/server.properties" --ignore-formatted "${extra[@]}" >/dev/null
  done
}

prepare() {
  resolve_jars
  if [[ "$mode" == secure ]]; then make_tls; make_secrets; fi
  render_props
  format_storage
}

probe() {
  local vars=() line
  while IFS= read -r line; do vars+=("$line"); done < <(client_env)
  env -u PROCESSOR_KAFKA_SASL_PASSWORD -u PROCESSOR_KAFKA_SSL_CERT_FILE \
    -u PROCESSOR_KAFKA_SSL_KEY_FILE -u PROCESSOR_KAFKA_SSL_KEY_PASSWORD \
    -u PROCESSOR_KAFKA_SASL_USERNAME -u PROCESSOR_KAFKA_SASL_PASSWORD_FILE \
    -u PROCESSOR_KAFKA_SSL_CA_FILE -u PROCESSOR_KAFKA_SSL_CHECK_HOSTNAME "${vars[@]}" \
    "$python" -m processor.kafka.probe --timeout-s "${1:-5}" --min-brokers "${2:-$nodes}"
}

start_node() {
  local i="$1" dir
  dir="$(node_dir "$i")"
  : >"$dir/kafka.log"
  # setsid: the broker outlives the shell that started it and gets no terminal signals.
  setsid java "-Xms128m" "-Xmx$heap" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -Djava.awt.headless=true "-Dlog4j2.configurationFile=$here/log4j2.properties" \
    -cp "$lib/*" kafka.Kafka "$dir/server.properties" >>"$dir/kafka.log" 2>&1 </dev/null &
  echo $! >"$dir/kafka.pid"
}

# Wait until every node answers and lists itself; fail fast if a java process exits.
wait_ready() {
  local deadline=$((SECONDS + ready_timeout)) i pid dir
  until probe 2 >/dev/null 2>&1; do
    for i in $(seq 1 "$nodes"); do
      dir="$(node_dir "$i")"
      [[ -f "$dir/kafka.pid" ]] || continue
      pid="$(cat "$dir/kafka.pid")"
      if ! kill -0 "$pid" 2>/dev/null; then
        log "java of node $i exited before the broker was ready; last lines of $dir/kafka.log:"
        tail -n 40 "$dir/kafka.log" >&2
        rm -f "$dir/kafka.pid"
        return 1
      fi
    done
    if ((SECONDS > deadline)); then
      log "not ready after ${ready_timeout}s; last lines of $(node_dir 1)/kafka.log:"
      tail -n 40 "$(node_dir 1)/kafka.log" >&2
      cmd_down
      return 1
    fi
    sleep 0.5
  done
}

cmd_up() {
  local i all_up=1
  for i in $(seq 1 "$nodes"); do running_pid "$i" >/dev/null || all_up=0; done
  if ((all_up)) && probe 5 >/dev/null 2>&1; then
    log "already running ($mode) on $(bootstrap)"
    return 0
  fi
  local t0=$SECONDS
  prepare
  log "starting ($mode) on $(bootstrap)"
  for i in $(seq 1 "$nodes"); do running_pid "$i" >/dev/null || start_node "$i"; done
  wait_ready
  log "ready ($mode) on $(bootstrap) in $((SECONDS - t0))s"
}

stop_node() {
  local i="$1" signal="${2:-TERM}" pid dir
  dir="$(node_dir "$i")"
  if ! pid="$(running_pid "$i")"; then rm -f "$dir/kafka.pid"; return 0; fi
  log "stopping node $i (pid $pid) with SIG$signal"
  kill "-$signal" "$pid" 2>/dev/null || true
  for _ in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$dir/kafka.pid"; return 0; }
    sleep 0.5
  done
  log "node $i still alive after 30s: SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$dir/kafka.pid"
}

cmd_down() {
  local i
  # In parallel: a node waiting for its peers' quorum to stop would otherwise stall.
  for i in $(seq 1 "$nodes"); do stop_node "$i" & done
  wait
  log "stopped"
}

cmd_node() {
  local action="$1" i="${2:?node number}"
  ((i >= 1 && i <= nodes)) || { log "node must be 1..$nodes"; return 2; }
  case "$action" in
    node-start) prepare; running_pid "$i" >/dev/null || start_node "$i"; wait_ready ;;
    node-stop) stop_node "$i" TERM ;;
    node-kill) stop_node "$i" KILL ;;
  esac
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
  logs) tail -n "${LINES:-100}" -f "$(node_dir 1)/kafka.log" ;;
  status) probe 5 ;;
  env) client_env | sed 's/^/export /' ;;
  format) prepare ;;
  jars) resolve_jars; echo "$lib" ;;
  cluster-id) new_cluster_id "${2:-1}" ;;
  node-start | node-stop | node-kill) cmd_node "$1" "${2:-}" ;;
  class) shift; cmd_class "$@" ;;
  *)
    echo "usage: $0 up|down|logs|status|env|format|jars|cluster-id|node-start|node-stop|node-kill N|class CLASS ARGS..." >&2
    exit 2
    ;;
esac
