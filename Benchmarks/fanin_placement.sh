#!/usr/bin/env bash
# Fan-in QoS 0 (4 publishers, 1 subscriber, 2 shards) run N times on fresh brokers with a
# metrics listener, printing delivered/s and, per shard, clients, messages sent and dropped,
# loop lag and outbound bytes read from /metrics near the end of each run: which shard the
# subscriber landed on (the one that sent) and with whom.
#
#   Benchmarks/fanin_placement.sh [RUNS]    (env: BROKER=binary, DURATION=s, EXTRA="--mqtt5 ...")
cd "$(dirname "$0")/.."
swift build -c release --product mqtt-bench >/dev/null
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for i in $(seq 1 ${1:-10}); do
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  mport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  printf 'listeners: [{protocol: mqtt, host: 127.0.0.1, port: %s}]\nshards: 2\nlog: {level: warning}\nmetrics: {host: 127.0.0.1, port: %s}\n' $port $mport > "$work/fanin.yaml"
  ${BROKER:-.build/release/mqtt-broker} --config "$work/fanin.yaml" > /dev/null 2>&1 & pid=$!
  sleep 0.5
  .build/release/mqtt-bench --port $port --scenario fanin --publishers 4 --subscribers 1 --qos 0 --duration ${DURATION:-3} ${EXTRA:-} > "$work/fanin.out" &
  bench=$!
  sleep $(python3 -c "print(${DURATION:-3} - 0.5)")
  m=$(curl -s http://127.0.0.1:$mport/metrics)
  wait $bench
  d=$(grep -o 'delivered/s=[0-9]*' "$work/fanin.out")
  c=$(echo "$m" | grep '^mqtt_clients_connected{' | awk '{print $2}' | tr '\n' '/')
  s=$(echo "$m" | grep '^mqtt_messages_sent_total{' | awk '{print $2}' | tr '\n' '/')
  dr=$(echo "$m" | grep '^mqtt_messages_dropped_total{' | awk '{print $2}' | tr '\n' '/')
  lag=$(echo "$m" | grep '^mqtt_loop_lag_max_seconds{' | awk '{print $2}' | tr '\n' '/')
  ob=$(echo "$m" | grep '^mqtt_outbound_bytes{' | awk '{print $2}' | tr '\n' '/')
  echo "$d clients=$c sent=$s dropped=$dr lagmax=$lag outbound=$ob"
  kill $pid; wait $pid 2>/dev/null
done
