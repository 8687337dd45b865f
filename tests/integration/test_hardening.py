"""Hostile senders, full disks, credentials and privileges: the collector stays honest and whole."""
import os
import pwd
import signal
import socket
import subprocess
import sys
import tempfile
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


if __name__ == "__main__":
    os.environ.setdefault("MIRRORTAP_NEEDS_ROOT", "1")
    run({f.__name__: f for f in [strangers_are_refused_and_counted, metrics_auth_refuses_scrapes_without_credentials,
                                 user_flag_drops_root, full_disk_keeps_files_valid, min_free_floor_turns_health_red,
                                 reload_applies_changes_and_refuses_bad_files,
                                 check_config_refuses_what_is_not_a_config,
                                 reload_refuses_what_is_not_a_config_and_keeps_the_allowlist,
                                 messages_escape_control_characters_in_values, refused_reloads_change_nothing]})
