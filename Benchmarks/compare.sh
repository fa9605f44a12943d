#!/usr/bin/env bash
# Side-by-side benchmark: each scenario runs against Debian's mosquitto and against this broker,
# each time on a fresh broker on a free loopback port with equivalent settings, and prints a
# table with both figures and the ratio (ours / mosquitto).
#
#   Benchmarks/compare.sh [--duration S] [--shards N] [--rounds N] [--only "fanin-q0 p2p-q0 ..."]
#                         [--metrics-scraped] [--smoke]
#
# --rounds N runs each throughput/connect scenario N times, alternating the two brokers, and
# prints the medians, then the minimum and maximum of the runs (rows `min …`, `max …`).
# --metrics-scraped compares this broker with itself instead: metrics off (left column)
# against a `metrics:` listener scraped every second by curl, as Prometheus would (right
# column).
#
# BROKER_CPUS and BENCH_CPUS (taskset lists, e.g. 1 and 0) pin every broker and the load
# generator to those CPUs, so that on a small machine the two do not take each other's core
# (latency points with one shard: BROKER_CPUS=1 BENCH_CPUS=0 --shards 1).
#
# OURS_CONFIG_EXTRA (YAML lines) is appended to this broker's configuration (persistence.sh
# sets MongoDB persistence with it).
# --smoke runs a second of fan-in, fan-out and a shared group against this broker only and fails unless
# messages flowed (CI runs it). Figures go to stdout; RESULTS.md records them by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=10
shards=2
only=""
smoke=0
rounds=1
left=mosquitto
right=ours
while [[ $# -gt 0 ]]; do
    case "$1" in
        --duration) duration="$2"; shift 2 ;;
        --shards) shards="$2"; shift 2 ;;
        --only) only="$2"; shift 2 ;;
        --smoke) smoke=1; shift ;;
        --rounds) rounds="$2"; shift 2 ;;
        --metrics-scraped) left=ours; right=ours-scraped; shift ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done

broker_bin="${BROKER_BIN:-$PWD/.build/release/mqtt-broker}"
bench="$PWD/.build/release/mqtt-bench"
if [[ -z "${BROKER_BIN:-}" ]]; then swift build -c release --product mqtt-broker >/dev/null; fi
swift build -c release --product mqtt-bench >/dev/null
mosquitto_bin="$(command -v mosquitto || echo /usr/sbin/mosquitto)"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
pin_broker=() pin_bench=()
[[ -n "${BROKER_CPUS:-}" ]] && pin_broker=(taskset -c "$BROKER_CPUS")
[[ -n "${BENCH_CPUS:-}" ]] && pin_bench=(taskset -c "$BENCH_CPUS")
work="$(mktemp -d)"
pid=""
scraper=""
trap '[[ -n "$pid" ]] && kill "$pid" 2>/dev/null; [[ -n "$scraper" ]] && kill "$scraper" 2>/dev/null; rm -rf "$work"' EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_port() {
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.05
    done
    echo "broker did not start on port $1" >&2
    return 1
}

# A throw-away certificate for the TLS scenarios.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -keyout "$work/server.key" -out "$work/server.crt" -subj /CN=localhost >/dev/null 2>&1
# Run as root, mosquitto drops to its own user: let it read the throw-away key.
chmod 755 "$work"
chmod 644 "$work/server.key"

# start_broker mosquitto|ours|ours-scraped PORT [tls]: sets $pid (and $scraper: a loop that
# fetches /metrics every second, for ours-scraped).
start_broker() {
    local kind="$1" port="$2" tls="${3:-}" users="${4:-}"
    if [[ "$kind" == mosquitto ]]; then
        local tls_lines=""
        [[ -n "$tls" ]] && tls_lines=$'certfile '"$work/server.crt"$'\nkeyfile '"$work/server.key"
        if [[ -n "$users" ]]; then
            mosquitto_passwd -b -c "$work/mosquitto.passwd" bench bench-pw
            chmod 644 "$work/mosquitto.passwd"
            tls_lines+=$'\npassword_file '"$work/mosquitto.passwd"
        fi
        cat > "$work/mosquitto.conf" <<CONF
listener $port 127.0.0.1
$tls_lines
allow_anonymous true
persistence false
max_inflight_messages 20
max_queued_messages 1000
set_tcp_nodelay true
log_dest none
CONF
        "${pin_broker[@]}" "$mosquitto_bin" -c "$work/mosquitto.conf" >/dev/null 2>&1 &
    else
        local listener="{protocol: mqtt, host: 127.0.0.1, port: $port}"
        [[ -n "$tls" ]] && listener="{protocol: mqtts, host: 127.0.0.1, port: $port, tls: {cert: $work/server.crt, key: $work/server.key}}"
        local metrics_port="" metrics_line=""
        if [[ "$kind" == ours-scraped ]]; then
            metrics_port="$(free_port)"
            metrics_line="metrics: {host: 127.0.0.1, port: $metrics_port}"
        fi
        local users_line=""
        [[ -n "$users" ]] && users_line="auth: {internal_users: [{username: bench, password: '$(printf bench-pw | "$broker_bin" passwd)'}]}"
        cat > "$work/ours.yaml" <<CONF
listeners: [$listener]
shards: $shards
log: {level: warning}
$metrics_line
$users_line
${OURS_CONFIG_EXTRA:-}
CONF
        "${pin_broker[@]}" "$broker_bin" --config "$work/ours.yaml" >/dev/null 2>&1 &
    fi
    pid=$!
    wait_port "$port"
    if [[ "$kind" == ours-scraped ]]; then
        (while curl -fsS -o /dev/null "http://127.0.0.1:$metrics_port/metrics"; do sleep 1; done) &
        scraper=$!
    fi
}

stop_broker() {
    if [[ -n "$scraper" ]]; then kill "$scraper" 2>/dev/null || true; wait "$scraper" 2>/dev/null || true; scraper=""; fi
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    pid=""
}

rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

# field NAME LINE: the value of NAME=... in an mqtt-bench result line.
field() { python3 -c 'import sys; f=dict(kv.split("=",1) for kv in sys.argv[2].split() if "=" in kv); print(f.get(sys.argv[1],""))' "$1" "$2"; }

# summary median|min|max METRIC LINE...: that statistic of METRIC over mqtt-bench result lines.
summary() {
    local stat="$1" metric="$2" line values=()
    shift 2
    for line in "$@"; do values+=("$(field "$metric" "$line")"); done
    python3 -c 'import statistics, sys
v = [float(x) for x in sys.argv[2:] if x]
f = {"median": statistics.median, "min": min, "max": max}[sys.argv[1]]
print(round(f(v), 1) if v else "")' "$stat" "${values[@]}"
}

# run_scenario KIND ARGS...: prints the mqtt-bench line (a TLS listener when ARGS has --tls).
run_scenario() {
    local kind="$1"
    shift
    local port tls="" users="" warm="" args=()
    port="$(free_port)"
    [[ " $* " == *" --tls "* ]] && tls=tls
    [[ " $* " == *" --username "* ]] && users=users
    for arg in "$@"; do
        if [[ "$arg" == --warm ]]; then warm=1; else args+=("$arg"); fi
    done
    start_broker "$kind" "$port" "$tls" "$users"
    # --warm: one login before the measured run (the broker's check of that password is cached).
    [[ -n "$warm" ]] && mosquitto_pub -p "$port" -u bench -P bench-pw -t warm -m x
    "${pin_bench[@]}" "$bench" --port "$port" --duration "$duration" "${args[@]}" | tail -1
    stop_broker
}

if [[ $smoke -eq 1 ]]; then
    for args in "--scenario fanin --publishers 2" "--scenario fanout --subscribers 5 --publishers 1" "--scenario fanin --publishers 2 --qos 1" "--scenario shared --publishers 4 --subscribers 3 --qos 1" "--scenario fanin --publishers 2 --qos 1 --mqtt5 --properties --aliases"; do
        port="$(free_port)"
        start_broker ours "$port"
        # shellcheck disable=SC2086
        "$bench" --port "$port" --duration 1 --smoke $args
        stop_broker
    done
    echo "benchmark smoke test: messages flowed"
    exit 0
fi

declare -A scenarios=(
    [fanin-q0]="--scenario fanin --publishers 4 --subscribers 1 --qos 0"
    [fanout-q0]="--scenario fanout --publishers 1 --subscribers 50 --qos 0"
    [p2p-q0]="--scenario p2p --publishers 50 --qos 0"
    [wildcard-q0]="--scenario wildcard --publishers 10 --subscribers 10 --qos 0"
    [fanin-q1]="--scenario fanin --publishers 4 --subscribers 1 --qos 1 --window 20"
    [fanin-q2]="--scenario fanin --publishers 4 --subscribers 1 --qos 2 --window 20"
    [connect]="--scenario connect --connections 50"
    [shared-q0]="--scenario shared --publishers 50 --subscribers 10 --qos 0"
    [shared-q1]="--scenario shared --publishers 50 --subscribers 10 --qos 1 --window 20"
    [fanin-q0-tls]="--scenario fanin --publishers 4 --subscribers 1 --qos 0 --tls"
    [connect-tls]="--scenario connect --connections 50 --tls"
    # Connect storms: every client connects at once; connects/s = clients / time until the
    # last CONNACK (the listen backlog and SYN retries are part of it, as in a real storm).
    [connect-storm-1k]="--scenario storm --connections 1000"
    [connect-storm-10k]="--scenario storm --connections 10000"
    [connect-storm-1k-tls]="--scenario storm --connections 1000 --tls"
    # Every client logs in as the same internal user (ours: bcrypt, cost 10; mosquitto: its
    # password_file, PBKDF2-SHA512). On a fresh broker (the first check of that password is
    # running while the others arrive), and after one login (`--warm`: the check is cached).
    [connect-storm-1k-user]="--scenario storm --connections 1000 --username bench --password bench-pw"
    [connect-storm-1k-user-warm]="--scenario storm --connections 1000 --username bench --password bench-pw --warm"
    # MQTT 5 clients: plain, with a content type and a user property on every publish, with
    # topic aliases both ways (compare with the 3.1.1 rows above).
    [fanin-q0-v5]="--scenario fanin --publishers 4 --subscribers 1 --qos 0 --mqtt5"
    [fanin-q0-v5-props]="--scenario fanin --publishers 4 --subscribers 1 --qos 0 --mqtt5 --properties"
    [fanin-q0-v5-alias]="--scenario fanin --publishers 4 --subscribers 1 --qos 0 --mqtt5 --aliases"
    [fanout-q0-v5]="--scenario fanout --publishers 1 --subscribers 50 --qos 0 --mqtt5"
    [fanin-q1-v5]="--scenario fanin --publishers 4 --subscribers 1 --qos 1 --window 20 --mqtt5"
    [fanin-q1-v5-props]="--scenario fanin --publishers 4 --subscribers 1 --qos 1 --window 20 --mqtt5 --properties"
    [p2p-q0-v5]="--scenario p2p --publishers 50 --qos 0 --mqtt5"
)
order=(fanin-q0 fanout-q0 p2p-q0 wildcard-q0 fanin-q1 fanin-q2 shared-q0 shared-q1 connect fanin-q0-tls connect-tls
    connect-storm-1k connect-storm-10k connect-storm-1k-tls connect-storm-1k-user connect-storm-1k-user-warm
    latency latency-grid idle
    fanin-q0-v5 fanin-q0-v5-props fanin-q0-v5-alias fanout-q0-v5 fanin-q1-v5 fanin-q1-v5-props p2p-q0-v5)
[[ -n "$only" ]] && read -r -a order <<< "$only"

printf '%-12s %-14s %14s %14s %8s\n' scenario metric "$left" "$right" ratio
row() { # scenario metric mosquitto ours
    local ratio
    ratio="$(python3 -c "m,o=float('$3' or 0),float('$4' or 0); print(f'{o/m:.2f}' if m else '-')")"
    printf '%-12s %-14s %14s %14s %8s\n' "$1" "$2" "$3" "$4" "$ratio"
}

mosquitto_p2p_max=""
for name in "${order[@]}"; do
    case "$name" in
        latency)
            # p99 at half of mosquitto's maximum p2p rate (50 pairs, QoS 0), same rate for both.
            if [[ -z "$mosquitto_p2p_max" ]]; then
                mosquitto_p2p_max="$(field 'delivered/s' "$(run_scenario mosquitto ${scenarios[p2p-q0]})")"
            fi
            rate="$(python3 -c "print(max(1, int(float('$mosquitto_p2p_max') / 2 / 50)))")"
            m="$(run_scenario "$left" --scenario p2p --publishers 50 --rate "$rate")"
            o="$(run_scenario "$right" --scenario p2p --publishers 50 --rate "$rate")"
            for metric in delivered/s p50_us p99_us p999_us; do
                row "latency@$((rate * 50))/s" "$metric" "$(field "$metric" "$m")" "$(field "$metric" "$o")"
            done
            ;;
        latency-grid)
            # Latency at 25%, 50% and 90% of mosquitto's maximum p2p rate (50 pairs; QoS 0, and
            # QoS 1 with a window of 20), the same rate for every broker: this broker with one
            # shard (every pair on the same shard) and with --shards (the kernel spreads the
            # connections: about half the pairs cross shards). Rows lat-qQ-P%-1sh and
            # lat-qQ-P%-Nsh; the mosquitto column is the same run of mosquitto in both.
            for qos in 0 1; do
                extra=""
                [[ $qos == 1 ]] && extra="--window 20"
                # shellcheck disable=SC2086
                max="$(field 'delivered/s' "$(run_scenario mosquitto --scenario p2p --publishers 50 --qos $qos $extra)")"
                for pct in 25 50 90; do
                    rate="$(python3 -c "print(max(1, int(float('$max') * $pct / 100 / 50)))")"
                    # shellcheck disable=SC2086
                    m="$(run_scenario mosquitto --scenario p2p --publishers 50 --qos $qos $extra --rate "$rate")"
                    spread="$shards"
                    for placement in 1 "$spread"; do
                        shards="$placement"
                        # shellcheck disable=SC2086
                        o="$(run_scenario ours --scenario p2p --publishers 50 --qos $qos $extra --rate "$rate")"
                        for metric in delivered/s p50_us p99_us p999_us; do
                            row "lat-q$qos-$pct%-${placement}sh" "$metric" "$(field "$metric" "$m")" "$(field "$metric" "$o")"
                        done
                    done
                    shards="$spread"
                done
            done
            ;;
        idle)
            # Broker memory per idle connection at 20,000 connections (fewer where the hard
            # file limit is lower: the broker needs one descriptor per connection). Two load
            # generator processes share the connections so neither hits its own limit. A burst
            # of connects overflows the listen backlog and some SYNs are retried for seconds, so
            # RSS is sampled once the broker holds every connection (or after 30 s, divided by
            # the connections it does hold), plus a second for its idle housekeeping.
            hard="$(ulimit -Hn)"
            idle="${IDLE_CONNECTIONS:-20000}"
            if [[ "$hard" != unlimited && $((hard - 500)) -lt $idle ]]; then idle=$((hard - 500)); fi
            for kind in "$left" "$right"; do
                port="$(free_port)"
                start_broker "$kind" "$port"
                before="$(rss_kib "$pid")"
                bench_pids=()
                # IDLE_SOURCES="A B C D": the generators connect from these local addresses
                # (A and B for the first broker, C and D for the second; e.g. 127.100.101.101
                # and up), so that each peer's text is as long as a remote client's and neither
                # broker's run finds the other's ports in TIME_WAIT; by default all come from
                # 127.0.0.1.
                read -r -a sources <<< "${IDLE_SOURCES:-}"
                first=0
                [[ "$kind" == "$right" ]] && first=2
                for g in 0 1; do
                    source_args=()
                    [[ -n "${sources[$((first + g))]:-}" ]] && source_args=(--source "${sources[$((first + g))]}")
                    "$bench" --port "$port" --scenario idle "${source_args[@]}" --connections $((idle / 2)) --threads 1 --duration 60 >/dev/null 2>&1 &
                    bench_pids+=($!)
                done
                held=0
                for _ in $(seq 300); do
                    held="$(ss -Htn "( sport = :$port )" | wc -l)"
                    [[ $held -ge $idle ]] && break
                    sleep 0.1
                done
                sleep 1
                during="$(rss_kib "$pid")"
                kill "${bench_pids[@]}" 2>/dev/null || true
                wait "${bench_pids[@]}" 2>/dev/null || true
                stop_broker
                [[ $held -lt $idle ]] && echo "$kind held only $held of $idle idle connections" >&2
                [[ -n "${IDLE_DEBUG:-}" ]] && echo "$kind before=$before during=$during held=$held" >&2
                # fewer than half held: no figure rather than a wrong one
                per="$(python3 -c "print(round(($during - $before) * 1024 / $held) if $held * 2 >= $idle else '')")"
                if [[ "$kind" == "$left" ]]; then m_idle="$per"; else o_idle="$per"; fi
            done
            row "idle-$idle" "bytes/conn" "$m_idle" "$o_idle"
            ;;
        *)
            args="${scenarios[$name]}"
            lefts=() rights=()
            for _ in $(seq "$rounds"); do
                # shellcheck disable=SC2086
                lefts+=("$(run_scenario "$left" $args)")
                # shellcheck disable=SC2086
                rights+=("$(run_scenario "$right" $args)")
            done
            if [[ "$name" == p2p-q0 && "$left" == mosquitto ]]; then mosquitto_p2p_max="$(summary median 'delivered/s' "${lefts[@]}")"; fi
            metrics=(delivered/s)
            [[ "$name" == connect* ]] && metrics=(connects/s)
            [[ "$name" == shared* ]] && metrics=(delivered/s spread_pct)
            stats=(median)
            [[ $rounds -gt 1 ]] && stats+=(min max)
            for metric in "${metrics[@]}"; do
                for stat in "${stats[@]}"; do
                    label="$metric"
                    [[ $stat != median ]] && label="$stat $metric"
                    row "$name" "$label" "$(summary "$stat" "$metric" "${lefts[@]}")" "$(summary "$stat" "$metric" "${rights[@]}")"
                done
            done
            ;;
    esac
done
