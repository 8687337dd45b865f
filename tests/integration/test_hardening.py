"""Hostile senders, full disks, credentials and privileges: the collector stays honest and whole."""
import grp
import hashlib
import os
import pwd
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

from harness import (COLLECTOR, Collector, check_identities, leftovers, run, seq_frame, session_files, tcpdump_frames,
                     udp4_frame, value, vxlan)


def strangers_are_refused_and_counted():
    with Collector("--allow-source", "127.0.0.1/32,::1", "--allow-vni", "100-199,501") as c:
        c.send([vxlan(150, udp4_frame())] * 3, source="127.0.0.1")
        c.send([vxlan(150, udp4_frame())] * 4, source="127.0.0.2")   # not an allowed source
        c.send([vxlan(300, udp4_frame())] * 5, source="127.0.0.1")   # not an allowed VNI
        c.send([vxlan(300, b"\x00" * 3)] * 2, source="127.0.0.2")     # malformed, from a stranger
        c.send([vxlan(300, b"\x00" * 12000)], source="127.0.0.2")     # oversized, from a stranger
        m = c.wait_settled(15)
        check_identities(m)
        assert value(m, "mirrortap_decap_errors_total", reason="source_not_allowed") == 7
        assert value(m, "mirrortap_decap_errors_total", reason="vni_not_allowed") == 5
        assert value(m, "mirrortap_session_packets_total") == 3
        assert c.stop() == 0
        assert os.listdir(c.pcap_dir) == ["vni-150"]
        assert len(tcpdump_frames(session_files(c.pcap_dir, "vni-150")[0])) == 3


def metrics_auth_refuses_scrapes_without_credentials():
    tmp = tempfile.mkdtemp()
    with open(os.path.join(tmp, "pass"), "w") as f:
        f.write("s3cret\n")
    with open(os.path.join(tmp, "token"), "w") as f:
        f.write("tok-123\n")
    config = (f"metrics_auth:\n  username: prom\n  password_file: {tmp}/pass\n"
              f"  bearer_token_file: {tmp}/token\n")
    with Collector(config=config) as c:
        url = f"http://127.0.0.1:{c.metrics_port}"

        def status(*args, path="/metrics"):
            out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", *args, url + path],
                                 capture_output=True, text=True, timeout=10)
            return int(out.stdout)

        assert status() == 401
        assert status("-u", "prom:wrong") == 401
        assert status("-H", "Authorization: Bearer nope") == 401
        assert status("-u", "prom:s3cret") == 200
        assert status("-H", "Authorization: Bearer tok-123") == 200
        assert status(path="/healthz") == 200  # load balancers carry no credentials
        assert c.stop() == 0


def user_flag_drops_root():
    nobody = pwd.getpwnam("nobody")
    with Collector("--user", "nobody", defer_start=True) as c:
        os.chmod(c.tmp, 0o755)  # mkdtemp's 0700 would keep nobody out of the capture directory
        c.start()
        status = open(f"/proc/{c.proc.pid}/status").read()
        uids = next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1:]
        assert uids == [str(nobody.pw_uid)] * 4, uids
        c.send([vxlan(8, udp4_frame())] * 5)
        m = c.wait_settled(5)
        assert value(m, "mirrortap_sink_written_packets_total") == 5
        assert c.stop() == 0
        files = session_files(c.pcap_dir, "vni-8")
        assert os.stat(files[0]).st_uid == nobody.pw_uid
        assert oct(os.stat(files[0]).st_mode & 0o777) == "0o640"
        assert len(tcpdump_frames(files[0])) == 5


def full_disk_keeps_files_valid():
    """Runs itself again in a private mount namespace with a 1 MiB tmpfs as the capture disk."""
    if os.environ.get("MIRRORTAP_IN_MOUNT_NS") != "1":
        env = dict(os.environ, MIRRORTAP_IN_MOUNT_NS="1")
        out = subprocess.run(["unshare", "-m", "--propagation", "private", sys.executable, __file__,
                              "full_disk_keeps_files_valid"], env=env, timeout=180)
        assert out.returncode == 0
        return
    disk = tempfile.mkdtemp(prefix="mirrortap-disk-")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", disk], check=True)
    sent = 0
    with Collector("--rotate-size", "256K", "--rcvbuf", "8M", pcap_dir=disk) as c:
        batch = [vxlan(11, seq_frame(11, i, size=1000)) for i in range(500)]
        for _ in range(4):  # 2000 KB of frames into a 1 MiB disk
            c.send(batch)
            sent += len(batch)
        m = c.wait_settled(sent)
        check_identities(m)
        full = value(m, "mirrortap_sink_dropped_packets_total", reason="disk_full")
        written = value(m, "mirrortap_sink_written_packets_total")
        assert full > 0 and written > 0, (full, written)
        for _ in range(60):  # the sink checks free space once a second
            if c.http_status("/healthz") == 503:
                break
            time.sleep(0.05)
        assert c.http_status("/healthz") == 503
        # Every finished file is whole, and together they hold exactly what was counted as written.
        on_disk = sum(len(tcpdump_frames(f)) for f in session_files(disk, "vni-11"))
        assert on_disk == written, (on_disk, written)
        # Space comes back: health and writing resume by themselves.
        for f in session_files(disk, "vni-11"):
            os.remove(f)
            if os.path.exists(f + ".flows.json.gz"):  # its flow index (docs/flow-index.md)
                os.remove(f + ".flows.json.gz")
        for _ in range(100):
            if c.http_status("/healthz") == 200:
                break
            time.sleep(0.05)
        assert c.http_status("/healthz") == 200
        c.send(batch[:50])
        sent += 50
        m = c.wait_settled(sent)
        check_identities(m)
        assert value(m, "mirrortap_sink_written_packets_total") == written + 50
        assert c.stop() == 0
        assert sum(len(tcpdump_frames(f)) for f in session_files(disk, "vni-11")) == 50
        assert leftovers(disk) == []
    subprocess.run(["umount", disk])


def min_free_floor_turns_health_red():
    with Collector("--min-free", "1000000T") as c:  # more than any disk has
        c.send([vxlan(12, udp4_frame())] * 4)
        m = c.wait_settled(4)
        check_identities(m)
        assert value(m, "mirrortap_sink_dropped_packets_total", reason="disk_full") == 4
        assert c.http_status("/healthz") == 503
        assert c.http_status("/readyz") == 503
        assert c.stop() == 0
        assert session_files(c.pcap_dir, "vni-12") == []


def reload_applies_changes_and_refuses_bad_files():
    import threading
    base = "pcap:\n  rotate_seconds: 0\n"
    first = base + "sessions:\n  - {vni: 5, name: alpha}\nallowed_vnis: [5]\n"
    with Collector(config=first) as c:
        path = os.path.join(c.tmp, "config.yaml")
        # A stream that goes on through the reload: not one packet may be lost.
        total = 3000
        stream = [vxlan(5, seq_frame(5, i)) for i in range(total)]
        sender = threading.Thread(target=c.send, args=(stream,))
        sender.start()
        c.send([vxlan(7, udp4_frame())] * 2)  # not allowed yet
        time.sleep(0.2)
        c.reload(base + "sessions:\n  - {vni: 5, name: beta}\nallowed_vnis: [5, 7]\n")
        c.wait_stderr("reloaded")
        sender.join()
        c.send([vxlan(7, udp4_frame())] * 2)  # allowed now
        c.wait_settled(total + 4)

        c.reload(base + "allowed_vnis: [5, 7]\nsessions:\n  - {vni: 5, nmae: gamma}\n")
        c.wait_stderr("reload refused")
        assert f"{path}:5:14: unknown key 'nmae'" in c.read_stderr(), c.read_stderr()
        c.send([vxlan(7, udp4_frame())])  # the previous configuration still runs
        c.send([vxlan(5, seq_frame(5, total))])
        m = c.wait_settled(total + 6)
        check_identities(m)
        assert value(m, "mirrortap_decap_errors_total", reason="vni_not_allowed") == 2, m
        assert value(m, "mirrortap_session_packets_total", session="beta") == total + 1
        assert c.stop() == 0
        seqs = []
        for name in ("alpha", "beta"):
            for f in session_files(c.pcap_dir, name):
                seqs += [int.from_bytes(fr[46:50], "big") for fr in tcpdump_frames(f)]
        assert seqs == list(range(total + 1)), "packets lost, repeated or reordered across the reload"
        assert session_files(c.pcap_dir, "beta"), "the renamed session did not get its own directory"
        assert sum(len(tcpdump_frames(f)) for f in session_files(c.pcap_dir, "vni-7")) == 3
        assert not os.path.exists(os.path.join(c.pcap_dir, "gamma"))
        assert leftovers(c.pcap_dir) == []


def _one_line_refusal(args, expect):
    """The collector exits non-zero with one line that says `expect`; the harness's timeout catches a hang."""
    out = subprocess.run([COLLECTOR] + args, capture_output=True, text=True, timeout=20)
    lines = out.stderr.strip().splitlines()
    assert out.returncode != 0, f"{args}: exit 0"
    assert out.returncode < 128, f"{args}: crashed with {out.returncode}"
    assert len(lines) == 1, f"{args}: {out.stderr!r}"
    assert lines[0].startswith("mirrortap-collector: "), lines[0]
    assert expect in lines[0], f"{args}: {lines[0]!r} lacks {expect!r}"
    return lines[0]


def check_config_refuses_what_is_not_a_config():
    tmp = tempfile.mkdtemp()
    fifo = os.path.join(tmp, "fifo.yaml")
    os.mkfifo(fifo)  # nobody writes: a blocking open would hang here
    sock_path = os.path.join(tmp, "sock.yaml")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(sock_path)

    def file(name, content):
        path = os.path.join(tmp, name)
        with open(path, "w") as f:
            f.write(content)
        return path

    cases = [
        (tmp, "is a directory, not a regular file"),
        (fifo, "is a FIFO, not a regular file"),
        (sock_path, "is a socket, not a regular file"),
        ("/dev/zero", "is a character device, not a regular file"),
        (file("empty.yaml", ""), "config file is empty"),
        (file("comments.yaml", "# nothing here\n\n   # or here\n"), "config file is empty"),
        (file("big.yaml", "#" * (1024 * 1024) + "\nworkers: 1\n"), "config file is larger than 1 MiB"),
        (file("twice.yaml", "pcap:\n  dir: /a\n  dir: /b\n"),
         "twice.yaml:3:3: key 'dir' given twice in one mapping (first at line 2)"),
        (file("two-docs.yaml", "workers: 1\n---\nworkers: 2\n"), "second YAML document"),
    ]
    for path, expect in cases:
        _one_line_refusal(["--config", path, "--check-config"], expect)
    sock.close()


def reload_refuses_what_is_not_a_config_and_keeps_the_allowlist():
    """SIGHUP after the config was replaced by a directory, an empty file, a FIFO, a device and a
    file with a key given twice: each is refused, and VNI 7 stays outside the allowlist."""
    good = "pcap:\n  rotate_seconds: 0\nsessions:\n  - {vni: 5, name: alpha}\nallowed_vnis: [5]\n"
    with Collector(config=good) as c:
        path = os.path.join(c.tmp, "config.yaml")

        def wait_for(text, count):
            for _ in range(200):  # bounded: 10 s
                if c.read_stderr().count(text) >= count:
                    return
                time.sleep(0.05)
            raise AssertionError(f"no {count} x {text!r} in {c.read_stderr()}")

        def replace_with(make):
            if os.path.isdir(path) and not os.path.islink(path):
                os.rmdir(path)
            elif os.path.lexists(path):
                os.remove(path)
            make()

        def write(text):
            with open(path, "w") as f:
                f.write(text)

        bad = [
            (lambda: os.mkdir(path), "is a directory"),
            (lambda: write(""), "config file is empty"),
            (lambda: os.mkfifo(path), "is a FIFO"),
            (lambda: os.symlink("/dev/zero", path), "is a character device"),
            (lambda: write("allowed_vnis: [5]\nallowed_vnis: [5, 7]\n"), "given twice"),
        ]
        sent = 0
        for n, (make, expect) in enumerate(bad, start=1):
            replace_with(make)
            c.proc.send_signal(signal.SIGHUP)
            wait_for("still running the previous configuration", n)
            log = c.read_stderr()
            assert log.count("reload refused: ") >= n and expect in log, log
            c.send([vxlan(7, udp4_frame())] * 2 + [vxlan(5, udp4_frame())])
            sent += 3
            m = c.wait_settled(sent)
            check_identities(m)
            assert value(m, "mirrortap_decap_errors_total", reason="vni_not_allowed") == 2 * n, m
            assert value(m, "mirrortap_session_packets_total", session="alpha") == n, m
        assert "reloaded" not in c.read_stderr()
        # A good file again is taken: the process was not wedged by any of the above.
        replace_with(lambda: write(good.replace("[5]", "[5, 7]")))
        c.proc.send_signal(signal.SIGHUP)
        wait_for("reloaded", 1)
        c.send([vxlan(7, udp4_frame())])
        m = c.wait_settled(sent + 1)
        assert value(m, "mirrortap_session_packets_total", vni="7") == 1, m
        assert c.stop() == 0


def messages_escape_control_characters_in_values():
    tmp = tempfile.mkdtemp()
    forged = os.path.join(tmp, "forged.yaml")
    with open(forged, "w") as f:
        f.write('sessions:\n  - {vni: 5, name: "web\\nmirrortap-collector: OK"}\n')
    line = _one_line_refusal(["--config", forged, "--check-config"], "forged.yaml:2:")
    assert "'web\\nmirrortap-collector: OK'" in line, line
    # Flags too.
    line = _one_line_refusal(["--listen", "1.2.3.4:x\nmirrortap-collector: OK", "--check-config"], "bad --listen")
    assert "x\\nmirrortap-collector: OK" in line, line
    # And a reload's log.
    with Collector(config="workers: 1\n") as c:
        path = os.path.join(c.tmp, "config.yaml")
        with open(path, "w") as f:
            f.write('sessions:\n  - {vni: 5, name: "web\\nmirrortap-collector: reloaded"}\n')
        c.proc.send_signal(signal.SIGHUP)
        for _ in range(200):
            if "still running the previous configuration" in c.read_stderr():
                break
            time.sleep(0.05)
        log = c.read_stderr().splitlines()
        assert not any(l.strip() == "mirrortap-collector: reloaded" for l in log), log
        assert any("web\\nmirrortap-collector: reloaded" in l for l in log), log
        assert c.stop() == 0


def refused_reloads_change_nothing():
    """Reloads that fail at different steps (pcap group, TAP, stream, forward), each bundled with
    changes that would otherwise apply (a rename, the allowlist, a new stream): the running
    configuration, its directories and its stream carry on untouched; a good reload still works."""
    tmp = tempfile.mkdtemp(prefix="mirrortap-refused-")
    feed, other_feed = os.path.join(tmp, "feed"), os.path.join(tmp, "other-feed")
    base = "pcap:\n  rotate_seconds: 0\nstream_required: true\n"
    running = base + f"stream: {feed}\nsessions:\n  - {{vni: 5, name: alpha}}\nallowed_vnis: [5]\n"
    wanted = "sessions:\n  - {vni: 5, name: beta}\nallowed_vnis: [5, 7]\n"
    failures = [
        ("pcap:\n  rotate_seconds: 0\n  group: no-such-group-mirrortap\nstream_required: true\n"
         f"stream: {other_feed}\n", "pcap.group: unknown group 'no-such-group-mirrortap'"),
        (base + f"stream: {other_feed}\ntap: [lo]\n", "cannot create TAP lo"),
        (base + f"stream: {tmp}/missing/feed\n", f"--stream {tmp}/missing/feed: cannot create FIFO"),
        (base + f"stream: {other_feed}\nforward: 255.255.255.255:4789\n",
         "cannot forward to 255.255.255.255:4789: Permission denied"),
    ]
    per_round = 200
    with Collector(config=running) as c:
        reader_path = os.path.join(tmp, "reader.pcap")
        reader = subprocess.Popen(["tcpdump", "-r", feed, "-w", reader_path], stderr=subprocess.DEVNULL)
        for _ in range(200):  # the stream is required: healthy once its reader is there
            if c.http_status("/healthz") == 200:
                break
            time.sleep(0.05)
        assert c.http_status("/healthz") == 200

        def send_round(n):
            c.send([vxlan(5, seq_frame(5, i)) for i in range(n * per_round, (n + 1) * per_round)])
            c.send([vxlan(7, udp4_frame())] * 2)  # refused while the running allowlist holds

        send_round(0)
        for n, (bad, why) in enumerate(failures):
            c.reload(bad + wanted)
            c.wait_stderr("still running the previous configuration", n + 1)
            assert f"reload refused: {why}" in c.read_stderr(), c.read_stderr()
            send_round(n + 1)
        rounds = len(failures) + 1
        m = c.wait_settled(rounds * (per_round + 2))
        check_identities(m)
        assert value(m, "mirrortap_decap_errors_total", reason="vni_not_allowed") == 2 * rounds
        assert value(m, "mirrortap_session_packets_total", session="alpha") == rounds * per_round
        assert value(m, "mirrortap_sink_written_packets_total", sink="stream") == rounds * per_round
        assert not os.path.exists(other_feed), "a stream built for a refused reload was left behind"
        assert c.http_status("/healthz") == 200

        # Refusals left nothing half-done: the same changes, without the failure, apply.
        c.reload(base + f"stream: {feed}\n" + wanted)
        c.wait_stderr("reloaded")
        send_round(rounds)
        m = c.wait_settled((rounds + 1) * (per_round + 2))
        check_identities(m)
        # Renamed in place: the session keeps its counts under its new name.
        assert value(m, "mirrortap_session_packets_total", session="beta") == (rounds + 1) * per_round
        assert value(m, "mirrortap_decap_errors_total", reason="vni_not_allowed") == 2 * rounds
        assert c.stop() == 0
        reader.wait(timeout=30)
    total = (rounds + 1) * per_round
    # One stream from start to end, never restarted: a single header, every record in order.
    on_stream = [int.from_bytes(fr[46:50], "big") for fr in tcpdump_frames(reader_path)
                 if fr[42:46] == (5).to_bytes(4, "big")]
    assert on_stream == list(range(total)), on_stream[:5]
    seqs = []
    for name in ("alpha", "beta"):
        for f in session_files(c.pcap_dir, name):
            seqs += [int.from_bytes(fr[46:50], "big") for fr in tcpdump_frames(f)]
    assert seqs == list(range(total))
    assert sorted(os.listdir(c.pcap_dir)) == ["alpha", "beta", "vni-7"]
    assert leftovers(c.pcap_dir) == []


# ---- the collector under attack ----------------------------------------------
# An unprivileged user (`nobody`) who can write where the collector works plants
# links and races renames; the collector runs as root until it drops to --user.
# Each test asserts that nothing outside the capture directory changed.

NOBODY = pwd.getpwnam("nobody")


def as_nobody(args, **kw):
    """Runs a command as nobody, with no supplementary groups."""
    group = grp.getgrgid(NOBODY.pw_gid).gr_name
    return subprocess.run(["setpriv", f"--reuid={NOBODY.pw_uid}", f"--regid={group}", "--clear-groups", "--"] + args,
                          check=True, timeout=60, **kw)


def attack_ground():
    """A scratch directory others may enter (mkdtemp's 0700 would keep nobody out)."""
    tmp = tempfile.mkdtemp(prefix="mirrortap-attack-")
    os.chmod(tmp, 0o755)
    return tmp


def nobodys_dir(path):
    os.mkdir(path)
    os.chown(path, NOBODY.pw_uid, NOBODY.pw_gid)
    return path


class Bait:
    """Root-owned files and directories outside the capture directory, with a snapshot of
    what matters: content, owner, group and mode of every entry."""

    def __init__(self, parent):
        self.dir = os.path.join(parent, "bait")
        os.mkdir(self.dir, 0o750)
        os.mkdir(os.path.join(self.dir, "sub"), 0o700)
        self.file = os.path.join(self.dir, "secret")
        with open(self.file, "w") as f:
            f.write("root's secret, not to be touched\n")
        os.chmod(self.file, 0o600)
        # Named like a capture of session vni-10, so that retention would find it.
        self.capture = os.path.join(self.dir, "vni-10-20000101T000000Z-000001.pcap")
        with open(self.capture, "wb") as f:
            f.write(b"\xd4\xc3\xb2\xa1" + b"\0" * 20)
        os.chmod(self.capture, 0o600)
        self.before = self.snapshot()

    def snapshot(self):
        seen = {}
        for root, dirs, files in os.walk(self.dir):
            for name in [""] + dirs + files:
                path = os.path.join(root, name) if name else root
                st = os.lstat(path)
                digest = None
                if os.path.isfile(path) and not os.path.islink(path):
                    with open(path, "rb") as f:
                        digest = hashlib.sha256(f.read()).hexdigest()
                seen[os.path.relpath(path, self.dir)] = (st.st_uid, st.st_gid, oct(st.st_mode), digest)
        return seen

    def assert_untouched(self):
        after = self.snapshot()
        changed = {k: (self.before.get(k), after.get(k)) for k in set(self.before) | set(after)
                   if self.before.get(k) != after.get(k)}
        assert not changed, f"outside the capture directory, changed (before, after): {changed}"


def user_collector(*args, **kw):
    """A collector that drops to nobody; its scratch directory (config, stderr) readable by nobody."""
    c = Collector("--user", "nobody", *args, defer_start=True, **kw)
    os.chmod(c.tmp, 0o755)
    return c


def starts(c):
    """Whether the collector starts (True) or refuses to (False, its reason in c.read_stderr())."""
    try:
        c.start()
        return True
    except AssertionError:
        return False


def probe_link_truncates_nothing():
    """The old writability probe opened <dir>/.mirrortap-write-test with O_TRUNC as root."""
    tmp = attack_ground()
    bait = Bait(tmp)
    captures = nobodys_dir(os.path.join(tmp, "captures"))  # handed to nobody by an earlier start
    as_nobody(["ln", "-s", bait.file, os.path.join(captures, ".mirrortap-write-test")])
    with user_collector(pcap_dir=captures) as c:
        c.start()
        assert c.stop() == 0
    bait.assert_untouched()


def session_links_are_not_followed():
    """A collector running as root (--allow-root) writes into a directory nobody can write too:
    a session directory that is a link, and `current` links, must not lead it outside."""
    tmp = attack_ground()
    bait = Bait(tmp)
    captures = nobodys_dir(os.path.join(tmp, "captures"))
    as_nobody(["ln", "-s", bait.dir, os.path.join(captures, "vni-10")])
    as_nobody(["mkdir", os.path.join(captures, "vni-9")])
    for name in ("current", "current.new"):
        as_nobody(["ln", "-s", bait.file, os.path.join(captures, "vni-9", name)])
    with Collector("--retain-files", "1", "--rotate-seconds", "0", pcap_dir=captures) as c:
        assert os.geteuid() == 0 and "--allow-root" in c.cmd
        c.send([vxlan(9, udp4_frame())] * 3 + [vxlan(10, udp4_frame())] * 4)
        m = c.wait_settled(7)
        check_identities(m)
        # Refused and counted, never written through the link.
        assert value(m, "mirrortap_sink_dropped_packets_total", session="vni-10", reason="not_open") == 4, m
        assert value(m, "mirrortap_sink_written_packets_total", session="vni-9") == 3
        c.proc.send_signal(signal.SIGHUP)  # rotation: rename, retention and a new `current`
        c.send([vxlan(9, udp4_frame())] * 2)
        c.wait_settled(9)
        assert c.stop() == 0
    bait.assert_untouched()
    assert os.path.islink(os.path.join(captures, "vni-10")), "the planted link itself is left alone"
    assert sum(len(tcpdump_frames(f)) for f in session_files(captures, "vni-9")) == 5


RENAME_EXCHANGE = 2


def chown_race_gives_nothing_away():
    """nobody swaps directories and links to a root file in the capture directory, as fast as it can,
    while the collector restarts: the old lstat-then-chown of every subdirectory lost this race."""
    tmp = attack_ground()
    bait = Bait(tmp)
    captures = nobodys_dir(os.path.join(tmp, "captures"))
    pairs, seconds = 200, 10
    swapper = os.path.join(tmp, "swap.py")
    with open(swapper, "w") as f:
        f.write(f"""
import ctypes, os, time
libc = ctypes.CDLL(None, use_errno=True)
d = {captures!r}
for i in range({pairs}):
    os.mkdir(f"{{d}}/d{{i}}")
    os.symlink({bait.file!r}, f"{{d}}/l{{i}}")
names = [(f"{{d}}/d{{i}}".encode(), f"{{d}}/l{{i}}".encode()) for i in range({pairs})]
deadline, swaps = time.time() + {seconds}, 0
while time.time() < deadline and swaps < 5_000_000:  # bounded in time and count
    for a, b in names:
        libc.renameat2(-100, a, -100, b, {RENAME_EXCHANGE})
    swaps += len(names)
print(swaps)
""")
    group = grp.getgrgid(NOBODY.pw_gid).gr_name
    race = subprocess.Popen(["setpriv", f"--reuid={NOBODY.pw_uid}", f"--regid={group}", "--clear-groups", "--",
                             sys.executable, swapper], stdout=subprocess.PIPE, text=True)
    try:
        restarts = 0
        time.sleep(0.3)  # the pairs exist
        while race.poll() is None and restarts < 30:
            with user_collector(pcap_dir=captures) as c:
                c.start()
                assert c.stop() == 0
            restarts += 1
            bait.assert_untouched()
        out, _ = race.communicate(timeout=seconds + 30)
        assert race.returncode == 0 and int(out) > 0, "the swapper did not run"
        print(f"{restarts} restarts during {out.strip()} swaps")
        assert restarts >= 3, f"only {restarts} restarts during the race"
    finally:
        if race.poll() is None:
            race.kill()
            race.wait()
    bait.assert_untouched()


def linked_pcap_dir_is_refused():
    """--pcap-dir names a link nobody planted (nobody owns its parent): refused, its target untouched."""
    tmp = attack_ground()
    bait = Bait(tmp)
    home = nobodys_dir(os.path.join(tmp, "home"))
    captures = os.path.join(home, "captures")
    as_nobody(["ln", "-s", bait.dir, captures])
    with user_collector(pcap_dir=captures) as c:
        started = starts(c)
        bait.assert_untouched()
        assert not started, "started with a capture directory that is nobody's link"
        err = c.read_stderr()
        assert "symbolic link" in err and "real directory" in err, err


def missing_parents_are_made_usable():
    """Parents of --pcap-dir that do not exist are made so that the user can reach its directory;
    one the user cannot reach stops the start with what to do, instead of dropping every packet."""
    tmp = attack_ground()
    captures = os.path.join(tmp, "a", "b", "captures")
    with user_collector(pcap_dir=captures) as c:
        c.start()
        c.send([vxlan(8, udp4_frame())] * 5)
        m = c.wait_settled(5)
        check_identities(m)
        assert value(m, "mirrortap_sink_written_packets_total") == 5, m
        assert value(m, "mirrortap_sink_dropped_packets_total", reason="not_open") == 0, m
        assert c.stop() == 0
    assert os.stat(captures).st_uid == NOBODY.pw_uid
    locked = os.path.join(tmp, "locked")
    os.mkdir(locked, 0o700)  # root's, and closed to others
    with user_collector(pcap_dir=os.path.join(locked, "captures")) as c:
        started = starts(c)
        assert not started, "started although nobody cannot reach the capture directory"
        err = c.read_stderr()
        assert "as user nobody" in err and "chmod" in err, err


def _threads(pid):
    """{thread id: (comm, status fields)} of every thread of `pid`."""
    found = {}
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/status") as f:
            status = dict(line.split(":", 1) for line in f.read().splitlines() if ":" in line)
        with open(f"/proc/{pid}/task/{task}/comm") as f:
            found[task] = (f.read().strip(), {k: v.strip() for k, v in status.items()})
    return found


def no_capability_survives_the_drop():
    """Every thread, the pcap writer, the retirer, the stream's writer and the HTTP server's
    (all once started before the drop) among them, runs as nobody with nobody's groups, no
    capability in any set and no_new_privs. Started with an inheritable capability, which only
    the thread that drops clears in itself: a thread made before the drop would keep it."""
    tmp = attack_ground()
    run_dir = nobodys_dir(os.path.join(tmp, "run"))
    with user_collector("--stream", f"unix:{run_dir}/feed.sock") as c:
        c.cmd = ["setpriv", "--inh-caps=+net_raw", "--"] + c.cmd
        c.start()
        threads = _threads(c.proc.pid)
        names = sorted(comm for comm, _ in threads.values())
        for expected in ("mt-http", "mt-metrics", "mt-pcap-writer", "mt-recv-0"):
            assert expected in names, (expected, names)
        assert len(threads) >= 7, names  # main, the four above, the retirer's and the stream writer's
        groups = sorted(g.gr_gid for g in grp.getgrall() if NOBODY.pw_name in g.gr_mem) or []
        want_groups = sorted(set(groups + [NOBODY.pw_gid]))
        for task, (comm, status) in threads.items():
            got = {k: status[k] for k in ("NoNewPrivs", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")}
            assert got == {"NoNewPrivs": "1", "CapInh": "0" * 16, "CapPrm": "0" * 16, "CapEff": "0" * 16,
                           "CapBnd": "0" * 16, "CapAmb": "0" * 16}, (task, comm, got)
            assert status["Uid"].split() == [str(NOBODY.pw_uid)] * 4, (task, comm, status["Uid"])
            assert status["Gid"].split() == [str(NOBODY.pw_gid)] * 4, (task, comm, status["Gid"])
            assert sorted(int(g) for g in status["Groups"].split()) == want_groups, (task, comm, status["Groups"])
        assert c.stop() == 0


def a_uid_zero_user_is_root():
    """--user root, or any account of uid 0 (an alias, `toor`, in a passwd file bind-mounted in a
    private mount namespace), keeps every privilege: refused like running as root, before
    anything is made; with --allow-root it runs as root, knowingly."""
    if os.environ.get("MIRRORTAP_IN_MOUNT_NS") != "1":
        env = dict(os.environ, MIRRORTAP_IN_MOUNT_NS="1")
        out = subprocess.run(["unshare", "-m", "--propagation", "private", sys.executable, __file__,
                              "a_uid_zero_user_is_root"], env=env, timeout=120)
        assert out.returncode == 0
        return
    passwd = tempfile.mkstemp(prefix="mirrortap-passwd-")[1]
    with open("/etc/passwd") as f, open(passwd, "w") as out:
        out.write(f.read() + "toor:x:0:0:root by another name:/root:/usr/sbin/nologin\n")
    os.chmod(passwd, 0o644)
    subprocess.run(["mount", "--bind", passwd, "/etc/passwd"], check=True)
    tmp = attack_ground()
    line = _one_line_refusal(["--user", "toor", "--listen", "127.0.0.1:0", "--pcap-dir", os.path.join(tmp, "c")],
                             "refusing to run as root")
    assert "--user toor is uid 0" in line, line
    line = _one_line_refusal(["--user", "root", "--listen", "127.0.0.1:0", "--pcap-dir", os.path.join(tmp, "c")],
                             "refusing to run as root")
    assert "uid 0" in line and "--allow-root" in line, line
    assert not os.path.exists(os.path.join(tmp, "c")), "refused after making the capture directory"
    with Collector("--user", "root", "--allow-root") as c:
        c.send([vxlan(8, udp4_frame())])
        assert value(c.wait_settled(1), "mirrortap_sink_written_packets_total") == 1
        assert c.stop() == 0


def _written(path, text, owner=None, mode=0o644):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    if owner is not None:
        os.chown(path, owner.pw_uid, owner.pw_gid)
    return path


def a_config_others_can_change_is_refused():
    """The config file, its directory and every file it names must be root's (or the --user's)
    and writable by no one else, as OpenSSH's StrictModes has it: else nobody could point the
    next start or reload of a root process wherever it likes. --check-config says the same."""
    tmp = attack_ground()
    base = ["--listen", "127.0.0.1:0", "--pcap-dir", os.path.join(tmp, "captures"), "--allow-root"]
    good = "workers: 1\n"

    # nobody's file, a file anyone may write, a file in nobody's directory, a secret nobody can swap.
    nobodys = _written(os.path.join(tmp, "nobodys.yaml"), good, owner=NOBODY)
    open_to_all = _written(os.path.join(tmp, "open.yaml"), good, mode=0o666)
    group_writable = _written(os.path.join(tmp, "group.yaml"), good, mode=0o664)
    home = nobodys_dir(os.path.join(tmp, "home"))
    in_nobodys_dir = _written(os.path.join(home, "collector.yaml"), good)
    secret = _written(os.path.join(tmp, "pass"), "s3cret\n", owner=NOBODY, mode=0o600)
    names_secret = _written(os.path.join(tmp, "auth.yaml"),
                            f"metrics_auth:\n  username: prom\n  password_file: {secret}\n")
    cases = [
        (nobodys, f"config file {nobodys} belongs to nobody", f"chown root {nobodys}"),
        (open_to_all, f"config file {open_to_all} is writable by anyone (mode 0666)", f"chmod go-w {open_to_all}"),
        (group_writable, f"config file {group_writable} is writable by its group", f"chmod go-w {group_writable}"),
        (in_nobodys_dir, f"the directory of the config file {home} belongs to nobody", f"chown root {home}"),
        (names_secret, f"metrics_auth.password_file {secret} belongs to nobody", f"chown root {secret}"),
    ]
    for path, expect, fix in cases:
        for action in (["--check-config"], []):
            line = _one_line_refusal(["--config", path] + base + action, expect)
            assert fix in line and "StrictModes" in line, line
    # A link from a trusted place to nobody's file is nobody's file.
    link = os.path.join(tmp, "link.yaml")
    os.symlink(nobodys, link)
    _one_line_refusal(["--config", link, "--check-config"] + base, f"config file {nobodys} belongs to nobody")
    # The same files, root's and closed to others, are taken.
    for path in (nobodys, open_to_all, group_writable):
        os.chown(path, 0, 0)
        os.chmod(path, 0o644)
        out = subprocess.run([COLLECTOR, "--config", path, "--check-config"] + base, capture_output=True, text=True,
                             timeout=20)
        assert out.returncode == 0, out.stderr

    # A reload reads the file again: made nobody's meanwhile, it is refused and the running config stays.
    with Collector(config="sessions:\n  - {vni: 5, name: alpha}\n") as c:
        path = os.path.join(c.tmp, "config.yaml")
        _written(path, "sessions:\n  - {vni: 5, name: beta}\n", owner=NOBODY)
        c.proc.send_signal(signal.SIGHUP)
        c.wait_stderr("still running the previous configuration")
        assert f"reload refused: config file {path} belongs to nobody" in c.read_stderr(), c.read_stderr()
        c.send([vxlan(5, udp4_frame())])
        m = c.wait_settled(1)
        assert value(m, "mirrortap_session_packets_total", session="alpha") == 1, m
        assert c.stop() == 0


def an_existing_directory_is_never_handed_over():
    """nobody writes a config of its own (taken: nobody is the --user) naming a directory of root's,
    with root's file in it, as pcap.dir: root refuses to start, naming the directory and the fix,
    and the directory stays root's. A directory root makes fresh is the user's; one already the
    user's is used as it is."""
    tmp = attack_ground()
    bait = Bait(tmp)
    home = nobodys_dir(os.path.join(tmp, "home"))
    config = os.path.join(home, "collector.yaml")
    as_nobody(["sh", "-c", f"printf 'pcap:\\n  dir: {bait.dir}\\n' > {config}"])
    assert os.stat(config).st_uid == NOBODY.pw_uid
    out = subprocess.run([COLLECTOR, "--config", config, "--user", "nobody", "--listen", "127.0.0.1:0"],
                         capture_output=True, text=True, timeout=20)
    lines = out.stderr.strip().splitlines()
    assert out.returncode != 0 and out.returncode < 128 and len(lines) == 1, out.stderr
    assert f"pcap directory {bait.dir} exists and belongs to root, not to nobody" in lines[0], lines[0]
    assert f"chown nobody {bait.dir}" in lines[0], lines[0]
    bait.assert_untouched()
    # Restarted over and over (the old start handed it over on the first): still root's.
    for _ in range(3):
        subprocess.run([COLLECTOR, "--config", config, "--user", "nobody", "--listen", "127.0.0.1:0"],
                       capture_output=True, timeout=20)
    bait.assert_untouched()

    fresh = os.path.join(tmp, "fresh")
    with user_collector(pcap_dir=fresh) as c:
        c.start()
        assert c.stop() == 0
    assert os.stat(fresh).st_uid == NOBODY.pw_uid
    with user_collector(pcap_dir=fresh) as c:  # the user's already: taken as it is
        c.start()
        c.send([vxlan(8, udp4_frame())] * 2)
        assert value(c.wait_settled(2), "mirrortap_sink_written_packets_total") == 2
        assert c.stop() == 0


def what_a_reload_reads_must_be_readable_by_the_user():
    config = "metrics_auth:\n  username: prom\n  password_file: {}\n"
    with user_collector(config="# written below\n") as c:
        secret = os.path.join(c.tmp, "pass")
        with open(secret, "w") as f:
            f.write("s3cret\n")
        os.chmod(secret, 0o600)  # root's alone
        with open(os.path.join(c.tmp, "config.yaml"), "w") as f:
            f.write(config.format(secret))
        started = starts(c)
        assert not started, "started although nobody could not read the password file again"
        err = c.read_stderr()
        assert "as user nobody" in err and secret in err and "chmod g+r" in err, err
        os.chmod(secret, 0o644)
        c.start()
        assert c.stop() == 0


def stream_socket_is_the_users_and_others_are_left_alone():
    tmp = attack_ground()
    run_dir = nobodys_dir(os.path.join(tmp, "run"))
    path = os.path.join(run_dir, "feed.sock")
    # Someone else's live socket at the path: refused, and it stays usable.
    other = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    other.bind(path)
    other.listen(1)
    with user_collector("--stream", f"unix:{path}") as c:
        started = starts(c)
        assert not started, "started by replacing another user's live socket"
        assert "not ours" in c.read_stderr(), c.read_stderr()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.connect(path)  # still there, still the other one's
    other.close()
    os.unlink(path)
    with user_collector("--stream", f"unix:{path}") as c:
        c.start()
        st = os.lstat(path)
        assert (st.st_uid, oct(st.st_mode & 0o777)) == (NOBODY.pw_uid, "0o660"), (st.st_uid, oct(st.st_mode))
        # The user can read the feed: a pcap global header arrives first.
        out = as_nobody([sys.executable, "-c", f"import socket; s = socket.socket(socket.AF_UNIX); "
                                               f"s.settimeout(5); s.connect({path!r}); "
                                               f"print(s.recv(24).hex())"], capture_output=True, text=True)
        assert out.stdout.strip()[:8] == "4d3cb2a1", out.stdout
        c.proc.kill()  # leaves its socket behind, as a crash would
        c.proc.wait()
        c.start()  # our own stale socket is replaced
        assert os.lstat(path).st_uid == NOBODY.pw_uid
        assert c.stop() == 0


def pcap_group_is_honoured_or_refused():
    other = next(g for g in ("adm", "disk", "daemon") if NOBODY.pw_name not in grp.getgrnam(g).gr_mem)
    with user_collector(config=f"pcap:\n  group: {other}\n") as c:
        started = starts(c)
        assert not started, f"started although nobody cannot give files to group {other}"
        assert f"usermod -aG {other} nobody" in c.read_stderr(), c.read_stderr()
    own = grp.getgrgid(NOBODY.pw_gid).gr_name
    tmp = attack_ground()
    with user_collector(config=f"pcap:\n  group: {own}\n", pcap_dir=os.path.join(tmp, "captures")) as c:
        c.start()
        c.send([vxlan(8, udp4_frame())] * 2)
        c.wait_settled(2)
        assert c.stop() == 0
        files = session_files(c.pcap_dir, "vni-8")
        assert files and all(os.stat(f).st_gid == NOBODY.pw_gid for f in files)


def _run_with_env(args, env):
    return subprocess.run([COLLECTOR] + args, capture_output=True, text=True, timeout=20,
                          env=dict(os.environ, **env))


def plain_http_to_another_host_is_refused():
    """Upload, lifecycle, CloudWatch, STS and IMDS endpoints over plain http:// to another host would carry
    signed requests, session tokens and captures in clear: refused (--check-config too) unless
    allow_insecure_endpoints is set, which is then warned about at every start. Loopback stays on
    the host, and IMDS at its link-local address never leaves it."""
    tmp = tempfile.mkdtemp()
    base = ["--listen", "127.0.0.1:0", "--pcap-dir", os.path.join(tmp, "captures"), "--allow-root"]
    # Credentials and a region, so that nothing else stands in the way; IMDS is never asked.
    env = {"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_REGION": "eu-west-1",
           "AWS_EC2_METADATA_DISABLED": "true"}
    upload = "upload:\n  url: s3://bucket/prefix\n  region: eu-west-1\n"
    lifecycle = "lifecycle:\n  hook_name: drain\n  group_name: collectors\n"
    cloudwatch = "cloudwatch:\n  namespace: Mirrortap\n  region: eu-west-1\n"

    def config(name, text):
        return _written(os.path.join(tmp, name), text)

    refused = [
        (upload + "  endpoint: http://192.0.2.10:9000\n", {}, "upload.endpoint http://192.0.2.10:9000"),
        (lifecycle + "  endpoint: http://autoscaling.example\n", {}, "lifecycle.endpoint http://autoscaling.example"),
        (upload, {"AWS_ENDPOINT_URL_STS": "http://192.0.2.11"}, "AWS_ENDPOINT_URL_STS http://192.0.2.11"),
        (lifecycle, {"AWS_ENDPOINT_URL_AUTO_SCALING": "http://[2001:db8::1]:8080"},
         "AWS_ENDPOINT_URL_AUTO_SCALING http://[2001:db8::1]:8080"),
        (upload, {"AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://192.0.2.12"},
         "AWS_EC2_METADATA_SERVICE_ENDPOINT http://192.0.2.12"),
        (cloudwatch + "  endpoint: http://192.0.2.13\n", {}, "cloudwatch.endpoint http://192.0.2.13"),
        (cloudwatch, {"AWS_ENDPOINT_URL_CLOUDWATCH": "http://192.0.2.14"},
         "AWS_ENDPOINT_URL_CLOUDWATCH http://192.0.2.14"),
    ]
    for n, (text, extra, expect) in enumerate(refused):
        path = config(f"refused-{n}.yaml", text)
        for action in (["--check-config"], []):
            out = _run_with_env(["--config", path] + base + action, dict(env, **extra))
            lines = out.stderr.strip().splitlines()
            assert out.returncode != 0 and out.returncode < 128 and len(lines) == 1, (expect, out.stderr)
            assert expect in lines[0] and "allow_insecure_endpoints: true" in lines[0], lines[0]
        # Set knowingly: taken, with a warning that names the endpoint.
        allowed = config(f"allowed-{n}.yaml", text + "allow_insecure_endpoints: true\n")
        out = _run_with_env(["--config", allowed, "--check-config"] + base, dict(env, **extra))
        assert out.returncode == 0, out.stderr
        assert "warning: allow_insecure_endpoints" in out.stderr and expect in out.stderr, out.stderr

    accepted = [
        (upload + "  endpoint: https://192.0.2.10:9000\n", {}),
        (upload + "  endpoint: http://127.0.0.1:9000\n", {}),
        (upload + "  endpoint: http://[::1]:9000\n", {}),
        (upload + "  endpoint: http://localhost:9000\n", {}),
        (lifecycle + "  endpoint: http://127.0.0.2:8080\n", {}),
        (upload, {"AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://169.254.169.254"}),
        (upload, {"AWS_ENDPOINT_URL_STS": "https://sts.example"}),
        # Not used (no upload, no lifecycle hook): not reached, so not refused.
        ("workers: 1\n", {"AWS_ENDPOINT_URL_STS": "http://192.0.2.11"}),
    ]
    for n, (text, extra) in enumerate(accepted):
        out = _run_with_env(["--config", config(f"accepted-{n}.yaml", text), "--check-config"] + base,
                            dict(env, **extra))
        assert out.returncode == 0 and "warning" not in out.stderr, (text, extra, out.stderr)

    # A real start with the setting: the warning comes at every start. In a network namespace of
    # its own, so that whatever it might send goes nowhere. The store is never reached, so each
    # stop's drain (the manifest it cuts) gives up after drain_seconds: one, not the default 60.
    for key, val in env.items():
        os.environ[key] = val
    with Collector("--collector-id", "c1", config=upload + "  endpoint: http://192.0.2.10:9000\n"
                   "  drain_seconds: 1\nallow_insecure_endpoints: true\n", defer_start=True) as c:
        c.cmd = ["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$@"', "sh"] + c.cmd
        for _ in range(2):
            c.start()
            assert c.stop() == 0
        warnings = [l for l in c.read_stderr().splitlines() if "warning: allow_insecure_endpoints" in l]
        assert len(warnings) == 1 and "upload.endpoint http://192.0.2.10:9000" in warnings[0], c.read_stderr()


def _current_names(directory, suffix):
    """What `current` names once it names a file ending in `suffix` (bounded: 10 s)."""
    link = os.path.join(directory, "current")
    for _ in range(200):
        if os.path.lexists(link) and os.readlink(link).endswith(suffix):
            return os.readlink(link)
        time.sleep(0.05)
    raise AssertionError(f"{link} never named a {suffix} file: {os.listdir(directory)}")


def current_follows_retention():
    """retain_total_bytes removes the oldest finished files of every session: when it takes the
    file a session's `current` names (finished by time, nothing after it), `current` goes with
    it, since that session has no file left. It never names a file that is gone."""
    with Collector("--rotate-seconds", "1", "--retain-total-bytes", "60K", "--no-flow-index") as c:
        a, b = os.path.join(c.pcap_dir, "vni-21"), os.path.join(c.pcap_dir, "vni-22")
        c.send([vxlan(21, seq_frame(21, i, size=1000)) for i in range(40)])
        c.wait_settled(40)
        first = _current_names(a, ".pcap")  # finished by time: `current` follows it to its .pcap
        assert os.path.exists(os.path.join(a, first)), first
        # vni-22's file finished past the budget makes retention take vni-21's, the oldest.
        c.send([vxlan(22, seq_frame(22, i, size=1000)) for i in range(40)])
        c.wait_settled(80)
        _current_names(b, ".pcap")
        for _ in range(200):  # bounded: 10 s
            if not os.path.exists(os.path.join(a, first)):
                break
            time.sleep(0.05)
        assert not os.path.exists(os.path.join(a, first)), "retention did not take vni-21's file"
        assert not os.path.lexists(os.path.join(a, "current")), \
            f"`current` is left naming {os.readlink(os.path.join(a, 'current'))}, which is gone"
        assert os.path.exists(os.path.join(b, os.readlink(os.path.join(b, "current"))))
        assert c.stop() == 0


def slow_clients_do_not_starve_health():
    """200 connections held open to the metrics port, some trickling a request line byte by byte,
    while the load balancer checks /healthz: every check is answered (2 s bounds a hang)."""
    with Collector() as c:
        clients, stop = [], threading.Event()
        for i in range(200):
            s = socket.create_connection(("127.0.0.1", c.metrics_port), timeout=5)
            clients.append(s)

        def trickle(sockets):
            line = b"GET /metrics HTTP/1.1\r\nHost: x\r\n"
            for byte in range(len(line)):  # bounded: one line, one byte every 100 ms
                if stop.is_set():
                    return
                for s in sockets:
                    try:
                        s.send(line[byte:byte + 1])
                    except OSError:
                        pass
                time.sleep(0.1)

        slow = threading.Thread(target=trickle, args=(clients[::4],))
        slow.start()
        try:
            answered = []
            for _ in range(20):
                out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "2",
                                      f"http://127.0.0.1:{c.metrics_port}/healthz"],
                                     capture_output=True, text=True, timeout=10)
                answered.append(out.stdout)
                time.sleep(0.1)
            assert answered == ["200"] * 20, answered
            m = c.metrics()  # curl, as Prometheus would scrape
            assert value(m, "mirrortap_build_info") == 1
        finally:
            stop.set()
            slow.join()
            for s in clients:
                s.close()
        assert c.stop() == 0


if __name__ == "__main__":
    os.environ.setdefault("MIRRORTAP_NEEDS_ROOT", "1")
    run({f.__name__: f for f in [strangers_are_refused_and_counted, metrics_auth_refuses_scrapes_without_credentials,
                                 user_flag_drops_root, full_disk_keeps_files_valid, min_free_floor_turns_health_red,
                                 reload_applies_changes_and_refuses_bad_files,
                                 check_config_refuses_what_is_not_a_config,
                                 reload_refuses_what_is_not_a_config_and_keeps_the_allowlist,
                                 messages_escape_control_characters_in_values, refused_reloads_change_nothing,
                                 probe_link_truncates_nothing,
                                 session_links_are_not_followed, chown_race_gives_nothing_away,
                                 linked_pcap_dir_is_refused, missing_parents_are_made_usable,
                                 no_capability_survives_the_drop, what_a_reload_reads_must_be_readable_by_the_user,
                                 a_uid_zero_user_is_root, a_config_others_can_change_is_refused,
                                 an_existing_directory_is_never_handed_over, plain_http_to_another_host_is_refused,
                                 current_follows_retention,
                                 stream_socket_is_the_users_and_others_are_left_alone,
                                 pcap_group_is_honoured_or_refused, slow_clients_do_not_starve_health]})
