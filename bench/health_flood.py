#!/usr/bin/env python3
"""Health under a metrics flood: /healthz latency (p50, p99, max, as curl's time_total) asked every
50 ms of a collector holding --sessions sessions, first alone, then while --scrapers clients scrape
/metrics at once, then while --non-readers clients connect (500 a second), ask for /metrics and
never read. Also: scrapes served, the collector's descriptors and RSS at their highest.
Loopback only (the collector on 127.0.0.1, ports picked free); every phase bounded.

    bench/health_flood.py BINDIR [--sessions 1000] [--scrapers 300] [--non-readers 2000]
                          [--seconds 10] [--goal-ms 100]

Prints one Markdown table; exits 1 when a check went unanswered or was not 200 (time is judged
against --goal-ms in the table only)."""
import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
import harness  # noqa: E402  (the collector on loopback, frame builders)
from http_flood import Background, NonReaders, Scrapers, health_check, open_fds, rss_kib, scrape_once  # noqa: E402


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("bindir")
    p.add_argument("--sessions", type=int, default=1000)
    p.add_argument("--scrapers", type=int, default=300)
    p.add_argument("--non-readers", type=int, default=2000)
    p.add_argument("--seconds", type=float, default=10, help="length of the quiet and the scrape phases")
    p.add_argument("--goal-ms", type=float, default=100, help="the issue's goal for a check, shown in the table")
    return p.parse_args()


def quantile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


class Phase(Background):
    """Health checks one after another, 50 ms apart; the collector's descriptors and RSS sampled
    every 50 ms beside them while the context lasts."""

    def __init__(self, name, pid):
        super().__init__()
        self.name, self.pid = name, pid
        self.codes, self.seconds = [], []
        self.fds = self.rss = 0
        self.note = ""

    def _run(self):
        while not self.stopping.wait(0.05):
            self.fds = max(self.fds, open_fds(self.pid))
            self.rss = max(self.rss, rss_kib(self.pid))

    def check(self, port):
        code, seconds = health_check(port)
        self.codes.append(code)
        self.seconds.append(seconds)
        time.sleep(0.05)

    def row(self, fds_before, rss_before, goal_ms):
        ms = [s * 1000 for s in self.seconds]
        bad = sum(1 for c in self.codes if c != 200)
        over = sum(1 for m in ms if m > goal_ms)
        return (f"| {self.name} | {len(self.codes)} | {bad} | {quantile(ms, 0.5):.1f} | {quantile(ms, 0.99):.1f} | "
                f"{max(ms):.1f} | {over} | {self.fds - fds_before:+d} | {(self.rss - rss_before) / 1024:+.0f} | "
                f"{self.note} |")


def main():
    a = parse_args()
    os.environ["MIRRORTAP_BIN"] = os.path.abspath(a.bindir)
    harness.COLLECTOR = os.path.join(os.path.abspath(a.bindir), "mirrortap-collector")
    phases = []
    with harness.Collector("--max-sessions", str(max(1024, a.sessions + 1)), "--workers", "2") as c:
        pid, port = c.proc.pid, c.metrics_port
        datagrams = [harness.vxlan(v, harness.seq_frame(v, 0)) for v in range(1, a.sessions + 1)]
        c.send(datagrams)
        c.wait_settled(len(datagrams))
        page = scrape_once(port)
        assert harness.value(harness.parse_metrics(page.decode()), "mirrortap_sessions") == a.sessions
        page_bytes = len(page)
        time.sleep(0.5)
        fds_before, rss_before = open_fds(pid), rss_kib(pid)

        with Phase("alone", pid) as quiet:
            deadline = time.monotonic() + a.seconds
            while time.monotonic() < deadline:
                quiet.check(port)
        phases.append(quiet)

        with Phase(f"{a.scrapers} clients scraping /metrics together every second", pid) as scraped:
            with Scrapers(port, a.scrapers, max_seconds=a.seconds + 30) as scrapers:
                deadline = time.monotonic() + a.seconds
                while time.monotonic() < deadline:
                    scraped.check(port)
        scraped.note = f"{scrapers.pages} pages scraped, {len(scrapers.failures)} failed"
        phases.append(scraped)

        with Phase(f"{a.non_readers} clients asking and never reading", pid) as flooded:
            with NonReaders(port, a.non_readers) as flood:
                while flood.opening():
                    flooded.check(port)
                flooded.note = f"{flood.asked} asked for the page"
        phases.append(flooded)
        assert c.stop() == 0

    print(f"\nhealth under a metrics flood — {time.strftime('%Y-%m-%dT%H:%MZ', time.gmtime())}, {os.cpu_count()} cores; "
          f"{a.sessions} sessions, a page of {page_bytes} bytes; /healthz every 50 ms (curl time_total)\n")
    print(f"| load | checks | not 200 | p50 ms | p99 ms | max ms | over {a.goal_ms:.0f} ms | "
          f"descriptors (highest, vs before) | RSS MiB (highest, vs before) | notes |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for p in phases:
        print(p.row(fds_before, rss_before, a.goal_ms))
    print(f"\nbefore the load: {fds_before} descriptors, RSS {rss_before / 1024:.0f} MiB")
    return 1 if any(code != 200 for p in phases for code in p.codes) else 0


if __name__ == "__main__":
    sys.exit(main())
