#!/usr/bin/env bash
# Regenerates the decoder's seed corpus from TestSupport.SamplePackets (valid packets of every
# type) by running the one test that writes files when MQTT_FUZZ_SEED_DIR is set.
set -euo pipefail
cd "$(dirname "$0")/../.."
dir="$PWD/Tests/Fuzz/corpus/FuzzDecoder"
rm -rf "$dir"
MQTT_FUZZ_SEED_DIR="$dir" swift test --filter FuzzSeedCorpusTests
ls "$dir"
