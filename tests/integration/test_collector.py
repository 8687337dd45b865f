"""The collector end to end: crafted VXLAN in, pcaps out, read back with tcpdump/tshark, counts with curl."""
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

from harness import (COLLECTOR, SKIP, Collector, check_identities, free_port, leftovers, run, seq_frame, session_files,
                     tcpdump_frames, tshark_lengths, udp4_frame, udp6_frame, value, vxlan, ethernet, ipv4, udp)


def every_frame_kind():
    """Each case: (vni, inner frame). Order within a VNI is the order sent."""
    jumbo_payload = bytes(range(256)) * 35
    truncated = ethernet(0x0800) + ipv4(6, "10.9.0.1", "10.9.0.2", 0, total_length=1500)
    truncated += struct.pack("!HH", 443, 55555) + b"\xAB" * (128 - len(truncated) - 4)
    return [
        (0, udp4_frame(sport=1)),
        (501, udp4_frame(sport=2)),
        (16777215, udp4_frame(sport=3)),
        (501, udp4_frame(sport=4, vlans=[(0x8100, 100)])),
        (501, udp4_frame(sport=5, vlans=[(0x88A8, 10), (0x8100, 20)])),
        (502, udp6_frame()),
        (502, udp4_frame(sport=6, payload=jumbo_payload[:9000 - 42])),  # 9000-byte jumbo frame
        (503, truncated),  # AWS packet_length 128 of a 1514-byte frame
        (0, ethernet(0x0806) + b"\x00" * 28),  # ARP: non-IP is written too
    ]


MALFORMED = [
    (b"\x08\x00\x00", "too_short"),
    (vxlan(7, udp4_frame(), flags=0x00), "no_vni_flag"),
    (vxlan(7, b"\x02" * 13), "inner_too_short"),
    (b"", "too_short"),
]


# Sessions every_frame_kind() makes, by VNI.
EVERY_KIND_SESSIONS = {0: "vni-0", 501: "web", 502: "vni-502", 503: "vni-503", 16777215: "vni-16777215"}


def every_frame_kind_was_written(c, m, cases):
    """What a collector sent every_frame_kind() and MALFORMED (config: VNI 501 named web) must
    show: counts by reason and session, then, once stopped, one file per session holding exactly
    its frames in the order sent."""
    check_identities(m)
    for _, reason in set(MALFORMED):
        want = sum(1 for _, r in MALFORMED if r == reason)
        assert value(m, "mirrortap_decap_errors_total", reason=reason) == want, reason
    assert value(m, "mirrortap_session_packets_total", session="web", vni="501") == 3
    assert value(m, "mirrortap_sink_written_packets_total", sink="pcap") == len(cases)
    assert value(m, "mirrortap_sessions") == 5
    assert c.stop() == 0
    names = EVERY_KIND_SESSIONS
    assert sorted(os.listdir(c.pcap_dir)) == sorted(names.values()), os.listdir(c.pcap_dir)
    for vni, name in names.items():
        files = session_files(c.pcap_dir, name)
        assert len(files) == 1, files
        want = [f for v, f in cases if v == vni]
        got = tcpdump_frames(files[0])
        assert got == want, f"{name}: frames differ ({len(got)} read, {len(want)} sent)"
    lengths = tshark_lengths(session_files(c.pcap_dir, "vni-503")[0])
    assert lengths == [(1514, 128)], lengths  # caplen as received, length from the IP header
    assert leftovers(c.pcap_dir) == []


def frames_are_written_exactly():
    cases = every_frame_kind()
    config = "sessions:\n  - {vni: 501, name: web}\n"
    with Collector(config=config) as c:
        c.send([vxlan(v, f) for v, f in cases] + [d for d, _ in MALFORMED])
        m = c.wait_settled(len(cases) + len(MALFORMED))
        every_frame_kind_was_written(c, m, cases)


def rotation_makes_valid_files():
    count = 3000
    with Collector("--rotate-size", "32K") as c:
        c.send([vxlan(9, seq_frame(9, i)) for i in range(count)])
        m = c.wait_settled(count)
        check_identities(m)
        assert c.stop() == 0
        files = session_files(c.pcap_dir, "vni-9")
        assert len(files) >= 10, len(files)
        seqs = []
        for f in files:
            assert os.path.getsize(f) <= 32 * 1024
            seqs += [struct.unpack("!I", fr[46:50])[0] for fr in tcpdump_frames(f)]
        assert seqs == list(range(count)), "records lost, repeated or reordered across files"
        assert leftovers(c.pcap_dir) == []
        rotated = value(m, "mirrortap_pcap_files_rotated_total")
        assert rotated == len(files) - 1  # the last one was finished by SIGTERM, after the scrape


def sighup_starts_new_files():
    with Collector() as c:
        c.send([vxlan(3, seq_frame(3, i)) for i in range(10)])
        c.wait_settled(10)
        c.proc.send_signal(signal.SIGHUP)
        for _ in range(100):
            if len(session_files(c.pcap_dir, "vni-3")) == 1:
                break
            time.sleep(0.05)
        assert len(session_files(c.pcap_dir, "vni-3")) == 1, "SIGHUP did not finish the open file"
        c.send([vxlan(3, seq_frame(3, i)) for i in range(10, 20)])
        c.wait_settled(20)
        assert c.stop() == 0
        files = session_files(c.pcap_dir, "vni-3")
        assert len(files) == 2, files
        assert [len(tcpdump_frames(f)) for f in files] == [10, 10]


def retention_by_age_removes_only_older_files():
    """pcap.retain_seconds: the finished files last written (their modification
    time) more than the limit ago go, with their flow indexes, in every session
    directory (also one no session of this run holds); younger files, and
    those this run writes, stay. A reload that lowers the limit applies at
    once. Files are made old with os.utime: nothing waits on the clock."""
    pcap_dir = os.path.join(tempfile.mkdtemp(prefix="mirrortap-age-"), "captures")
    now = time.time()

    def plant(session, name, age_seconds):
        directory = os.path.join(pcap_dir, session)
        os.makedirs(directory, exist_ok=True)
        path = os.path.join(directory, name)
        for p in (path, path + ".flows.json.gz"):
            with open(p, "wb") as f:
                f.write(b"an earlier run's file")
        os.utime(path, (now - age_seconds, now - age_seconds))
        return path

    def gone(*paths):
        for _ in range(200):  # bounded: 10 s
            if not any(os.path.exists(p) for p in paths):
                return
            time.sleep(0.05)
        raise AssertionError(f"still there: {[p for p in paths if os.path.exists(p)]}")

    old = plant("web", "web-20261101T000000Z-000001.pcap", 2 * 3600)
    young = plant("web", "web-20261101T013000Z-000001.pcap", 30 * 60)
    other = plant("other", "other-20261031T000000Z-000001.pcap", 2 * 86400)
    config = "pcap:\n  retain_seconds: {}\n  rotate_seconds: 0\nsessions:\n  - {{vni: 501, name: web}}\n"
    with Collector(pcap_dir=pcap_dir, config=config.format("1h")) as c:
        gone(old, old + ".flows.json.gz", other, other + ".flows.json.gz")
        assert os.path.exists(young) and os.path.exists(young + ".flows.json.gz")
        c.send([vxlan(501, seq_frame(501, i)) for i in range(10)])
        c.wait_settled(10)
        c.reload(config.format("10m"))  # finishes the open file too
        c.wait_stderr("reloaded")
        gone(young, young + ".flows.json.gz")
        written = [f for f in session_files(pcap_dir, "web")]
        assert len(written) == 1 and len(tcpdump_frames(written[0])) == 10, written
        assert c.stop() == 0
    assert session_files(pcap_dir, "web") == written


def ipv6_listen_works():
    port = free_port(family=socket.AF_INET6, host="::1")
    with Collector(listen=f"[::1]:{port}") as c:
        c.send([vxlan(66, udp4_frame())] * 5, source="::1", family=socket.AF_INET6)
        m = c.wait_settled(5)
        assert value(m, "mirrortap_session_packets_total", vni="66") == 5
        assert c.stop() == 0
        assert len(tcpdump_frames(session_files(c.pcap_dir, "vni-66")[0])) == 5


def two_workers_keep_session_order():
    sessions, per_session = 8, 400
    with Collector(workers=2) as c:
        datagrams = [vxlan(100 + s, seq_frame(s, i)) for i in range(per_session) for s in range(sessions)]
        c.send(datagrams)
        m = c.wait_settled(len(datagrams))
        check_identities(m)
        assert c.stop() == 0
        for s in range(sessions):
            seqs = []
            for f in session_files(c.pcap_dir, f"vni-{100 + s}"):
                seqs += [struct.unpack("!I", fr[46:50])[0] for fr in tcpdump_frames(f)]
            assert seqs == list(range(per_session)), f"session {s} out of order or incomplete"


def sessions_split_by_source():
    with Collector("--session-key", "vni_and_source") as c:
        c.send([vxlan(7, udp4_frame())] * 3, source="127.0.0.1")
        c.send([vxlan(7, udp4_frame())] * 4, source="127.0.0.2")
        m = c.wait_settled(7)
        assert value(m, "mirrortap_session_packets_total", session="vni-7-127.0.0.1") == 3
        assert value(m, "mirrortap_session_packets_total", session="vni-7-127.0.0.2") == 4
        assert c.stop() == 0


def session_limit_is_counted():
    with Collector("--max-sessions", "2") as c:
        c.send([vxlan(v, udp4_frame()) for v in (1, 2, 3, 3, 1)])
        m = c.wait_settled(5)
        check_identities(m)
        assert value(m, "mirrortap_decap_errors_total", reason="session_limit") == 2
        assert value(m, "mirrortap_sessions") == 2
        assert c.stop() == 0
        assert sorted(os.listdir(c.pcap_dir)) == ["vni-1", "vni-2"]


def idle_sessions_end_and_free_their_slots():
    """1024 VNIs from anyone fill max_sessions; once idle they end, their files are finished, and new VNIs get in."""
    count, limit = 1030, 1024
    frames = {1000 + i: udp4_frame(sport=i) for i in range(count)}
    # Sessions share blocks: the smallest pool there is (4 blocks) holds every session's first record.
    config = "pcap:\n  buffer_size: 65552\n  buffer_blocks: 4\n"
    with Collector("--session-idle-seconds", "1", "--rotate-seconds", "0", "--max-sessions", str(limit),
                   config=config) as c:
        c.send([vxlan(v, f) for v, f in frames.items()])
        m = c.wait_settled(count)
        check_identities(m)
        assert value(m, "mirrortap_decap_errors_total", reason="session_limit") == count - limit
        for _ in range(400):  # bounded: 20 s; ended 64 at a time, a few times a second
            m = c.metrics()
            if value(m, "mirrortap_sessions_expired_total") == limit:
                break
            time.sleep(0.05)
        assert value(m, "mirrortap_sessions_expired_total") == limit, m
        assert value(m, "mirrortap_sessions") == 0
        check_identities(m)
        assert value(m, "mirrortap_expired_session_packets_total") == limit
        assert value(m, "mirrortap_expired_sink_written_packets_total", sink="pcap") == limit, \
            {k: v for k, v in m.items() if k[0].startswith("mirrortap_expired") and v}
        # Their files are finished while the collector runs: no .part, no `current`.
        assert leftovers(c.pcap_dir) == [], leftovers(c.pcap_dir)[:5]
        for vni in (1000, 1500, 1000 + limit - 1):
            files = session_files(c.pcap_dir, f"vni-{vni}")
            assert len(files) == 1, files
            assert tcpdump_frames(files[0]) == [frames[vni]]
        # A new VNI gets a session now, and an old one a new session (and file).
        c.send([vxlan(5000, udp4_frame(sport=1)), vxlan(1000, udp4_frame(sport=2))])
        m = c.wait_settled(count + 2)
        check_identities(m)
        assert value(m, "mirrortap_decap_errors_total", reason="session_limit") == count - limit
        assert value(m, "mirrortap_session_packets_total", vni="5000") == 1
        assert value(m, "mirrortap_session_packets_total", vni="1000") == 1
        assert value(m, "mirrortap_sessions") == 2
        assert c.stop() == 0
        assert len(session_files(c.pcap_dir, "vni-1000")) == 2
        assert tcpdump_frames(session_files(c.pcap_dir, "vni-5000")[0]) == [udp4_frame(sport=1)]
        assert leftovers(c.pcap_dir) == []


def reload_ends_sessions_its_allowlist_refuses():
    """A reload that narrows allowed_vnis ends the refused sessions at once and frees their slots."""
    with Collector("--max-sessions", "3", "--rotate-seconds", "0", config="allowed_vnis: []\n") as c:
        c.send([vxlan(v, udp4_frame(sport=v)) for v in (1, 2, 3, 4)])
        m = c.wait_settled(4)
        assert value(m, "mirrortap_decap_errors_total", reason="session_limit") == 1
        c.reload("allowed_vnis: [1, 4]\n")
        c.wait_stderr("reloaded")
        m = c.wait_metrics(lambda m: value(m, "mirrortap_sessions_expired_total") == 2, "2 sessions ended")
        assert value(m, "mirrortap_sessions") == 1
        check_identities(m)
        assert leftovers(os.path.join(c.pcap_dir, "vni-2")) == []
        assert tcpdump_frames(session_files(c.pcap_dir, "vni-3")[0]) == [udp4_frame(sport=3)]
        c.send([vxlan(4, udp4_frame(sport=4)), vxlan(2, udp4_frame())])
        m = c.wait_settled(6)
        check_identities(m)
        assert value(m, "mirrortap_session_packets_total", vni="4") == 1  # a freed slot
        assert value(m, "mirrortap_decap_errors_total", reason="vni_not_allowed") == 1
        assert c.stop() == 0
        assert sorted(os.listdir(c.pcap_dir)) == ["vni-1", "vni-2", "vni-3", "vni-4"]


def health_follows_the_pcap_directory():
    with Collector("--rotate-seconds", "0") as c:
        c.send([vxlan(5, udp4_frame())])
        c.wait_settled(1)
        assert c.http_status("/healthz") == 200
        assert c.http_status("/readyz") == 200
        # Root ignores permissions, so make the session directory impossible instead:
        # a plain file where the directory was.
        session_dir = os.path.join(c.pcap_dir, "vni-5")
        os.rename(session_dir, session_dir + ".moved")
        with open(session_dir, "w") as f:
            f.write("not a directory")
        c.proc.send_signal(signal.SIGHUP)
        time.sleep(0.3)
        c.send([vxlan(5, udp4_frame())] * 3)
        for _ in range(100):
            if c.http_status("/healthz") == 503:
                break
            time.sleep(0.05)
        assert c.http_status("/healthz") == 503
        m = c.metrics()
        assert value(m, "mirrortap_healthy") == 0
        assert value(m, "mirrortap_sink_dropped_packets_total", reason="not_open") == 3
        check_identities(m)
        os.remove(session_dir)
        for _ in range(100):  # bounded: the sink retries every second
            if c.http_status("/healthz") == 200:
                break
            time.sleep(0.05)
        assert c.http_status("/healthz") == 200
        assert c.stop() == 0


def bad_input_gives_one_clear_line():
    tmp = tempfile.mkdtemp()
    blocked = os.path.join(tmp, "file")
    open(blocked, "w").close()
    bad_yaml = os.path.join(tmp, "bad.yaml")
    with open(bad_yaml, "w") as f:
        f.write("listen: [127.0.0.1\n")
    unknown = os.path.join(tmp, "unknown.yaml")
    with open(unknown, "w") as f:
        f.write("listen: 127.0.0.1:4789\npcap:\n  rotate_sise: 1G\n")
    bad_group = os.path.join(tmp, "group.yaml")
    with open(bad_group, "w") as f:
        f.write("pcap:\n  group: no-such-group\n")
    busy = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    busy.bind(("127.0.0.1", 0))
    busy_port = busy.getsockname()[1]
    cases = [
        (["--frobnicate"], "unknown option"),
        (["--listen", "300.1.1.1:4789"], "not an IPv4 or IPv6 address"),
        (["--listen", "127.0.0.1"], "ADDRESS:PORT"),
        (["--rotate-size", "lots"], "bad --rotate-size"),
        (["--listen", f"127.0.0.1:{busy_port}", "--pcap-dir", tmp], "Address already in use"),
        (["--listen", "127.0.0.1:0", "--pcap-dir", blocked + "/sub"], "cannot create pcap directory"),
        (["--config", bad_yaml], "bad.yaml:2:1: "),  # where the parser gave up
        (["--config", unknown], "unknown.yaml:3:3: unknown key 'rotate_sise'"),
        (["--config", os.path.join(tmp, "missing.yaml")], "cannot read"),
        (["--config", bad_group, "--listen", "127.0.0.1:0", "--pcap-dir", tmp], "unknown group 'no-such-group'"),
        (["--user", "no-such-user", "--listen", "127.0.0.1:0", "--pcap-dir", tmp], "unknown user 'no-such-user'"),
    ]
    if os.geteuid() == 0:
        # Refused before any socket opens; every other case runs with --allow-root.
        out = subprocess.run([COLLECTOR, "--listen", "127.0.0.1:0", "--pcap-dir", tmp], capture_output=True,
                             text=True, timeout=10)
        assert out.returncode == 1 and "refusing to run as root" in out.stderr, out.stderr
        cases = [(args + ["--allow-root"], expect) for args, expect in cases]
    for args, expect in cases:
        out = subprocess.run([COLLECTOR] + args, capture_output=True, text=True, timeout=10)
        lines = out.stderr.strip().splitlines()
        assert out.returncode != 0, f"{args}: exit 0"
        assert out.returncode < 128, f"{args}: crashed with {out.returncode}"
        assert len(lines) == 1, f"{args}: {out.stderr!r}"
        assert expect in lines[0], f"{args}: {lines[0]!r} lacks {expect!r}"
        assert lines[0].startswith("mirrortap-collector: ")
    busy.close()


def help_version_and_check_config():
    out = subprocess.run([COLLECTOR, "--help"], capture_output=True, text=True, timeout=10)
    assert out.returncode == 0
    for flag in ["--listen", "--workers", "--rcvbuf", "--snaplen", "--pcap-dir", "--rotate-size", "--rotate-seconds",
                 "--retain-files", "--retain-bytes", "--session-key", "--max-sessions", "--metrics-listen",
                 "--check-config", "--config", "--version", "Example"]:
        assert flag in out.stdout, flag
    out = subprocess.run([COLLECTOR, "--version"], capture_output=True, text=True, timeout=10)
    assert out.returncode == 0 and out.stdout.startswith("mirrortap-collector ")
    example = os.path.join(os.path.dirname(__file__), "../../config/example.yaml")
    out = subprocess.run([COLLECTOR, "--config", example, "--check-config"], capture_output=True, text=True,
                         timeout=10)
    assert out.returncode == 0 and "OK" in out.stdout, out.stderr



def oversized_inner_frames_are_cut_to_the_snaplen():
    """A mirrored frame longer than any MTU (a GRO super-frame, say: 30000 bytes) is kept up to
    the snaplen with its true length, like any other frame; none is refused for its size."""
    big = udp4_frame(sport=7, payload=bytes(range(256)) * 117)  # 29994 bytes of frame
    small = udp4_frame(sport=8)
    with Collector("--snaplen", "9000") as c:
        c.send([vxlan(11, big), vxlan(11, small)])
        m = c.wait_settled(2)
        check_identities(m)
        assert value(m, "mirrortap_decap_errors_total", reason="datagram_truncated") == 0
        assert value(m, "mirrortap_sink_written_packets_total", sink="pcap") == 2
        assert c.stop() == 0
        files = session_files(c.pcap_dir, "vni-11")
        assert tshark_lengths(files[0]) == [(len(big), 9000), (len(small), len(small))]
        assert tcpdump_frames(files[0])[0] == big[:9000]


# System calls that touch the file system (or write to a file), which a receive worker must never make.
FILE_SYSTEM_CALLS = "%file,write,writev,pwrite64,pwritev,pwritev2,ftruncate,fstatfs,fsync,fdatasync,fchmod,fchown,close"


def receive_workers_make_no_file_system_calls():
    """strace -f while traffic flows, files rotate every second and SIGHUPs reload: until SIGTERM, the
    threads named mt-recv-N make none of FILE_SYSTEM_CALLS; mt-pcap-writer makes them all."""
    strace = shutil.which("strace")
    if not strace:
        print("SKIP: needs strace (./dev test installs it)")
        sys.exit(SKIP)
    with open(COLLECTOR, "rb") as f:
        sanitized = b"__asan_init" in f.read()
    if sanitized:
        # LeakSanitizer cannot work under ptrace: it would fail the exit, not find a leak.
        os.environ["ASAN_OPTIONS"] = os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0"
    with Collector("--rotate-seconds", "1", workers=2, defer_start=True) as c:
        trace = os.path.join(c.tmp, "strace.out")
        # In a sanitized build, stacks (-k) tell the runtime's own calls (UBSan's vptr check probes
        # memory through a pipe) from ours.
        c.cmd = [strace, "-f", "-qq", "-ttt", "--seccomp-bpf"] + (["-k"] if sanitized else []) + \
            ["-o", trace, "-e", f"trace={FILE_SYSTEM_CALLS}"] + c.cmd
        c.start()
        with open(f"/proc/{c.proc.pid}/task/{c.proc.pid}/children") as f:
            collector_pid = int(f.read().split()[0])
        threads = {}
        for tid in os.listdir(f"/proc/{collector_pid}/task"):
            with open(f"/proc/{collector_pid}/task/{tid}/comm") as f:
                threads[int(tid)] = f.read().strip()
        workers = {t for t, name in threads.items() if name.startswith("mt-recv-")}
        writers = {t for t, name in threads.items() if name == "mt-pcap-writer"}
        assert len(workers) == 2 and len(writers) == 1, threads
        sent = 0
        for round in range(4):  # bounded: four seconds of traffic, a reload each
            for vni in (21, 22):  # the workers steer by VNI: one session each
                c.send([vxlan(vni, seq_frame(vni, sent + i)) for i in range(300)])
            sent += 300
            os.kill(collector_pid, signal.SIGHUP)
            time.sleep(1.1)
        m = c.wait_settled(2 * sent)
        check_identities(m)
        # Judged up to here: at exit a sanitizer runtime may make calls of its own on a finishing thread.
        stopped_at = time.time()
        os.kill(collector_pid, signal.SIGTERM)
        assert c.proc.wait(timeout=30) == 0
        files = session_files(c.pcap_dir, "vni-21") + session_files(c.pcap_dir, "vni-22")
        assert len(files) >= 6, f"files did not rotate under the trace: {files}"
        assert sum(len(tcpdump_frames(f)) for f in files) == value(m, "mirrortap_sink_written_packets_total")

    calls = {}
    line_of = {}
    with open(trace) as f:
        # One entry per finished call: a whole line, or the "<... resumed>" line of an interrupted one,
        # with -k followed by its stack (" > frame" lines).
        finished = []
        for line in f:
            if line.startswith(" > "):
                if finished and ("__sanitizer::" in line or "__ubsan::" in line):
                    finished[-1]["runtime"] = True
                continue
            found = re.match(r"^(\d+)\s+(\d+\.\d+)\s+(?:<\.\.\. )?(\w+)", line)
            if found and "<unfinished ...>" not in line:
                finished.append({"tid": int(found.group(1)), "at": float(found.group(2)), "name": found.group(3),
                                 "line": line.strip(), "runtime": False})
    for call in finished:
        if call["at"] < stopped_at and not call["runtime"]:
            calls.setdefault(call["tid"], set()).add(call["name"])
            line_of.setdefault((call["tid"], call["name"]), call["line"])
    for tid in workers:
        made = calls.get(tid, set())
        assert not made, f"receive worker {threads[tid]} made {sorted(made)}, e.g. " + \
            "; ".join(line_of[(tid, n)] for n in sorted(made))
    writer_calls = calls.get(next(iter(writers)), set())
    for needed in ("openat", "writev", "renameat", "symlinkat"):
        assert needed in writer_calls, f"the writer thread made no {needed}: the trace saw {sorted(writer_calls)}"



def _start_and_stop(prefix, pcap_dir, rcvbuf):
    """Runs the collector until it listens, stops it, returns its stderr (bounded: 10 s)."""
    cmd = prefix + [COLLECTOR, "--listen", "127.0.0.1:0", "--workers", "1", "--pcap-dir", pcap_dir,
                    "--rcvbuf", str(rcvbuf), "--allow-root"]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    lines = []
    deadline = time.time() + 10
    while time.time() < deadline:
        line = proc.stderr.readline()
        lines.append(line)
        if not line or "listening on" in line:
            break
    proc.send_signal(signal.SIGTERM)
    _, rest = proc.communicate(timeout=10)
    return "".join(lines) + rest


def a_capped_receive_buffer_is_reported():
    """Unprivileged, the kernel caps the receive buffer at net.core.rmem_max: the collector says
    so at start, with the fix, instead of losing the first burst silently. Root gets it whole."""
    with open("/proc/sys/net/core/rmem_max") as f:
        cap = int(f.read())
    want = cap * 4
    tmp = tempfile.mkdtemp()
    os.chmod(tmp, 0o777)
    capped = _start_and_stop(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"],
                             os.path.join(tmp, "nobody"), want)
    assert "warning: receive buffer" in capped, capped
    assert f"sysctl -w net.core.rmem_max={want}" in capped, capped
    whole = _start_and_stop([], os.path.join(tmp, "root"), want)
    assert "listening on" in whole and "warning: receive buffer" not in whole, whole


def every_reason_is_named_once():
    """Every refusal and drop has its own `reason` label: each family with a reason shows each
    of its reasons once (parse_metrics refuses a series given twice), in snake_case, before
    anything was refused, and the refusals that happen are counted under their own names."""
    with Collector("--listen-geneve", f"127.0.0.1:{free_port()}") as c:
        c.send([b"\x08\x00", vxlan(5, udp4_frame())[:12], vxlan(6, udp4_frame(), flags=0x00)])
        m = c.wait_metrics(lambda m: value(m, "mirrortap_decap_errors_total") >= 3, "three refusals counted")
        reasons = {}
        for (name, labels), _ in m.items():
            for key, label in labels:
                if key == "reason":
                    reasons.setdefault(name, []).append(label)
        assert "mirrortap_decap_errors_total" in reasons, sorted(reasons)
        for name, labels in reasons.items():
            for label in labels:
                assert re.fullmatch(r"[a-z0-9_]+", label), (name, label)
        decap = reasons["mirrortap_decap_errors_total"]
        assert len(decap) == len(set(decap)), decap
        assert value(m, "mirrortap_decap_errors_total", reason="too_short") == 1
        assert value(m, "mirrortap_decap_errors_total", reason="inner_too_short") == 1
        assert value(m, "mirrortap_decap_errors_total", reason="no_vni_flag") == 1


if __name__ == "__main__":
    run({f.__name__: f for f in [
        frames_are_written_exactly, rotation_makes_valid_files, sighup_starts_new_files, ipv6_listen_works,
        two_workers_keep_session_order, sessions_split_by_source, session_limit_is_counted,
        idle_sessions_end_and_free_their_slots, reload_ends_sessions_its_allowlist_refuses, health_follows_the_pcap_directory, bad_input_gives_one_clear_line, help_version_and_check_config,
        oversized_inner_frames_are_cut_to_the_snaplen, receive_workers_make_no_file_system_calls,
        a_capped_receive_buffer_is_reported, every_reason_is_named_once, retention_by_age_removes_only_older_files]})
