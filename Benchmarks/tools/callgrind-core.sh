#!/usr/bin/env bash
# Instructions per packet of the association core alone (CoreBenchmark's `count` mode: a
# 1200-byte ordered transfer between two endpoints in one process, no sockets), and per
# association setup (its `setup` mode), counted exactly with callgrind: the figures do not
# depend on the machine's load, so two builds compare on a busy machine too.
#
#   Benchmarks/tools/callgrind-core.sh [CORE_BENCHMARK] [PACKETS] [ASSOCIATIONS] [LENGTHS]
#
# CORE_BENCHMARK defaults to Benchmarks/.build/release/CoreBenchmark (build it with
# `swift build -c release --package-path Benchmarks --product CoreBenchmark`); PACKETS to
# 200000, ASSOCIATIONS to 2000, LENGTHS (message sizes of the transfer, quoted, space
# separated; ASSOCIATIONS 0 skips the setup figure) to "1200". ORDER=unordered counts a
# transfer of unordered messages instead of ordered ones. Each figure is the difference of two runs (N and 2N), so
# that start-up and the handshake cancel out. Needs valgrind; no root.
set -euo pipefail
binary=${1:-Benchmarks/.build/release/CoreBenchmark}
packets=${2:-200000}
setups=${3:-2000}
lengths=${4:-1200}
order=${ORDER:-ordered}
[[ $order == ordered || $order == unordered ]] || { echo "ORDER: ordered or unordered" >&2; exit 2; }
[[ $packets =~ ^[1-9][0-9]{0,7}$ && $setups =~ ^[0-9]{1,7}$ ]] || { echo "PACKETS, ASSOCIATIONS: positive integers" >&2; exit 2; }
[[ $lengths =~ ^[1-9][0-9]*( [1-9][0-9]*)*$ ]] || { echo "LENGTHS: message sizes, space separated" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Valgrind 3.19 cannot read Swift's DWARF 5: run a copy without debug information.
strip -g -o "$work/CoreBenchmark" "$binary"

# Total instructions of one run (callgrind's "summary" line).
instructions() {
    valgrind --tool=callgrind --callgrind-out-file="$work/out" "$work/CoreBenchmark" "$@" > "$work/stdout" 2> "$work/stderr"
    awk '/^summary:/ { print $2 }' "$work/out"
}
# The work counted by one run (packets handled, or associations set up), from its output.
done_count() { grep -oE '^(count|setup): [0-9]+' "$work/stdout" | awk '{ print $2 }'; }

for length in $lengths; do
    one=$(instructions count "$packets" "$length" "$order"); p1=$(done_count)
    two=$(instructions count $((2 * packets)) "$length" "$order"); p2=$(done_count)
    echo "core, $length-byte $order transfer: $(( (two - one) / (p2 - p1) )) instructions per packet ($((p2 - p1)) packets)"
done
[[ $setups == 0 ]] && exit 0
one=$(instructions setup "$setups"); a1=$(done_count)
two=$(instructions setup $((2 * setups))); a2=$(done_count)
echo "core, association setup and abort: $(( (two - one) / (a2 - a1) )) instructions per association ($((a2 - a1)) associations)"
