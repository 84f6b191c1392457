#!/bin/bash
# Runs usrsctp-peer against itself on loopback: the checks listed in
# scripts/interop/README.md.  Every run is bounded (timeout 60, and the peer's
# own --timeout); the UDP and SCTP ports are picked by the peers (port 0; the
# servers run with --peer-udp-port 0), so several copies can run at once
# (fixed_ports alone uses random explicit ports).
#
# Usage: scripts/interop/selftest.sh [PEER_BINARY] [TEST...]
#   PEER_BINARY defaults to a fresh build in a temporary directory.
#   TEST names: see the list at the end; default all.
#   SELFTEST_KEEP=1 keeps the output files of the peers.
# Output: one "PASS name" / "FAIL name: why" line per test; exit 1 if any failed.
# The multi-homing test needs 127.0.0.2 on lo (usrsctp binds only configured
# addresses); without it, it runs in a private namespace (unshare -rn).
set -u

here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/usrsctp-peer-selftest.XXXXXX)
# SELFTEST_KEEP=1 keeps the peers' output files (the directory is printed).
if [ "${SELFTEST_KEEP:-0}" = 1 ]; then
	echo "output in $work"
else
	trap 'rm -rf "$work"' EXIT
fi

peer=${1:-}
if [ -n "$peer" ] && [ -x "$peer" ]; then
	shift
else
	peer="$work/usrsctp-peer"
	"$here/build-peer.sh" "$peer" || { echo "FAIL build"; exit 1; }
fi

failures=0
pids=()

# start_server NAME ARGS... : runs a server in the background, waits for READY,
# sets SUDP and SPORT.
start_server() {
	local name=$1; shift
	timeout 60 "$peer" server --udp-port 0 --port 0 --peer-udp-port 0 --timeout 20 "$@" \
		>"$work/$name.server.out" 2>"$work/$name.server.err" &
	SPID=$!
	local i
	for i in $(seq 1 100); do
		if grep -q '^READY' "$work/$name.server.out" 2>/dev/null; then
			SUDP=$(sed -n 's/^READY udp=\([0-9]*\) port=\([0-9]*\)$/\1/p' "$work/$name.server.out")
			SPORT=$(sed -n 's/^READY udp=\([0-9]*\) port=\([0-9]*\)$/\2/p' "$work/$name.server.out")
			return 0
		fi
		sleep 0.05
	done
	echo "server $name did not become ready"; cat "$work/$name.server.out" "$work/$name.server.err"
	return 1
}

# client NAME SUFFIX ARGS... : runs a client in the foreground (output in NAME.client$SUFFIX.out).
client() {
	local name=$1 suffix=$2; shift 2
	timeout 60 "$peer" client --udp-port 0 --peer-udp-port "$SUDP" --remote-port "$SPORT" \
		--timeout 20 "$@" >"$work/$name.client$suffix.out" 2>"$work/$name.client$suffix.err"
}

# result LINE-FILE FIELD : a field of the RESULT line.
field() {
	sed -n "s/^RESULT .*[ ]$2=\([0-9.]*\).*/\1/p" "$1"
}

check() { # check NAME CONDITION-DESCRIPTION COMMAND...
	local name=$1 what=$2; shift 2
	if ! "$@"; then
		echo "FAIL $name: $what"
		for f in "$work/$name".*; do echo "--- $f"; head -40 "$f"; done
		failures=$((failures + 1))
		return 1
	fi
	return 0
}

pass() { echo "PASS $1"; }

# Runs a client against a fresh server; expects the given exit codes.
pair() { # pair NAME SERVER_RC CLIENT_RC "SERVER ARGS" "CLIENT ARGS"
	local name=$1 src=$2 crc=$3 sargs=$4 cargs=$5 rc
	# shellcheck disable=SC2086
	start_server "$name" $sargs || { failures=$((failures + 1)); return 1; }
	# shellcheck disable=SC2086
	client "$name" "" $cargs; rc=$?
	wait "$SPID"; local s=$?
	check "$name" "client exit $rc, expected $crc" [ "$rc" -eq "$crc" ] || return 1
	check "$name" "server exit $s, expected $src" [ "$s" -eq "$src" ] || return 1
	return 0
}

t_echo_ordered() {
	pair echo_ordered 0 0 "--bind 127.0.0.1 --mode echo --verify" \
		"--bind 127.0.0.1 --connect 127.0.0.1 --streams 10 --messages 5000 --length 12-2000 --seed 7 --echo" &&
	check echo_ordered "5000 echoes" [ "$(field "$work/echo_ordered.client.out" messages_received)" = 5000 ] &&
	pass echo_ordered
}

t_echo_unordered() {
	pair echo_unordered 0 0 "--bind 127.0.0.1 --mode echo --verify" \
		"--bind 127.0.0.1 --connect 127.0.0.1 --streams 10 --messages 5000 --length 12-2000 --seed 8 --unordered --echo" &&
	check echo_unordered "5000 echoes" [ "$(field "$work/echo_unordered.client.out" messages_received)" = 5000 ] &&
	pass echo_unordered
}

t_large_ordered() {
	pair large_ordered 0 0 "--bind 127.0.0.1 --mode echo --verify" \
		"--bind 127.0.0.1 --connect 127.0.0.1 --streams 4 --messages 40 --length 1048576 --echo" &&
	check large_ordered "40 MiB echoed" [ "$(field "$work/large_ordered.client.out" bytes_received)" = 41943040 ] &&
	pass large_ordered
}

t_larger_ordered() {
	pair larger_ordered 0 0 "--bind 127.0.0.1 --mode verify" \
		"--bind 127.0.0.1 --connect 127.0.0.1 --streams 2 --messages 8 --length 1000000-8000000 --seed 3" &&
	check larger_ordered "8 messages" [ "$(field "$work/larger_ordered.server.out" messages_received)" = 8 ] &&
	pass larger_ordered
}

t_unordered_64k() {
	pair unordered_64k 0 0 "--bind 127.0.0.1 --mode echo --verify" \
		"--bind 127.0.0.1 --connect 127.0.0.1 --streams 10 --messages 300 --length 65536 --unordered --echo" &&
	check unordered_64k "300 echoes" [ "$(field "$work/unordered_64k.client.out" messages_received)" = 300 ] &&
	pass unordered_64k
}

t_multihomed_here() {
	pair multihomed 0 0 "--bind 127.0.0.1,127.0.0.2 --mode echo --verify" \
		"--bind 127.0.0.1 --connect 127.0.0.1,127.0.0.2 --messages 1000 --length 12-1500 --echo" &&
	check multihomed "client sees both server addresses" \
		grep -q '^ASSOC_UP .* peers=127.0.0.1,127.0.0.2$' "$work/multihomed.client.out" &&
	pass multihomed
}

t_multihomed() {
	# usrsctp only binds addresses configured on an interface: 127.0.0.2 must
	# be on lo.  If it is not, run the test in a private network namespace
	# (unshare -rn: no root needed, the host is not touched).
	if ip -4 addr show dev lo 2>/dev/null | grep -q 'inet 127\.0\.0\.2/'; then
		t_multihomed_here
	elif unshare -rn true 2>/dev/null; then
		unshare -rn bash -c 'ip link set lo up && ip addr add 127.0.0.2/8 dev lo && exec "$0" "$1" multihomed_here' \
			"$here/selftest.sh" "$peer" | grep -v '^all passed$'
		[ "${PIPESTATUS[0]}" -eq 0 ] || failures=$((failures + 1))
	else
		echo "SKIP multihomed: 127.0.0.2 is not on lo and unshare -rn is not allowed"
	fi
}

t_close_after() {
	# The server shuts down after 100 messages while the client still sends:
	# the client's sends fail (exit 4), the server reads what was in flight.
	pair close_after 0 4 "--bind 127.0.0.1 --mode verify --close-after 100" \
		"--bind 127.0.0.1 --connect 127.0.0.1 --messages 1000000 --length 1000" &&
	check close_after "server: reason=shutdown" grep -q '^ASSOC_DOWN .* reason=shutdown$' "$work/close_after.server.out" &&
	check close_after "client: reason=shutdown" grep -q '^ASSOC_DOWN .* reason=shutdown$' "$work/close_after.client.out" &&
	check close_after "server received at least 100" [ "$(field "$work/close_after.server.out" messages_received)" -ge 100 ] &&
	check close_after "server received all the client sent" \
		[ "$(field "$work/close_after.server.out" messages_received)" = "$(field "$work/close_after.client.out" messages_sent)" ] &&
	pass close_after
}

t_close_after_echo() {
	pair close_after_echo 0 4 "--bind 127.0.0.1 --mode echo --verify --close-after 50" \
		"--bind 127.0.0.1 --connect 127.0.0.1 --messages 1000000 --length 12-3000 --echo" &&
	check close_after_echo "client: reason=shutdown" grep -q '^ASSOC_DOWN .* reason=shutdown$' "$work/close_after_echo.client.out" &&
	check close_after_echo "50 echoes" [ "$(field "$work/close_after_echo.client.out" messages_received)" = 50 ] &&
	pass close_after_echo
}

t_abort_after() {
	pair abort_after 0 4 "--bind 127.0.0.1 --mode verify --abort-after 100" \
		"--bind 127.0.0.1 --connect 127.0.0.1 --messages 1000000 --length 1000" &&
	check abort_after "server: reason=local_abort" grep -q '^ASSOC_DOWN .* reason=local_abort$' "$work/abort_after.server.out" &&
	check abort_after "client: reason=abort" grep -q '^ASSOC_DOWN .* reason=abort$' "$work/abort_after.client.out" &&
	check abort_after "server received 100" [ "$(field "$work/abort_after.server.out" messages_received)" = 100 ] &&
	pass abort_after
}

t_abort_at_end() {
	pair abort_at_end 0 0 "--bind 127.0.0.1 --mode verify" \
		"--bind 127.0.0.1 --connect 127.0.0.1 --messages 1000 --length 12-5000 --abort-at-end" &&
	check abort_at_end "server: reason=abort" grep -q '^ASSOC_DOWN .* reason=abort$' "$work/abort_at_end.server.out" &&
	check abort_at_end "client: reason=local_abort" grep -q '^ASSOC_DOWN .* reason=local_abort$' "$work/abort_at_end.client.out" &&
	check abort_at_end "server received 1000" [ "$(field "$work/abort_at_end.server.out" messages_received)" = 1000 ] &&
	pass abort_at_end
}

t_one_to_many() {
	local name=one_to_many rc1 rc2 s
	start_server $name --bind 127.0.0.1 --one-to-many --assocs 2 --mode echo --verify ||
		{ failures=$((failures + 1)); return 1; }
	client $name 1 --bind 127.0.0.1 --connect 127.0.0.1 --messages 3000 --length 12-3000 --seed 1 --echo &
	local c1=$!
	client $name 2 --bind 127.0.0.1 --connect 127.0.0.1 --messages 3000 --length 12-3000 --seed 2 --unordered --echo &
	local c2=$!
	wait $c1; rc1=$?
	wait $c2; rc2=$?
	wait "$SPID"; s=$?
	check $name "client exits $rc1 $rc2" [ "$rc1" -eq 0 -a "$rc2" -eq 0 ] &&
	check $name "server exit $s" [ "$s" -eq 0 ] &&
	check $name "server assocs=2 messages 6000" grep -q '^RESULT role=server assocs=2 messages_sent=6000 messages_received=6000 ' "$work/$name.server.out" &&
	check $name "two ASSOC_DOWN" [ "$(grep -c '^ASSOC_DOWN .*reason=shutdown' "$work/$name.server.out")" = 2 ] &&
	pass $name
}

t_sequential_assocs() {
	local name=sequential rc1 rc2 s
	start_server $name --bind 127.0.0.1 --assocs 2 --mode echo --verify || { failures=$((failures + 1)); return 1; }
	client $name 1 --bind 127.0.0.1 --connect 127.0.0.1 --messages 500 --echo; rc1=$?
	client $name 2 --bind 127.0.0.1 --connect 127.0.0.1 --messages 500 --echo; rc2=$?
	wait "$SPID"; s=$?
	check $name "exits $rc1 $rc2 $s" [ "$rc1" -eq 0 -a "$rc2" -eq 0 -a "$s" -eq 0 ] &&
	check $name "server assocs=2" grep -q '^RESULT role=server assocs=2 messages_sent=1000 ' "$work/$name.server.out" &&
	pass $name
}

t_refused() {
	# A live usrsctp stack (the server) but nothing on the SCTP port asked for:
	# it answers the INIT with an ABORT.
	local name=refused rc
	start_server $name --bind 127.0.0.1 || { failures=$((failures + 1)); return 1; }
	local wrong=$((SPORT == 65535 ? SPORT - 1 : SPORT + 1))
	timeout 60 "$peer" client --bind 127.0.0.1 --udp-port 0 --peer-udp-port "$SUDP" --connect 127.0.0.1 \
		--remote-port "$wrong" --timeout 20 >"$work/$name.client.out" 2>"$work/$name.client.err"
	rc=$?
	kill "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null
	check $name "client exit $rc, expected 2" [ "$rc" -eq 2 ] &&
	check $name "ERROR connect ECONNREFUSED" grep -q '^ERROR connect errno=111 Connection refused$' "$work/$name.client.out" &&
	pass $name
}

t_blackhole() {
	# With sctp_blackhole=1 the server's stack ignores the INIT instead: the
	# client gives up after its INIT retransmissions (ETIMEDOUT) or times out.
	local name=blackhole rc
	start_server $name --bind 127.0.0.1 --blackhole 1 || { failures=$((failures + 1)); return 1; }
	local wrong=$((SPORT == 65535 ? SPORT - 1 : SPORT + 1))
	timeout 60 "$peer" client --bind 127.0.0.1 --udp-port 0 --peer-udp-port "$SUDP" --connect 127.0.0.1 \
		--remote-port "$wrong" --rto-initial 100 --rto-min 100 --rto-max 200 --max-init-retransmits 2 --timeout 20 \
		>"$work/$name.client.out" 2>"$work/$name.client.err"
	rc=$?
	kill "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null
	check $name "client exit $rc, expected 2" [ "$rc" -eq 2 ] &&
	check $name "ERROR connect ETIMEDOUT" grep -q '^ERROR connect errno=110 ' "$work/$name.client.out" &&
	pass $name
}

t_timeout() {
	# Nobody on the server's UDP port at all: the watchdog ends the client (exit 3).
	local name=timeout rc port
	port=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	timeout 60 "$peer" client --bind 127.0.0.1 --udp-port 0 --peer-udp-port "$port" --connect 127.0.0.1 \
		--remote-port 5000 --timeout 2 >"$work/$name.client.out" 2>"$work/$name.client.err"
	rc=$?
	check $name "client exit $rc, expected 3" [ "$rc" -eq 3 ] &&
	check $name "ERROR timeout line" grep -q '^ERROR timeout after 2 s without progress waiting for connect' "$work/$name.client.out" &&
	pass $name
}

t_fixed_ports() {
	# Explicit ports (the other tests use --udp-port 0 / --port 0).
	local name=fixed_ports base rc s
	base=$((20000 + RANDOM % 20000))
	timeout 60 "$peer" server --bind 127.0.0.1 --port "$base" --udp-port "$((base + 1))" --peer-udp-port "$((base + 2))" \
		--mode echo --timeout 20 >"$work/$name.server.out" 2>"$work/$name.server.err" &
	SPID=$!
	sleep 0.3
	timeout 60 "$peer" client --bind 127.0.0.1 --port "$((base + 3))" --udp-port "$((base + 2))" --peer-udp-port "$((base + 1))" \
		--connect 127.0.0.1 --remote-port "$base" --messages 100 --echo --timeout 20 \
		>"$work/$name.client.out" 2>"$work/$name.client.err"
	rc=$?
	wait "$SPID"; s=$?
	check $name "exits $rc $s" [ "$rc" -eq 0 -a "$s" -eq 0 ] &&
	check $name "READY lines" grep -q "^READY udp=$((base + 1)) port=$base\$" "$work/$name.server.out" &&
	check $name "client READY" grep -q "^READY udp=$((base + 2)) port=$((base + 3))\$" "$work/$name.client.out" &&
	pass $name
}

t_ipv6() {
	pair ipv6 0 0 "--bind ::1 --mode echo --verify" \
		"--bind ::1 --connect ::1 --messages 1000 --length 12-2000 --echo" &&
	check ipv6 "peers=::1" grep -q '^ASSOC_UP .* peers=::1$' "$work/ipv6.client.out" &&
	pass ipv6
}

t_usage() {
	local rc
	"$peer" client --bind 10.0.0.1 --udp-port 0 --peer-udp-port 1 --connect 127.0.0.1 --remote-port 1 \
		>"$work/usage.client.out" 2>"$work/usage.client.err"; rc=$?
	check usage "non-loopback --bind refused with exit 2" [ "$rc" -eq 2 ] || return 1
	"$peer" client --bind 127.0.0.1 --udp-port 0 --peer-udp-port 1 --connect 127.0.0.1 --remote-port 1 --length 11 \
		>"$work/usage.client.out" 2>"$work/usage.client.err"; rc=$?
	check usage "--length 11 refused with exit 2" [ "$rc" -eq 2 ] &&
	pass usage
}

t_corrupt() {
	# The verifier must notice a wrong byte: server exit 1, verify_errors=1;
	# with echo the client sees it too.
	pair corrupt 1 1 "--bind 127.0.0.1 --mode echo --verify" \
		"--bind 127.0.0.1 --connect 127.0.0.1 --messages 100 --corrupt 42 --echo" &&
	check corrupt "server verify_errors=1" [ "$(field "$work/corrupt.server.out" verify_errors)" = 1 ] &&
	check corrupt "client verify_errors=1" [ "$(field "$work/corrupt.client.out" verify_errors)" = 1 ] &&
	pass corrupt
}

t_options() {
	# The tuning options are accepted by usrsctp and the association works.
	pair options 0 0 "--bind 127.0.0.1 --mode echo --verify --streams 100 --hb-interval 200 --path-max-retrans 3 \
--assoc-max-retrans 6 --rto-initial 200 --rto-min 100 --rto-max 1000 --nodelay --mtu 1200 --sndbuf 1048576 --rcvbuf 1048576" \
		"--bind 127.0.0.1 --connect 127.0.0.1 --streams 300 --messages 2000 --length 12-9000 --echo --hb-interval 200 \
--path-max-retrans 3 --assoc-max-retrans 6 --rto-initial 200 --rto-min 100 --rto-max 1000 --nodelay --mtu 1200 \
--max-init-retransmits 3 --sndbuf 1048576 --rcvbuf 1048576" &&
	check options "streams negotiated down to 100" grep -q '^ASSOC_UP .* in=100 out=100 ' "$work/options.client.out" &&
	pass options
}

# two clients against a one-to-many server: o2m NAME "SERVER ARGS" "CLIENT ARGS" CLIENT_RC
o2m() {
	local name=$1 sargs=$2 cargs=$3 crc=$4 rc1 rc2 s
	# shellcheck disable=SC2086
	start_server "$name" --bind 127.0.0.1 --one-to-many --assocs 2 $sargs || { failures=$((failures + 1)); return 1; }
	# shellcheck disable=SC2086
	client "$name" 1 --bind 127.0.0.1 --connect 127.0.0.1 --seed 1 $cargs &
	local c1=$!
	# shellcheck disable=SC2086
	client "$name" 2 --bind 127.0.0.1 --connect 127.0.0.1 --seed 2 $cargs &
	local c2=$!
	wait $c1; rc1=$?
	wait $c2; rc2=$?
	wait "$SPID"; s=$?
	check "$name" "client exits $rc1 $rc2, expected $crc" [ "$rc1" -eq "$crc" -a "$rc2" -eq "$crc" ] &&
	check "$name" "server exit $s" [ "$s" -eq 0 ] &&
	check "$name" "server assocs=2" grep -q '^RESULT role=server assocs=2 ' "$work/$name.server.out"
}

t_one_to_many_large() {
	o2m one_to_many_large "--mode echo --verify" "--streams 3 --messages 20 --length 500000-1500000 --echo" 0 &&
	check one_to_many_large "40 messages" [ "$(field "$work/one_to_many_large.server.out" messages_received)" = 40 ] &&
	pass one_to_many_large
}

t_one_to_many_close() {
	o2m one_to_many_close "--mode verify --close-after 100" "--messages 1000000 --length 1000" 4 &&
	check one_to_many_close "two ASSOC_DOWN shutdown" [ "$(grep -c '^ASSOC_DOWN .*reason=shutdown$' "$work/one_to_many_close.server.out")" = 2 ] &&
	check one_to_many_close "clients: reason=shutdown" grep -q 'reason=shutdown' "$work/one_to_many_close.client1.out" &&
	pass one_to_many_close
}

t_one_to_many_abort() {
	o2m one_to_many_abort "--mode verify --abort-after 100" "--messages 1000000 --length 1000" 4 &&
	check one_to_many_abort "two ASSOC_DOWN local_abort" [ "$(grep -c '^ASSOC_DOWN .*reason=local_abort$' "$work/one_to_many_abort.server.out")" = 2 ] &&
	check one_to_many_abort "client: reason=abort" grep -q 'reason=abort$' "$work/one_to_many_abort.client1.out" &&
	pass one_to_many_abort
}

all="usage echo_ordered echo_unordered large_ordered larger_ordered unordered_64k multihomed close_after
close_after_echo abort_after abort_at_end one_to_many one_to_many_large one_to_many_close
one_to_many_abort sequential_assocs corrupt options refused blackhole timeout fixed_ports ipv6"
tests=${*:-$all}
for t in $tests; do
	"t_$t"
done
[ "$failures" -eq 0 ] || { echo "$failures test(s) failed"; exit 1; }
echo "all passed"
