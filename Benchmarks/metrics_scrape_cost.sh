#!/usr/bin/env bash
# What one /metrics scrape costs the broker, in CPU time: a broker with `--shards N` (default 2)
# holding 2,000 idle clients (mqtt-bench), its CPU time (utime + stime) over 1,000 scrapes made
# back to back, minus what it spends idle over the same wall time. Scrapes are served by the
# metrics listener's own thread; the shards only publish their counters every 500 ms, scraped
# or not, so this is the whole cost of being scraped.
#
#   Benchmarks/metrics_scrape_cost.sh [--shards N]
set -euo pipefail
cd "$(dirname "$0")/.."
shards=2
[[ "${1:-}" == "--shards" ]] && shards="$2"
swift build -c release --product mqtt-broker >/dev/null
swift build -c release --product mqtt-bench >/dev/null
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port="$(free_port)"
metrics_port="$(free_port)"
work="$(mktemp -d)"
pid="" bench=""
trap '[[ -n "$bench" ]] && kill "$bench" 2>/dev/null; [[ -n "$pid" ]] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
cat > "$work/broker.yaml" <<CONF
listeners: [{protocol: mqtt, host: 127.0.0.1, port: $port}]
shards: $shards
log: {level: warning}
metrics: {host: 127.0.0.1, port: $metrics_port}
CONF
.build/release/mqtt-broker --config "$work/broker.yaml" >/dev/null 2>&1 &
pid=$!
sleep 1
.build/release/mqtt-bench --port "$port" --scenario idle --connections 2000 --threads 1 --duration 120 >/dev/null 2>&1 &
bench=$!
sleep 8
ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
now() { date +%s.%N; }
hz="$(getconf CLK_TCK)"
t0="$(ticks)" s0="$(now)"
sleep 5
t1="$(ticks)" s1="$(now)"
size="$(python3 - "$metrics_port" <<'PY'
import sys, urllib.request
for _ in range(1000):
    with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/metrics") as response:
        size = len(response.read())
print(size)
PY
)"
t2="$(ticks)" s2="$(now)"
python3 -c "
idle = ($t1 - $t0) / $hz / ($s1 - $s0)
busy, wall = ($t2 - $t1) / $hz, $s2 - $s1
per = (busy - idle * wall) / 1000
print(f'shards=$shards exposition_bytes=$size scrapes=1000 wall_s={wall:.2f} broker_cpu_s={busy:.3f} idle_cpu_ms_per_s={idle * 1000:.2f}')
print(f'per_scrape_cpu_us={per * 1e6:.0f} at_one_scrape_per_s_pct_of_a_core={per * 100:.4f}')"
