"""Issue 20: the collector scales with the number of mirrored sources. AWS gives every mirrored ENI
its own VNI, so thousands of sessions at a modest rate each must lose nothing while the disk keeps
up; a writer that is truly behind drops the loud session's records, never the quiet ones'; and the
descriptors of capture files follow the active sessions, not every session ever seen."""
import os
import resource
import shutil
import signal
import struct
import subprocess
import time

from harness import (Collector, check_identities, run, seq_frame, session_files, tcpdump_frames, udp4_frame,
                     value, vxlan)


def wait_for(c, received, done, bound_s=120):
    """Until `received` datagrams are counted and done(metrics) holds; bounded (sanitizer builds are slow)."""
    deadline = time.monotonic() + bound_s
    while True:
        m = c.metrics()
        if value(m, "mirrortap_received_packets_total") >= received and done(m):
            return m
        assert time.monotonic() < deadline, f"not settled within {bound_s} s: received " \
            f"{value(m, 'mirrortap_received_packets_total')} of {received}"
        time.sleep(0.2)


def nothing_buffered(m):
    return value(m, "mirrortap_sink_buffered_packets") == 0


def dropped(m, **labels):
    return value(m, "mirrortap_sink_dropped_packets_total", sink="pcap", **labels)


def descriptors(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def thread_id(pid, name):
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/comm") as f:
            if f.read().strip() == name:
                return int(tid)
    raise AssertionError(f"no thread {name} in {pid}")


def merged(directory, files):
    """mergecap (Wireshark's) of the files, in time order, as one classic pcap."""
    out = os.path.join(directory, "merged.pcap")
    done = subprocess.run(["mergecap", "-F", "pcap", "-w", out] + files, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"mergecap: {done.stderr}"
    return out


def frame_session(frame):
    """The session seq_frame() wrote into the frame's payload."""
    return struct.unpack("!I", frame[42:46])[0]


def thousands_of_sessions_lose_nothing():
    """2,000 sessions, 5 packets each, 2 workers, default pool: every packet is written, none dropped,
    and every session's pcap reads back whole with tcpdump, in order."""
    sessions, per_session = 2000, 5
    with Collector("--max-sessions", "4096", "--rotate-seconds", "0", workers=2) as c:
        sent = [(vni, seq) for seq in range(per_session) for vni in range(10000, 10000 + sessions)]
        c.send([vxlan(vni, seq_frame(vni, seq)) for vni, seq in sent])
        m = wait_for(c, len(sent), nothing_buffered)
        check_identities(m)
        assert value(m, "mirrortap_sessions") == sessions
        assert value(m, "mirrortap_sink_written_packets_total", sink="pcap") == len(sent)
        assert dropped(m) == 0, {k: v for k, v in m.items() if k[0] == "mirrortap_sink_dropped_packets_total" and v}
        assert value(m, "mirrortap_socket_drops_total") == 0
        assert c.stop() == 0
        files = []
        for vni in range(10000, 10000 + sessions):
            found = session_files(c.pcap_dir, f"vni-{vni}")
            assert len(found) == 1, (vni, found)
            files += found
        # One tcpdump over all of them (mergecap refuses a file cut short), then each session's
        # frames, told apart by the (session, seq) they carry, in the order they were sent.
        by_session = {}
        for frame in tcpdump_frames(merged(c.tmp, files)):
            by_session.setdefault(frame_session(frame), []).append(frame)
        for vni in range(10000, 10000 + sessions):
            assert by_session.get(vni) == [seq_frame(vni, seq) for seq in range(per_session)], vni


def a_slow_writer_drops_the_loud_session_not_the_quiet_ones():
    """One loud session floods while the writer is slowed (strace holds each of its next 20 writev
    calls for 0.3 s: a disk that stalls for seconds): the loud session's records drop as queue_full,
    counted on it; 1,000 quiet sessions sending on through the stall keep every packet."""
    strace = shutil.which("strace")
    if not strace:
        print("SKIP: needs strace (./dev test installs it)")
        raise SystemExit(77)
    quiet = range(20000, 21000)
    loud_vni = 7
    # A 4 MiB pool (64 blocks): the flood below is five times that.
    config = "pcap:\n  buffer_size: 65552\n  buffer_blocks: 64\n  rotate_seconds: 0\n"
    with Collector("--max-sessions", "2048", config=config) as c:
        c.send([vxlan(v, seq_frame(v, 0, size=64)) for v in quiet])
        wait_for(c, len(quiet), nothing_buffered)
        writer = thread_id(c.proc.pid, "mt-pcap-writer")
        tracer = subprocess.Popen([strace, "-qq", "-p", str(writer), "-e", "trace=writev",
                                   "-e", "inject=writev:delay_enter=300000:when=1..20", "-o", "/dev/null"])
        try:
            time.sleep(1)  # attached
            loud = [vxlan(loud_vni, seq_frame(loud_vni, i, size=1000)) for i in range(20000)]
            c.send(loud, pace_every=1000)
            # The writer is behind now: quiet sessions go on at their pace.
            c.send([vxlan(v, seq_frame(v, 1, size=64)) for v in quiet])
            c.send([vxlan(v, seq_frame(v, 2, size=64)) for v in quiet])
            total = 3 * len(quiet) + len(loud)
            m = wait_for(c, total, nothing_buffered, bound_s=240)
        finally:
            tracer.send_signal(signal.SIGINT)  # detaches; the writer runs on at full speed
            tracer.wait(timeout=30)
        check_identities(m)
        loud_dropped = dropped(m, session=f"vni-{loud_vni}", reason="queue_full")
        assert loud_dropped > 0, "the writer was not behind: the test proves nothing"
        loud_written = value(m, "mirrortap_sink_written_packets_total", sink="pcap", session=f"vni-{loud_vni}")
        assert loud_written + loud_dropped == len(loud)
        quiet_dropped = dropped(m) - loud_dropped
        assert quiet_dropped == 0, f"{quiet_dropped} quiet records dropped"
        assert value(m, "mirrortap_socket_drops_total") == 0
        assert c.stop() == 0
        loud_frames = sum(len(tcpdump_frames(f)) for f in session_files(c.pcap_dir, f"vni-{loud_vni}"))
        assert loud_frames == loud_written
        for v in quiet:
            files = session_files(c.pcap_dir, f"vni-{v}")
            assert len(files) == 1, (v, files)
            assert tcpdump_frames(files[0]) == [seq_frame(v, s, size=64) for s in range(3)], v


def descriptors_follow_active_sessions():
    """max_sessions 20,000 and waves of new sessions that end again: the capture files' descriptors
    stay under workers x pcap.max_open_files, idle files give theirs back, and nothing is lost."""
    workers, max_open = 2, 16
    # Every session its own series (no cap), so that each ended one moves to the expired totals.
    config = (f"max_sessions: 20000\nsession_idle_seconds: 3\nmetrics:\n  max_session_series: 0\n"
              f"pcap:\n  max_open_files: {max_open}\n  idle_close_seconds: 1\n  rotate_seconds: 0\n")
    with Collector(config=config, workers=workers) as c:
        base = descriptors(c.proc.pid)
        most = base
        waves, per_wave = 5, 1000
        for w in range(waves):
            vnis = range(30000 + w * per_wave, 30000 + (w + 1) * per_wave)
            c.send([vxlan(v, udp4_frame(sport=v % 60000)) for v in vnis])
            for _ in range(10):
                most = max(most, descriptors(c.proc.pid))
                time.sleep(0.1)
        # Besides the files: the writer's two directory descriptors while it opens one, and
        # a curl connection to /metrics open at a sample.
        assert most <= base + workers * max_open + 3, (base, most)
        m = wait_for(c, waves * per_wave,
                     lambda m: value(m, "mirrortap_sessions") == 0 and nothing_buffered(m), bound_s=120)
        check_identities(m)
        assert value(m, "mirrortap_sessions_expired_total") == waves * per_wave
        assert value(m, "mirrortap_expired_sink_written_packets_total", sink="pcap") == waves * per_wave
        # Every session ended and idled: no capture file is held open.
        assert descriptors(c.proc.pid) <= base + 1, (base, descriptors(c.proc.pid))
        assert c.stop() == 0
        dirs = [d for d in os.listdir(c.pcap_dir) if d.startswith("vni-")]
        assert len(dirs) == waves * per_wave
        for v in (30000, 31500, 34999):
            files = session_files(c.pcap_dir, f"vni-{v}")
            assert len(files) == 1 and tcpdump_frames(files[0]) == [udp4_frame(sport=v % 60000)], v


def a_descriptor_budget_that_does_not_fit_is_refused():
    """pcap.max_open_files x workers past RLIMIT_NOFILE (here 2,048, soft and hard) refuses the
    start with the figures and the fix; 0 (the default) takes each worker's share and starts."""
    def limit_descriptors():
        resource.setrlimit(resource.RLIMIT_NOFILE, (2048, 2048))

    c = Collector(config="pcap:\n  max_open_files: 4096\n", workers=2, metrics=False, defer_start=True)
    refused = subprocess.run(c.cmd + ["--check-config"], capture_output=True, text=True, timeout=20)
    assert refused.returncode == 0, refused.stderr  # the file itself is valid: only the limit refuses it
    proc = subprocess.Popen(c.cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            preexec_fn=limit_descriptors)
    try:
        _, err = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError("a descriptor budget over the limit did not refuse the start")
    assert proc.returncode != 0, err
    assert "pcap.max_open_files 4096 x 2 workers" in err and "RLIMIT_NOFILE" in err and "LimitNOFILE" in err, err
    with Collector(config="pcap:\n  max_open_files: 0\n", workers=2, defer_start=True) as ok:
        ok.proc = subprocess.Popen(ok.cmd, stdout=subprocess.DEVNULL, stderr=open(ok.stderr_path, "w"),
                                   preexec_fn=limit_descriptors)
        ok.wait_stderr("listening on")
        assert ok.stop() == 0


if __name__ == "__main__":
    run({f.__name__: f for f in [
        thousands_of_sessions_lose_nothing, a_slow_writer_drops_the_loud_session_not_the_quiet_ones,
        descriptors_follow_active_sessions, a_descriptor_budget_that_does_not_fit_is_refused,
    ]})
