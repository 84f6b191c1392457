#!/usr/bin/env bash
# Fuzzes the SCTP packet parser with libFuzzer and AddressSanitizer.
#   Fuzz/run.sh [SECONDS]      (default 600)
# The seed corpus is Fuzz/corpus (made from the usrsctp fixtures); new inputs go to
# Fuzz/corpus-run, crashes to Fuzz/crash-*. Not part of the test command.
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-600}"

swift build -c release --scratch-path .build \
  -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library -Xswiftc -g
binary="$(swift build -c release --scratch-path .build --show-bin-path)/WireFuzzer"

# Seed corpus from the hex fixtures (idempotent).
for hex in ../Tests/SCTPWireTests/Fixtures/usrsctp/*.hex; do
  [ -e "$hex" ] || continue
  name="$(basename "$hex" .hex)"
  grep -v '^#' "$hex" | tr -d ' \n\r\t' | xxd -r -p > "corpus/$name.bin"
done

mkdir -p corpus-run
"$binary" corpus-run corpus -max_total_time="$seconds" -max_len=4096 -print_final_stats=1 \
  -artifact_prefix=./crash- -timeout=10 -rss_limit_mb=4096
