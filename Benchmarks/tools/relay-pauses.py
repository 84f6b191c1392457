#!/usr/bin/env python3
"""relay-pauses.py TRACE [SECONDS] [-v]: the pauses of a transfer in a lossy-relay --trace file.

Lists every gap of more than SECONDS (default 0.03) between consecutive datagrams, from the
first DATA the client sent to the last DATA that reached the server, and sorts them by what
ended them: a SACK from the receiver ("delayed-sack": the peer's delayed-ack timer, about
200 ms) or DATA from the sender ("sender": T3-rtx, a tail loss probe, or anything else the
sender waited for); -v prints the datagrams around each one. Used for Benchmarks/README.md,
"goodput under loss, second step".
"""
import re
import sys

args = [a for a in sys.argv[1:] if a != "-v"]
if not args:
    sys.exit(__doc__)
path = args[0]
threshold = float(args[1]) if len(args) > 1 else 0.03
lines = [line.rstrip("\n") for line in open(path)]
data = re.compile(r" D[0-9]")
start = next(i for i, l in enumerate(lines) if "to_right" in l and data.search(l))
end = max(i for i, l in enumerate(lines) if "to_right" in l and data.search(l) and " DROP" not in l)
pauses = []
previous = None
for i in range(start, end + 1):
    t = float(lines[i].split()[0])
    if previous is not None and t - previous[0] > threshold:
        pauses.append((t - previous[0], previous[1], i))
    previous = (t, i)
kinds = {}
for length, _, after in pauses:
    line = lines[after]
    if "to_left" in line and "SACK" in line:
        kind = "delayed-sack"
    elif "to_right" in line and data.search(line):
        kind = "sender"
    else:
        kind = "other"
    kinds.setdefault(kind, []).append(length)
span = float(lines[end].split()[0]) - float(lines[start].split()[0])
summary = "; ".join(f"{k}: {len(v)} = {sum(v):.2f} s" for k, v in sorted(kinds.items()))
print(f"{path}: {span:.3f} s from first to last DATA, {len(pauses)} pauses > {threshold} s = "
      f"{sum(p[0] for p in pauses):.3f} s; {summary}")
if "-v" in sys.argv:
    for length, before, after in pauses:
        print(f"--- {length:.3f} s")
        for j in range(max(start, before - 8), min(len(lines), after + 3)):
            print("   ", lines[j][:160])
