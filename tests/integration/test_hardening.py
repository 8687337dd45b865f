"""Hostile senders, full disks, credentials and privileges: the collector stays honest and whole."""
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

from harness import (Collector, check_identities, leftovers, run, seq_frame, session_files, tcpdump_frames,
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

        def wait_for(text, count):
            for _ in range(200):
                if c.read_stderr().count(text) >= count:
                    return
                time.sleep(0.05)
            raise AssertionError(f"no {text!r} in {c.read_stderr()}")

        # A stream that goes on through the reload: not one packet may be lost.
        total = 3000
        stream = [vxlan(5, seq_frame(5, i)) for i in range(total)]
        sender = threading.Thread(target=c.send, args=(stream,))
        sender.start()
        c.send([vxlan(7, udp4_frame())] * 2)  # not allowed yet
        time.sleep(0.2)
        with open(path, "w") as f:
            f.write(base + "sessions:\n  - {vni: 5, name: beta}\nallowed_vnis: [5, 7]\n")
        c.proc.send_signal(signal.SIGHUP)
        wait_for("reloaded", 1)
        sender.join()
        c.send([vxlan(7, udp4_frame())] * 2)  # allowed now
        c.wait_settled(total + 4)

        with open(path, "w") as f:
            f.write(base + "allowed_vnis: [5, 7]\nsessions:\n  - {vni: 5, nmae: gamma}\n")
        c.proc.send_signal(signal.SIGHUP)
        wait_for("reload refused", 1)
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
                                 slow_clients_do_not_starve_health]})
