#!/usr/bin/env python3
"""How an NLB spreads mirrored traffic over collectors, by flow or by source.

A model, not a measurement: sources (mirrored ENIs) with Zipf-distributed
packet rates, each with many connections whose packets are themselves
Zipf-distributed (a few elephants, many mice). Every mirrored packet reaches
the NLB as UDP from the source's IP to port 4789, with an outer source port
AWS derives from the inner flow. The NLB picks a collector by

  five_tuple     a hash of the outer 5-tuple; the two directions of a
                 connection get independent outer source ports (AWS does not
                 promise they match), so they hash independently;
  symmetric_port a hash of the outer 5-tuple, both directions with the same
                 outer source port (what mirrortap-sender does);
  source_ip      stickiness by source IP (flow_affinity = "source_ip"): one
                 hash of the source's IP decides for all its packets.

For each mode it reports the busiest collector's load over the mean
(max/mean, 1.0 = perfectly even), the share of connections whose two
directions land on one collector, and, when one collector leaves (scale-in),
the share of the load that moves and the max/mean afterwards. The NLB keeps
flows it already placed, so only the leaving collector's flows (or sources)
are placed afresh over the collectors that remain.

Deterministic (fixed seed, SplitMix64 hashes); a few seconds of CPU.

  nlb_affinity.py            print the tables (deploy/scale-out.md quotes them)
  nlb_affinity.py --check    also verify the model's invariants; exit 1 if any fails
"""

import argparse
import math
import random
import sys

SEED = 20261201
TRIALS = 8  # independent draws of sources per scenario; figures are their mean
MODES = ("five_tuple", "symmetric_port", "source_ip")

# (name, sources, Zipf exponent of the sources' packet rates, mean connections per source)
SOURCE_MIXES = (
    ("400 similar sources", 400, 0.5, 40),
    ("100 web servers", 100, 1.0, 60),
    ("20 sources, a few heavy", 20, 1.2, 80),
)
COLLECTOR_COUNTS = (2, 4, 8)


MASK64 = (1 << 64) - 1


def mix64(x):
    """SplitMix64's finaliser: a well-spread 64-bit hash of a 64-bit integer."""
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9 & MASK64
    x = (x ^ (x >> 27)) * 0x94D049BB133111EB & MASK64
    return x ^ (x >> 31)


def bucket(trial, salt, source, conn=0, direction=0):
    """Uniform 64-bit hash of the key, the same on every run and machine.
    The parts are packed into distinct bit fields (trial < 16, source and
    connection < 2**20), so distinct keys never share an input."""
    key = trial << 56 | salt << 54 | direction << 52 | conn << 24 | source
    return mix64(mix64(key ^ SEED) ^ SEED)


def zipf_weights(count, exponent, rng):
    weights = [1.0 / (rank ** exponent) for rank in range(1, count + 1)]
    rng.shuffle(weights)
    return weights


class Connection:
    __slots__ = ("source", "conn_id", "packets_out", "packets_in")

    def __init__(self, source, conn_id, packets_out, packets_in):
        self.source = source
        self.conn_id = conn_id
        self.packets_out = packets_out  # the source sends (egress)
        self.packets_in = packets_in  # the source receives (ingress)


def draw_connections(sources, exponent, mean_conns, rng):
    """Connections of every source; packets are floats (rates), total 1e6."""
    source_rate = zipf_weights(sources, exponent, rng)
    scale = 1e6 / sum(source_rate)
    conns = []
    for src in range(sources):
        count = 1 + int(rng.expovariate(1.0 / mean_conns))
        conn_rate = zipf_weights(count, 1.0, rng)
        conn_scale = source_rate[src] * scale / sum(conn_rate)
        for c in range(count):
            packets = conn_rate[c] * conn_scale
            out_share = rng.uniform(0.1, 0.9)  # requests vs responses
            conns.append(Connection(src, c, packets * out_share, packets * (1 - out_share)))
    return conns


OUT, IN = 0, 1  # directions, as seen from the mirrored source
FIRST, AFTER = 0, 1  # hash salts: the first placement, the re-placement at scale-in


def flow_hashes(mode, conn, trial):
    """64-bit hashes the NLB reduces modulo the collector count: one per
    direction of the connection, for its first placement and for its
    re-placement at scale-in (the same for every collector count)."""
    def h(direction, salt):
        if mode == "source_ip":
            return bucket(trial, salt, conn.source)
        if mode == "symmetric_port":
            return bucket(trial, salt, conn.source, conn.conn_id + 1)
        return bucket(trial, salt, conn.source, conn.conn_id + 1, direction + 1)
    return h(OUT, FIRST), h(IN, FIRST), h(OUT, AFTER), h(IN, AFTER)


def simulate(conns, hashes, n):
    """One placement, then one collector leaving; returns the figures."""
    load = [0.0] * n
    where = []  # (collector of the egress direction, of the ingress direction)
    for conn, (h_out, h_in, _, _) in zip(conns, hashes):
        out_c = h_out % n
        in_c = h_in % n
        load[out_c] += conn.packets_out
        load[in_c] += conn.packets_in
        where.append((out_c, in_c))
    total = sum(load)
    together = sum(1 for a, b in where if a == b) / len(conns)

    # Scale-in: the busiest collector leaves (the worst case for the others).
    # Its flows are placed afresh over the n-1 that remain; the rest stay.
    gone = max(range(n), key=lambda c: load[c])
    remaining = [c for c in range(n) if c != gone]
    after = [0.0] * n
    moved = 0.0
    together_after = 0
    for conn, (out_c, in_c), (_, _, h_out, h_in) in zip(conns, where, hashes):
        placed = []
        for h, c, packets in ((h_out, out_c, conn.packets_out), (h_in, in_c, conn.packets_in)):
            if c == gone:
                c = remaining[h % (n - 1)]
                moved += packets
            after[c] += packets
            placed.append(c)
        together_after += placed[0] == placed[1]
    after_loads = [after[c] for c in remaining]
    return {
        "load": load,
        "max_over_mean": max(load) / (total / n),
        "together": together,
        "gone_load": load[gone],
        "moved": moved,
        "moved_share": moved / total,
        "after_gone_load": after[gone],
        "after_total": sum(after),
        "after_max_over_mean": max(after_loads) / (sum(after_loads) / (n - 1)),
        "together_after": together_after / len(conns),
        "total": total,
    }


def busiest_source_share(conns):
    per_source = {}
    for conn in conns:
        per_source[conn.source] = per_source.get(conn.source, 0.0) + conn.packets_out + conn.packets_in
    return max(per_source.values()) / sum(per_source.values())


class Checks:
    def __init__(self):
        self.failures = 0
        self.passed = 0

    def expect(self, cond, what):
        if cond:
            self.passed += 1
        else:
            self.failures += 1
            print(f"FAIL: {what}")


def check_invariants(checks, label, conns, n, mode, r):
    total = sum(c.packets_out + c.packets_in for c in conns)
    close = lambda a, b: math.isclose(a, b, rel_tol=1e-9)
    checks.expect(close(r["total"], total), f"{label}: every packet lands on a collector")
    checks.expect(close(r["after_total"], total), f"{label}: every packet lands on a collector after scale-in")
    checks.expect(r["after_gone_load"] == 0.0, f"{label}: nothing reaches the collector that left")
    checks.expect(close(r["moved"], r["gone_load"]), f"{label}: exactly the leaving collector's load moves")
    checks.expect(r["max_over_mean"] >= 1.0 - 1e-12, f"{label}: max/mean >= 1")
    if mode in ("source_ip", "symmetric_port"):
        checks.expect(r["together"] == 1.0, f"{label}: both directions always together ({r['together']})")
        checks.expect(r["together_after"] == 1.0,
                      f"{label}: both directions still together after scale-in ({r['together_after']})")
    if mode == "source_ip":
        # A source is never split, so the busiest collector carries at least the busiest source.
        share = busiest_source_share(conns)
        checks.expect(max(r["load"]) >= share * total * (1 - 1e-9),
                      f"{label}: busiest collector carries at least the busiest source")
    if mode == "five_tuple":
        # Independent uniform hashes agree with probability 1/n; allow 5 standard deviations.
        p, count = 1.0 / n, len(conns)
        sigma = math.sqrt(p * (1 - p) / count)
        checks.expect(abs(r["together"] - p) <= 5 * sigma,
                      f"{label}: about 1/{n} of connections together ({r['together']:.4f}, ±{5 * sigma:.4f})")


def run(check):
    checks = Checks()
    rows = []
    for mix_name, sources, exponent, mean_conns in SOURCE_MIXES:
        sums = {n: {m: {"max_over_mean": 0.0, "together": 0.0, "moved_share": 0.0, "after_max_over_mean": 0.0}
                    for m in MODES} for n in COLLECTOR_COUNTS}
        top_share = 0.0
        conn_count = 0
        for trial in range(TRIALS):
            # str seeds are hashed with SHA-512: the same draw on every run.
            rng = random.Random(f"{SEED}/{mix_name}/{trial}")
            conns = draw_connections(sources, exponent, mean_conns, rng)
            top_share += busiest_source_share(conns) / TRIALS
            conn_count += len(conns) / TRIALS
            for mode in MODES:
                hashes = [flow_hashes(mode, conn, trial) for conn in conns]
                for n in COLLECTOR_COUNTS:
                    r = simulate(conns, hashes, n)
                    if check:
                        check_invariants(checks, f"{mix_name}, {n} collectors, {mode}, trial {trial}",
                                         conns, n, mode, r)
                    for k in sums[n][mode]:
                        sums[n][mode][k] += r[k] / TRIALS
        rows += [(mix_name, n, top_share, conn_count, sums[n]) for n in COLLECTOR_COUNTS]

    print(f"NLB placement model: seed {SEED}, {TRIALS} draws per row, figures are means.")
    print("max/mean: busiest collector's packets over the mean (1.00 = even).")
    print("together: connections whose two directions reach one collector.")
    print("scale-in: the busiest collector leaves; moved = share of all packets re-placed,")
    print("max/mean after = over the collectors that remain.\n")
    print("| sources | collectors | busiest source | connections | mode | max/mean | together"
          " | moved at scale-in | max/mean after |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for mix_name, n, top_share, conn_count, sums in rows:
        for mode in MODES:
            s = sums[mode]
            print(f"| {mix_name} | {n} | {top_share:.1%} | {conn_count:.0f} | {mode} | {s['max_over_mean']:.2f}"
                  f" | {s['together']:.1%} | {s['moved_share']:.1%} | {s['after_max_over_mean']:.2f} |")
    if check:
        print(f"\n{checks.passed} invariant checks passed, {checks.failures} failed")
        return 1 if checks.failures else 0
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="verify the model's invariants (exit 1 on failure)")
    args = parser.parse_args()
    sys.exit(run(args.check))


if __name__ == "__main__":
    main()
