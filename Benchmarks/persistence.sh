#!/usr/bin/env bash
# MongoDB persistence figures (issue 13), against secantusdb (pip, in .venv) on a free port with
# its data in a folder, side by side with Debian's mosquitto in the same run:
#   1. the limit: plain unordered bulk inserts of queue-entry documents from pymongo;
#   2. QoS 1 fan-in into one offline persistent session (durability acknowledged: every PUBACK
#      waits for MongoDB), ours vs mosquitto with `persistence true`;
#   3. clean-session scenarios of compare.sh with persistence on and off (nothing should change).
#
#   Benchmarks/persistence.sh [--duration S] [--publishers P] [--skip-compare]
set -euo pipefail
cd "$(dirname "$0")/.."
duration=10
publishers=8
skip_compare=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        --duration) duration="$2"; shift 2 ;;
        --publishers) publishers="$2"; shift 2 ;;
        --skip-compare) skip_compare=1; shift ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
broker_bin="${BROKER_BIN:-$PWD/.build/release/mqtt-broker}"
bench="$PWD/.build/release/mqtt-bench"
[[ -z "${BROKER_BIN:-}" ]] && swift build -c release --product mqtt-broker >/dev/null
swift build -c release --product mqtt-bench >/dev/null
mosquitto_bin="$(command -v mosquitto || echo /usr/sbin/mosquitto)"
python=.venv/bin/python
work="$(mktemp -d)"
chmod 777 "$work"
pids=()
# secantusd stops on SIGINT (it can sit on SIGTERM for a long time).
trap 'for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done; sleep 1; for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
    for _ in $(seq 300); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done
    echo "nothing listens on $1" >&2; return 1
}
field() { python3 -c 'import sys; f=dict(kv.split("=",1) for kv in sys.argv[2].split() if "=" in kv); print(f.get(sys.argv[1],""))' "$1" "$2"; }

mongo_port="$(free_port)"
.venv/bin/secantusd-py --host 127.0.0.1 --port "$mongo_port" --storage-path "$work/mongo" >"$work/mongo.log" 2>&1 &
pids+=($!)
wait_port "$mongo_port"
url="mongodb://127.0.0.1:$mongo_port/?directConnection=true"

limit="$(field inserts/s "$($python Benchmarks/mongo_insert_limit.py "$url" limit "$duration" 16)")"

# fanin_offline KIND: QoS 1 publishers into one offline persistent session; prints sent/s
# (with a window of 20, the rate of PUBACKs).
fanin_offline() {
    local kind="$1" port pid
    port="$(free_port)"
    if [[ "$kind" == mosquitto ]]; then
        cat > "$work/mosquitto.conf" <<CONF
listener $port 127.0.0.1
allow_anonymous true
persistence true
persistence_location $work/
max_inflight_messages 20
max_queued_messages 100000000
log_dest none
CONF
        "$mosquitto_bin" -c "$work/mosquitto.conf" >/dev/null 2>&1 &
    else
        cat > "$work/ours.yaml" <<CONF
listeners: [{protocol: mqtt, host: 127.0.0.1, port: $port}]
shards: 2
log: {level: warning}
limits: {max_queued_messages: 100000000}
persistence: {type: mongodb, url: "$url", database: fanin_$RANDOM, durability: ${DURABILITY:-acknowledged}}
CONF
        "$broker_bin" --config "$work/ours.yaml" >"$work/ours.log" 2>&1 &
    fi
    pid=$!
    pids+=("$pid")
    wait_port "$port"
    mosquitto_sub -p "$port" -i bench-offline -c -q 1 -t bench/fanin -E
    "$bench" --port "$port" --scenario fanin --publishers "$publishers" --subscribers 0 --qos 1 --window 20 \
        --payload 16 --duration "$duration" | tail -1
    kill "$pid"; wait "$pid" 2>/dev/null || true
}
m="$(fanin_offline mosquitto)"
o="$(fanin_offline ours)"
printf '%-44s %12s\n' "MongoDB limit (pymongo bulk inserts, docs/s)" "$limit"
printf '%-44s %12s %12s %8s\n' "QoS 1 fan-in to an offline session" mosquitto ours "ours/limit"
printf '%-44s %12s %12s %8s\n' "  PUBACKs/s ($publishers publishers, window 20)" "$(field sent/s "$m")" "$(field sent/s "$o")" \
    "$(python3 -c "print(f'{float(\"$(field sent/s "$o")\" or 0)/float(\"$limit\"):.2f}')")"

if [[ $skip_compare -eq 0 ]]; then
    echo "clean sessions, persistence off:"
    Benchmarks/compare.sh --duration "$duration" --only "fanin-q0 fanin-q1 p2p-q0"
    echo "clean sessions, persistence on (MongoDB, acknowledged):"
    OURS_CONFIG_EXTRA="persistence: {type: mongodb, url: \"$url\", database: clean_$RANDOM}" \
        Benchmarks/compare.sh --duration "$duration" --only "fanin-q0 fanin-q1 p2p-q0"
fi
