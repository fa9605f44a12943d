#!/usr/bin/env bash
# Cross-node traffic, side by side with what a Mosquitto user would run instead: p2p pairs whose
# publishers and subscribers sit on the same node, then on two different nodes.
#
#   Benchmarks/cluster.sh [--duration S] [--pairs N] [--rate R] [--only ours|mosquitto] [--qos "0 1"]
#
# - ours: two nodes (one shard each) linked through one secantusdb (MongoDB wire protocol,
#   PyPI, in memory), `persistence.durability: acknowledged` (QoS 1 PUBACKs wait for the bus);
# - mosquitto: two Debian mosquitto instances, the second bridged to the first (`topic bench/# both`
#   at the scenario's QoS), the standard way to link Mosquitto brokers;
# - the raw insert rate of the same secantusdb (unordered 1,000-document batches), the ceiling
#   for the bus's documents/s.
# Throughput runs go as fast as acknowledgements allow; the latency runs hold every pair at
# --rate messages/s. Figures go to stdout; RESULTS.md records them by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=10
pairs=8
rate=200
kinds="mosquitto ours"
levels="0 1"
while [[ $# -gt 0 ]]; do
    case "$1" in
        --duration) duration="$2"; shift 2 ;;
        --pairs) pairs="$2"; shift 2 ;;
        --rate) rate="$2"; shift 2 ;;
        --only) kinds="$2"; shift 2 ;;
        --qos) levels="$2"; shift 2 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done

broker_bin="${BROKER_BIN:-$PWD/.build/release/mqtt-broker}"
bench="$PWD/.build/release/mqtt-bench"
python="${PYTHON:-$PWD/.venv/bin/python}"
secantusd="$(dirname "$python")/secantusd-py"
if [[ -z "${BROKER_BIN:-}" ]]; then swift build -c release --product mqtt-broker >/dev/null; fi
swift build -c release --product mqtt-bench >/dev/null
mosquitto_bin="$(command -v mosquitto || echo /usr/sbin/mosquitto)"
work="$(mktemp -d)"
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
    for _ in $(seq 200); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.05
    done
    echo "nothing listens on port $1" >&2
    return 1
}
stop_all() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
    pids=()
}

mongo_port="$(free_port)"
start_mongo() {
    "$secantusd" --host 127.0.0.1 --port "$mongo_port" --storage-path :memory: >"$work/mongo.log" 2>&1 &
    mongo_pid=$!
    wait_port "$mongo_port"
}
start_mongo
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; kill -INT "$mongo_pid" 2>/dev/null || true; rm -rf "$work"' EXIT
mongo_url="mongodb://127.0.0.1:$mongo_port/?directConnection=true"

# ours_nodes DATABASE: two cluster nodes; sets $port_a $port_b.
ours_nodes() {
    local database="$1"
    port_a="$(free_port)"
    port_b="$(free_port)"
    for node in a b; do
        local port
        port="$([[ $node == a ]] && echo "$port_a" || echo "$port_b")"
        cat > "$work/$node.yaml" <<CONF
listeners: [{protocol: mqtt, host: 127.0.0.1, port: $port}]
shards: 1
log: {level: warning}
limits: {max_inflight_messages: 20, max_queued_messages: 1000}
persistence: {type: mongodb, url: "$mongo_url", database: $database}
cluster: {node_id: $node}
CONF
        "$broker_bin" --config "$work/$node.yaml" >"$work/$node.log" 2>&1 &
        pids+=($!)
        wait_port "$port"
    done
}

# mosquitto_nodes QOS: b bridged to a; sets $port_a $port_b.
mosquitto_nodes() {
    local qos="$1"
    port_a="$(free_port)"
    port_b="$(free_port)"
    chmod 755 "$work"
    for node in a b; do
        local port
        port="$([[ $node == a ]] && echo "$port_a" || echo "$port_b")"
        {
            echo "listener $port 127.0.0.1"
            echo "allow_anonymous true"
            echo "persistence false"
            echo "max_inflight_messages 20"
            echo "max_queued_messages 1000"
            echo "set_tcp_nodelay true"
            echo "log_dest none"
            if [[ $node == b ]]; then
                echo "connection to-a"
                echo "address 127.0.0.1:$port_a"
                echo "topic bench/# both $qos"
                echo "cleansession true"
            fi
        } > "$work/mosquitto-$node.conf"
        "$mosquitto_bin" -c "$work/mosquitto-$node.conf" >/dev/null 2>&1 &
        pids+=($!)
        wait_port "$port"
    done
    sleep 1 # the bridge connects
}

field() { python3 -c 'import sys; f=dict(kv.split("=",1) for kv in sys.argv[2].split() if "=" in kv); print(f.get(sys.argv[1],""))' "$1" "$2"; }

# measure KIND QOS WHERE [RATE]: one mqtt-bench p2p run (WHERE: same|cross), printed as a row.
measure() {
    local kind="$1" qos="$2" where="$3" per_pair="${4:-0}"
    if [[ $kind == ours ]]; then ours_nodes "bench_$RANDOM"; else mosquitto_nodes "$qos"; fi
    local sub_port="$port_a"
    [[ $where == cross ]] && sub_port="$port_b"
    local line
    # Publishers on node a; subscribers on a (same) or b (cross).
    line="$("$bench" --scenario p2p --publishers "$pairs" --qos "$qos" --payload 64 --port "$port_a" --sub-port "$sub_port" \
        --duration "$duration" --rate "$per_pair" | tail -1)"
    stop_all
    printf '%-9s q%s %-5s %-11s sent/s=%-8s delivered/s=%-8s p50_us=%-7s p99_us=%s\n' "$kind" "$qos" "$where" \
        "$([[ $per_pair == 0 ]] && echo max || echo "${per_pair}/s/pair")" \
        "$(field sent/s "$line")" "$(field delivered/s "$line")" "$(field p50_us "$line")" "$(field p99_us "$line")"
}

echo "p2p, $pairs pairs, 64-byte payloads, ${duration}s per run; publishers on node a, subscribers on node a (same) or b (cross)"
for qos in $levels; do
    for kind in $kinds; do
        for where in same cross; do
            measure "$kind" "$qos" "$where"
            measure "$kind" "$qos" "$where" "$rate"
        done
    done
done

# The bus's ceiling on this server: plain unordered inserts of bus-sized documents.
echo "raw secantusdb insert rate (queue-entry-shaped documents, 64-byte payload, 1,000-document unordered batches):"
"$python" Benchmarks/mongo_insert_limit.py "$mongo_url" bench_limit 5 64
