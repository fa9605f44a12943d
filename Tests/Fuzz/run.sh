#!/usr/bin/env bash
# Builds a libFuzzer target with AddressSanitizer and runs it for a while.
#   Tests/Fuzz/run.sh TARGET SECONDS
# TARGET: FuzzDecoder (packet decoder), FuzzTopicMatcher (topic validation, SubscriptionIndex,
# RetainedStore against a reference matcher) or FuzzEngine (two ShardEngines fed programs of
# byte chunks and packets on in-memory connections). Seeds: Tests/Fuzz/corpus/TARGET
# (make-seeds.sh, make-program-seeds.py).
# Runs on a temporary copy of Tests/Fuzz/corpus/TARGET so the committed seeds stay small;
# crashes land in Tests/fuzz-artifacts/ (git-ignored). Exits non-zero on any finding.
set -euo pipefail
target="${1:?usage: run.sh TARGET SECONDS}"
seconds="${2:?usage: run.sh TARGET SECONDS}"
cd "$(dirname "$0")/../.."

BROKER_FUZZ=1 SWIFT_BACKTRACE=enable=no swift build -c release --scratch-path .build-fuzz --product "$target" --sanitize=fuzzer -Xswiftc -sanitize=fuzzer,address

corpus="$(mktemp -d "${TMPDIR:-/tmp}/fuzz-$target.XXXXXX")"
trap 'rm -rf "$corpus"' EXIT
if [ -d "Tests/Fuzz/corpus/$target" ]; then cp -R "Tests/Fuzz/corpus/$target/." "$corpus/"; fi
mkdir -p Tests/fuzz-artifacts
log="$corpus.log"

status=0
SWIFT_BACKTRACE=enable=no ".build-fuzz/release/$target" "$corpus" \
    -max_total_time="$seconds" -print_final_stats=1 \
    -artifact_prefix="Tests/fuzz-artifacts/$target-" 2>&1 | tee "$log" || status=$?
# libFuzzer's final stats: "stat::number_of_executed_units: N".
execs="$(grep -o 'number_of_executed_units: [0-9]*' "$log" | tail -1 | awk '{print $2}')"
echo "fuzz $target: executions=${execs:-unknown} seconds=$seconds exit=$status"
rm -f "$log"
exit "$status"
