"""/metrics under load and at high cardinality: health keeps answering while hundreds of clients
scrape at once or ask and never read, the HTTP server's descriptors and memory stay within what
its caps allow, and a page capped by metrics.max_session_series still reconciles exactly.
Judged by answers and counts, never by how long anything took."""
import os
import time

from harness import COLLECTOR, Collector, check_identities, parse_metrics, run, seq_frame, value, vxlan
from http_flood import NonReaders, Scrapers, health_check, open_fds, rss_kib, sanitized

# The HTTP server's caps (support/http_server.hpp, docs/interfaces.md).
MAX_CONNECTIONS = 512
MAX_UNSENT_BYTES = 64 << 20
READ_AHEAD_BYTES = 16384  # a connection's request buffer
PCAP_HEADER_BYTES, PCAP_RECORD_HEADER_BYTES = 24, 16


def sessions_with_traffic(c, count, packets_of=lambda vni: 1):
    """Sends packets_of(vni) frames to each of VNIs 1..count; returns the number sent, settled."""
    datagrams = [vxlan(vni, seq_frame(vni, i)) for vni in range(1, count + 1) for i in range(packets_of(vni))]
    c.send(datagrams)
    c.wait_settled(len(datagrams))
    return len(datagrams)


def health_answers_while_300_clients_scrape():
    """1,000 sessions (a page of ~850 KB), 300 clients scraping it together once a second, for
    two rounds: /healthz and /readyz answer 200 every time they are asked while the scrapes go
    on, and every scrape gets the whole page."""
    with Collector("--max-sessions", "2000") as c:
        sent = sessions_with_traffic(c, 1000)
        checks = []
        with Scrapers(c.metrics_port, 300) as scrapers:
            while scrapers.pages < 600 and not scrapers.failures:  # bounded by the scrapers' own deadline
                checks.append(health_check(c.metrics_port)[0])
                checks.append(health_check(c.metrics_port, "/readyz")[0])
                if time.monotonic() > scrapers.deadline:
                    break
        assert checks and checks == [200] * len(checks), checks
        assert not scrapers.failures, scrapers.failures[:5]
        assert scrapers.pages >= 600, f"only {scrapers.pages} pages scraped"
        m = parse_metrics(scrapers.page.decode())
        assert value(m, "mirrortap_sessions") == 1000
        assert value(m, "mirrortap_session_packets_total") == sent
        check_identities(m)
        assert c.stop() == 0


def health_answers_while_2000_clients_never_read():
    """2,000 clients connect at 500 a second; three in four ask for the ~850 KB page with a 4 KiB
    receive buffer and never read it, the rest say nothing. Meanwhile health answers 200 every
    time, the collector's descriptors never exceed what it held before by more than the connection
    cap (+1: the one accepted before the idlest goes), its memory grows by less than the cap on
    unsent answers plus each connection's buffers (not judged under a sanitizer), and once the clients stop coming it closes
    every one of them itself: they are still open on our side."""
    with Collector("--max-sessions", "2000") as c:
        sessions_with_traffic(c, 1000)
        pid = c.proc.pid
        assert health_check(c.metrics_port)[0] == 200
        fds_before, rss_before = open_fds(pid), rss_kib(pid)
        fd_bound = fds_before + MAX_CONNECTIONS + 1
        # Generous per connection (request buffer, parser, answer header, socket state) x 4.
        rss_bound = rss_before + (MAX_UNSENT_BYTES + MAX_CONNECTIONS * READ_AHEAD_BYTES * 4) // 1024
        checks, fds_seen, rss_seen = [], [], []
        with NonReaders(c.metrics_port, 2000) as flood:
            while flood.opening():  # bounded: 2,000 connections at 500 a second
                checks.append(health_check(c.metrics_port)[0])
                fds_seen.append(open_fds(pid))
                rss_seen.append(rss_kib(pid))
            assert flood.asked > 1000, f"only {flood.asked} clients got their request in"
            closed = False
            for _ in range(300):  # bounded: 30 s; every deadline is 5 s
                fds_seen.append(open_fds(pid))
                if fds_seen[-1] <= fds_before:
                    closed = True
                    break
                time.sleep(0.1)
            assert closed, f"{fds_seen[-1] - fds_before} connections still open on the collector's side"
        assert checks and checks == [200] * len(checks), checks
        assert max(fds_seen) > fds_before + MAX_CONNECTIONS // 2, "the flood never held many connections"
        assert max(fds_seen) <= fd_bound, f"{max(fds_seen)} descriptors, bound {fd_bound} ({fds_before} before)"
        if not sanitized(COLLECTOR):
            assert max(rss_seen) <= rss_bound, f"RSS {max(rss_seen)} KiB, bound {rss_bound} KiB ({rss_before} before)"
        # Still serving: a scrape after the flood gets the page.
        m = c.metrics()
        assert value(m, "mirrortap_sessions") == 1000
        assert c.stop() == 0


def pcap_bytes_on_disk(pcap_dir):
    """Bytes in the pcap files (finished or not; not `current`, a link to one of them)."""
    return sum(os.path.getsize(os.path.join(root, f)) for root, _, files in os.walk(pcap_dir)
               for f in files if f.endswith((".pcap", ".pcap.part")))


def capped_metrics_reconcile():
    """300 sessions, VNI v sent 1 + v % 13 frames, metrics.max_session_series 50, VNI 7 named (and
    quiet): VNI 7 and the 49 loudest have series of their own, the other 250 are summed into
    session="other" (vni=""), mirrortap_sessions_folded says 250, and every identity holds over
    the capped page. Once the sessions end, other keeps what it counted (it never goes down) while
    the ended own sessions move to the expired totals; new sessions take the freed places.
    Places are given when a scrape first sees a session, so the first scrape waits until every
    record is in the pcap files (their sizes say so), not for a time."""
    config = "metrics:\n  max_session_series: 50\nsessions: [{vni: 7, name: named-quiet}]\n"
    packets_of = lambda vni: 1 + vni % 13  # noqa: E731
    with Collector(config=config) as c:
        datagrams = [vxlan(vni, seq_frame(vni, i)) for vni in range(1, 301) for i in range(packets_of(vni))]
        sent = len(datagrams)
        c.send(datagrams)
        on_disk = 300 * PCAP_HEADER_BYTES + sent * (PCAP_RECORD_HEADER_BYTES + 200)  # seq_frame's 200 bytes
        for _ in range(400):  # bounded: 20 s; records reach the files within flush_interval_ms
            if pcap_bytes_on_disk(c.pcap_dir) >= on_disk:
                break
            time.sleep(0.05)
        assert pcap_bytes_on_disk(c.pcap_dir) == on_disk, (pcap_bytes_on_disk(c.pcap_dir), on_disk)
        m = c.metrics()
        check_identities(m)
        own = {dict(l)["session"]: v for (n, l), v in m.items()
               if n == "mirrortap_session_packets_total" and dict(l)["session"] != "other"}
        assert len(own) == 50, sorted(own)
        assert "named-quiet" in own and own["named-quiet"] == packets_of(7)
        others = [vni for vni in range(1, 301) if f"vni-{vni}" not in own and vni != 7]
        assert len(others) == 250
        loudest_folded = max(packets_of(v) for v in others)
        assert min(v for s, v in own.items() if s != "named-quiet") >= loudest_folded, own
        other = value(m, "mirrortap_session_packets_total", session="other", vni="")
        assert other == sum(packets_of(v) for v in others)
        assert value(m, "mirrortap_sessions_folded") == 250
        assert value(m, "mirrortap_sessions") == 300
        assert value(m, "mirrortap_session_packets_total") == sent == value(m, "mirrortap_received_packets_total")
        # The page holds 51 sessions' series, not 300.
        assert len([k for k in m if k[0] == "mirrortap_session_packets_total"]) == 51

        # A reload makes them end after a second without packets.
        c.reload(config + "session_idle_seconds: 1\n")
        m = c.wait_metrics(lambda m: value(m, "mirrortap_sessions") == 0, "every session ended")
        check_identities(m)
        assert value(m, "mirrortap_session_packets_total", session="other") == other
        assert value(m, "mirrortap_expired_session_packets_total") == sent - other
        assert value(m, "mirrortap_sessions_folded") == 0
        assert value(m, "mirrortap_sessions_expired_total") == 300

        # New sessions: the 50 places are free again.
        more = [vxlan(vni, seq_frame(vni, 0)) for vni in range(1001, 1061)]
        c.send(more)
        m = c.wait_settled(sent + len(more))
        check_identities(m)
        assert value(m, "mirrortap_sessions_folded") == 10
        assert value(m, "mirrortap_session_packets_total", session="other") == other + 10
        assert len([k for k in m if k[0] == "mirrortap_session_packets_total"]) == 51
        assert c.stop() == 0


if __name__ == "__main__":
    run({f.__name__: f for f in [health_answers_while_300_clients_scrape,
                                 health_answers_while_2000_clients_never_read, capped_metrics_reconcile]})
