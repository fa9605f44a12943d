#!/usr/bin/env bash
# Before/after comparison of two (or more) builds of this broker, alternating runs so that the
# machine's drift hits every build alike. Each run starts a fresh broker on a free loopback port.
#
#   Benchmarks/ab.sh [--rounds N] [--duration S] [--shards N] [--cpu] [--latency] NAME=BINARY... -- MQTT-BENCH-ARGS
#
# BINARY `mosquitto` runs Debian's mosquitto with compare.sh's settings, as a reference in the
# same alternation. Environment variables for one build: NAME=env:VAR=VALUE:BINARY.
# BROKER_CPUS and BENCH_CPUS (taskset lists) pin the brokers and mqtt-bench, as in compare.sh.
# Prints one line per run: the build's name and delivered/s; with --latency also mqtt-bench's
# p50/p99/p99.9 in µs (meaningful with a fixed --rate); with --cpu also the broker's CPU
# time (utime + stime from /proc) over the whole run (connecting, mqtt-bench's settling, the
# measured window, teardown) divided by the deliveries (CONNACKs for `--scenario connect` and
# `storm`) of the measured window. That is not
# the absolute cost of a delivery, but it is the same work for every build and, at a fixed
# --rate, does not depend on how the kernel placed the connections on shards. Example:
#   Benchmarks/ab.sh --rounds 6 before=/tmp/old-broker after=.build/release/mqtt-broker \
#       -- --scenario fanout --publishers 1 --subscribers 50 --qos 0
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=6 duration=4 shards=2 cpu=0 latency=0
builds=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --rounds) rounds="$2"; shift 2 ;;
        --duration) duration="$2"; shift 2 ;;
        --shards) shards="$2"; shift 2 ;;
        --cpu) cpu=1; shift ;;
        --latency) latency=1; shift ;;
        --) shift; break ;;
        *=*) builds+=("$1"); shift ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
[[ ${#builds[@]} -ge 1 && $# -ge 1 ]] || { echo "usage: ab.sh [options] NAME=BINARY... -- MQTT-BENCH-ARGS" >&2; exit 2; }
swift build -c release --product mqtt-bench >/dev/null
bench="$PWD/.build/release/mqtt-bench"
pin_broker=() pin_bench=()
[[ -n "${BROKER_CPUS:-}" ]] && pin_broker=(taskset -c "$BROKER_CPUS")
[[ -n "${BENCH_CPUS:-}" ]] && pin_bench=(taskset -c "$BENCH_CPUS")
ticks="$(getconf CLK_TCK)"
work="$(mktemp -d)"
pid=""
trap '[[ -n "$pid" ]] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

for _ in $(seq "$rounds"); do
    for build in "${builds[@]}"; do
        name="${build%%=*}" binary="${build#*=}"
        environment=()
        if [[ "$binary" == env:* ]]; then
            binary="${binary#env:}"
            environment=("${binary%%:*}")
            binary="${binary#*:}"
        fi
        port="$(free_port)"
        if [[ "$binary" == mosquitto ]]; then
            printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nmax_inflight_messages 20\nmax_queued_messages 1000\nset_tcp_nodelay true\nlog_dest none\n' \
                "$port" > "$work/mosquitto.conf"
            "${pin_broker[@]}" "$(command -v mosquitto || echo /usr/sbin/mosquitto)" -c "$work/mosquitto.conf" >/dev/null 2>&1 &
        else
            printf 'listeners: [{protocol: mqtt, host: 127.0.0.1, port: %s}]\nshards: %s\nlog: {level: warning}\n' \
                "$port" "$shards" > "$work/broker.yaml"
            "${pin_broker[@]}" env "${environment[@]}" "$binary" --config "$work/broker.yaml" >/dev/null 2>&1 &
        fi
        pid=$!
        for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done
        before="$(cpu_ticks "$pid")"
        line="$("${pin_bench[@]}" "$bench" --port "$port" --duration "$duration" "$@" | tail -1)"
        after="$(cpu_ticks "$pid")"
        kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
        # The figure of the scenario: deliveries, or CONNACKs for the connect scenarios.
        metric=delivered/s
        [[ " $* " == *" connect "* || " $* " == *" storm "* ]] && metric=connects/s
        delivered="$(grep -o "$metric=[0-9]*" <<< "$line" | cut -d= -f2)"
        seconds="$(grep -o 'seconds=[0-9.]*' <<< "$line" | cut -d= -f2)"
        result="$name $metric=$delivered"
        if [[ $latency -eq 1 ]]; then
            result+=" $(grep -o 'p50_us=[0-9]* p99_us=[0-9]* p999_us=[0-9]*' <<< "$line")"
        fi
        if [[ $cpu -eq 1 ]]; then
            result+=" $(python3 -c "n=$delivered*$seconds; print(f'cpu_ms_per_million={($after-$before)/$ticks*1e9/max(n,1):.1f}')")"
        fi
        echo "$result"
    done
done
