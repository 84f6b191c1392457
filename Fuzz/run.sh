#!/usr/bin/env bash
# Runs a libFuzzer target with AddressSanitizer (release build). See Fuzz/README.md.
#   Fuzz/run.sh [wire|state] [SECONDS]     (default: wire, 600 s; a number alone means wire)
# wire:  the packet parser (WireFuzzer). Seed corpus Fuzz/corpus (made from the usrsctp
#        fixtures); new inputs go to Fuzz/corpus-run, crashes to Fuzz/crash-*.
# state: two endpoints driven by the bytes (StateFuzzer, FuzzScenario), built with
#        -DSCTP_INVARIANTS so every invariant check runs. Seed corpus Fuzz/corpus-state;
#        new inputs go to Fuzz/corpus-state-run, crashes to Fuzz/crash-state-*.
# Not part of the test command.
set -euo pipefail
cd "$(dirname "$0")"
target="wire"
case "${1:-}" in
  wire|state) target="$1"; shift ;;
  ''|*[!0-9]*) [ -z "${1:-}" ] || { echo "usage: $0 [wire|state] [SECONDS]" >&2; exit 2; } ;;
esac
seconds="${1:-600}"

flags=(-Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library -Xswiftc -g)
if [ "$target" = wire ]; then
  scratch=.build
  product=WireFuzzer
else
  # Its own build directory: the extra flag would otherwise rebuild everything at each switch.
  scratch=.build-state
  product=StateFuzzer
  flags+=(-Xswiftc -DSCTP_INVARIANTS)
fi
swift build -c release --scratch-path "$scratch" --product "$product" "${flags[@]}"
binary="$(swift build -c release --scratch-path "$scratch" --show-bin-path "${flags[@]}")/$product"

if [ "$target" = wire ]; then
  # Seed corpus from the hex fixtures (idempotent).
  for hex in ../Tests/SCTPWireTests/Fixtures/usrsctp/*.hex; do
    [ -e "$hex" ] || continue
    name="$(basename "$hex" .hex)"
    grep -v '^#' "$hex" | tr -d ' \n\r\t' | xxd -r -p > "corpus/$name.bin"
  done
  mkdir -p corpus-run
  "$binary" corpus-run corpus -max_total_time="$seconds" -max_len=4096 -print_final_stats=1 \
    -artifact_prefix=./crash- -timeout=10 -rss_limit_mb=4096
else
  mkdir -p corpus-state corpus-state-run
  # -len_control=0: long inputs from the start (a scenario needs many actions to get deep).
  "$binary" corpus-state-run corpus-state -max_total_time="$seconds" -max_len=4096 -len_control=0 \
    -print_final_stats=1 -artifact_prefix=./crash-state- -timeout=30 -rss_limit_mb=4096
fi
