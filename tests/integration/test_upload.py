"""The collector ships its finished pcaps to a real S3-compatible store
(s3rver, npm) on loopback; what the store holds is read back with the aws CLI
and tshark. Faults come from the store itself (down, killed) or from the
recording proxy of tests/cloud/servers.py (500s, slow answers, cut
connections). In every test: the records in the bucket equal the datagrams
the collector counted as written, and the counters say where the rest went."""
import base64
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "../cloud"))

import servers  # noqa: E402
from harness import (Collector, check_identities, run, session_files, seq_frame, tshark_lengths, value,  # noqa: E402
                     vxlan)
from servers import BUCKET, S3RVER_KEY, S3RVER_SECRET, RecordingProxy, S3rver, aws, sha256_file  # noqa: E402

PREFIX = "fleet/eu"
COLLECTOR_ID = "it-collector-1"


def use_store_credentials():
    """The collector inherits the environment: s3rver's key, nothing of the machine's AWS settings."""
    for k in [k for k in os.environ if k.startswith("AWS_")]:
        del os.environ[k]
    os.environ.update(AWS_ACCESS_KEY_ID=S3RVER_KEY, AWS_SECRET_ACCESS_KEY=S3RVER_SECRET,
                      AWS_EC2_METADATA_DISABLED="true")


def upload_flags(endpoint):
    return ["--upload", f"s3://{BUCKET}/{PREFIX}/", "--upload-endpoint", endpoint, "--upload-region", "us-east-1",
            "--collector-id", COLLECTOR_ID]


def config(retry_cap="1s", drain="60s", delete=True, extra=""):
    return (f"upload:\n  retry_cap_seconds: {retry_cap}\n  drain_seconds: {drain}\n"
            f"  delete_after_upload: {'true' if delete else 'false'}\n"
            "pcap:\n  rotate_seconds: 0\n"
            "sessions:\n  - {vni: 501, name: web}\n" + extra)


def listed(endpoint, tree="pcap"):
    out = aws(endpoint, "s3api", "list-objects-v2", "--bucket", BUCKET, "--prefix", f"{PREFIX}/{tree}/")
    return sorted(o["Key"] for o in (json.loads(out) if out.strip() else {}).get("Contents", []))


def fetch(endpoint, key, directory):
    path = os.path.join(directory, os.path.basename(key))
    aws(endpoint, "s3api", "get-object", "--bucket", BUCKET, "--key", key, path)
    return path


def head(endpoint, key):
    return json.loads(aws(endpoint, "s3api", "head-object", "--bucket", BUCKET, "--key", key))


def records_in_bucket(endpoint):
    """Records of every pcap object, as tshark reads them (it fails on a cut or foreign file)."""
    directory = tempfile.mkdtemp(prefix="mirrortap-readback-")
    return sum(len(tshark_lengths(fetch(endpoint, k, directory))) for k in listed(endpoint))


def wait_uploads(c, uploaded, timeout=60):
    """Until `uploaded` files are counted as uploaded and nothing is left in the backlog (bounded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = c.metrics()
        if value(m, "mirrortap_upload_files_total", result="uploaded") >= uploaded and \
                value(m, "mirrortap_upload_backlog_files") == 0:
            return m
        time.sleep(0.1)
    raise AssertionError(f"not {uploaded} uploads within {timeout} s: {upload_figures(c.metrics())}\n"
                         + c.read_stderr()[-3000:])


def upload_figures(m):
    return {dict(l).get("result", n): v for (n, l), v in m.items() if n.startswith("mirrortap_upload_")}


def frames(vni, count, size=200, start=0):
    return [vxlan(vni, seq_frame(vni, start + i, size=size)) for i in range(count)]


def send_files(c, vni, files, per_file, size=200):
    """`files` finished files of `per_file` frames each (a SIGHUP finishes each); returns the datagrams sent."""
    sent = 0
    reloads = c.read_stderr().count("reloaded")
    for n in range(files):
        c.send(frames(vni, per_file, size=size, start=sent))
        sent += per_file
        c.wait_settled(sent)
        c.proc.send_signal(signal.SIGHUP)
        c.wait_stderr("reloaded", reloads + n + 1)
    return sent


def key_is_partitioned(key, session):
    parts = key.split("/")
    assert parts[:3] == ["fleet", "eu", "pcap"], key
    assert parts[3] == f"session={session}", key
    assert parts[4].startswith("date=") and len(parts[4]) == len("date=YYYY-MM-DD"), key
    assert parts[5].startswith("hour=") and len(parts[5]) == len("hour=HH"), key
    assert parts[6] == f"collector={COLLECTOR_ID}", key
    assert parts[7].startswith(session + "-") and parts[7].endswith(".pcap"), key


def small_disk(test):
    """A 2 MiB tmpfs as the capture disk, in a private mount namespace: the test
    runs itself again inside one (returns None here, after it passed there)."""
    if os.environ.get("MIRRORTAP_IN_MOUNT_NS") != "1":
        if os.geteuid() != 0:
            print("SKIP: a tmpfs of its own needs root")
            sys.exit(77)
        env = dict(os.environ, MIRRORTAP_IN_MOUNT_NS="1")
        out = subprocess.run(["unshare", "-m", "--propagation", "private", sys.executable, __file__, test],
                             env=env, timeout=300)
        assert out.returncode == 0
        return None
    disk = tempfile.mkdtemp(prefix="mirrortap-disk-")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", disk], check=True)
    return disk


class StoreOnPort:
    """s3rver on a port fixed in advance, so that a collector can be pointed at it before it runs."""

    def __init__(self):
        self.port = servers.free_port()
        self.store = None

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.port}"

    def up(self):
        picked = servers.free_port
        servers.free_port = lambda: self.port
        try:
            self.store = S3rver()
        finally:
            servers.free_port = picked
        return self.store

    def down(self):
        if self.store:
            self.store.stop()
            self.store = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.down()


# ---- the tests ---------------------------------------------------------------

def finished_files_reach_the_bucket_whole():
    """Normal flow, files kept (delete_after_upload: false): every finished file
    is in the bucket under PREFIX/pcap/session=/date=/hour=/collector=/FILE with
    the same sha256, tshark reads it, its metadata says what it holds, and the
    local copy is marked so that a restart does not upload it again."""
    use_store_credentials()
    stored_as = "upload:\n  storage_class: STANDARD_IA\n"
    with S3rver() as s3, Collector(*upload_flags(s3.endpoint), config=config(delete=False).replace("upload:\n", stored_as)) as c:
        sent = send_files(c, 501, 3, 100)
        m = wait_uploads(c, 3)
        check_identities(m)
        written = value(m, "mirrortap_sink_written_packets_total", sink="pcap")
        assert written == sent, (written, sent)
        keys = listed(s3.endpoint)
        assert len(keys) == 3, keys
        local = session_files(c.pcap_dir, "web")
        assert sorted(os.path.basename(k) for k in keys) == sorted(os.path.basename(p) for p in local)
        scratch = tempfile.mkdtemp(prefix="mirrortap-readback-")
        for key in keys:
            key_is_partitioned(key, "web")
            path = os.path.join(c.pcap_dir, "web", os.path.basename(key))
            assert sha256_file(fetch(s3.endpoint, key, scratch)) == sha256_file(path), key
            assert os.getxattr(path, "user.mirrortap.uploaded") == b"s3"
            assert head(s3.endpoint, key).get("StorageClass") == "STANDARD_IA"
            meta = head(s3.endpoint, key)["Metadata"]
            assert meta["session"] == "web" and meta["vni"] == "501" and meta["collector"] == COLLECTOR_ID, meta
            assert int(meta["packets"]) == len(tshark_lengths(path)), meta
            assert meta["first-timestamp"] <= meta["last-timestamp"], meta
        assert records_in_bucket(s3.endpoint) == written
        # Each capture's flow index went up beside it, in the flows tree, byte for byte.
        flows = listed(s3.endpoint, "flows")
        assert sorted(k.replace("/flows/", "/pcap/", 1) for k in flows) == sorted(k + ".flows.json.gz" for k in keys)
        for key in flows:
            index = os.path.join(c.pcap_dir, "web", os.path.basename(key))
            assert sha256_file(fetch(s3.endpoint, key, scratch)) == sha256_file(index), key
        assert value(m, "mirrortap_upload_bytes_total") == \
            sum(os.path.getsize(p) + os.path.getsize(p + ".flows.json.gz") for p in local)
        assert value(m, "mirrortap_upload_last_success_timestamp_seconds") > time.time() - 600
        assert value(m, "mirrortap_upload_files_total", result="failed") == 0
        assert c.stop() == 0
        # A restart finds every file marked: nothing goes up twice.
        again = Collector(*upload_flags(s3.endpoint), config=config(delete=False), pcap_dir=c.pcap_dir)
        with again:
            m = again.metrics()
            assert value(m, "mirrortap_upload_backlog_files") == 0, upload_figures(m)
            assert again.stop() == 0
        assert "queued for upload" not in again.read_stderr()


def store_down_at_start_then_up():
    """The store is unreachable when the collector starts: files wait on disk,
    attempts are counted as failed, and once it is up the backlog drains, the
    local files go, and nothing is lost."""
    use_store_credentials()
    with StoreOnPort() as store, Collector(*upload_flags(store.endpoint), config=config()) as c:
        sent = send_files(c, 501, 3, 50)
        time.sleep(1.5)
        m = c.metrics()
        assert value(m, "mirrortap_upload_files_total", result="uploaded") == 0
        assert value(m, "mirrortap_upload_files_total", result="failed") >= 1, upload_figures(m)
        assert value(m, "mirrortap_upload_backlog_files") == 3, upload_figures(m)
        assert value(m, "mirrortap_upload_backlog_bytes") > 0
        store.up()
        m = wait_uploads(c, 3)
        check_identities(m)
        assert value(m, "mirrortap_sink_written_packets_total", sink="pcap") == sent
        assert records_in_bucket(store.endpoint) == sent
        assert session_files(c.pcap_dir, "web") == []  # delete_after_upload
        assert c.stop() == 0


def store_cut_off_mid_upload():
    """Multipart uploads (files of 20 MiB) whose connections the store cuts
    half way through a part, and then refuses for a while: parts are sent
    again, every file arrives whole (sha256 of the read-back equals the records
    the collector wrote), none twice."""
    use_store_credentials()
    cut = {"on": False, "cuts": 0}

    def fault(request, attempt):
        if request.method == "PUT" and "partNumber=2" in request.path and cut["cuts"] == 0:
            cut["on"] = True  # the store goes away in the middle of the second part
            threading.Timer(2.0, lambda: cut.update(on=False)).start()
        if cut["on"]:
            cut["cuts"] += 1
            return ("cut",)
        return None

    with S3rver() as s3, RecordingProxy(s3.port, fault) as proxy, \
            Collector(*upload_flags(proxy.endpoint), "--rotate-size", "20M", config=config()) as c:
        per_file = 20 * 1024 * 1024 // 1300 + 1  # records of 1300 bytes fill one 20 MiB file, the next starts
        sent = 0
        for _ in range(2):
            c.send(frames(501, per_file, size=1280, start=sent), pace_every=100)
            sent += per_file
            c.wait_settled(sent)
        written = value(c.wait_settled(sent), "mirrortap_sink_written_packets_total", sink="pcap")
        assert c.stop() == 0  # SIGTERM finishes the open file and uploads everything before exit
        assert "every finished file uploaded" in c.read_stderr()
        assert cut["cuts"] >= 1, "the proxy never cut a part"
        assert records_in_bucket(s3.endpoint) == written == sent
        assert len(proxy.matching("POST", {"uploads": ""})) >= 1  # they went multipart


def server_errors_and_slow_answers_are_outlasted():
    """Every request fails twice with 500 before it passes, and each answer is
    slow: all files arrive, the S3 client's own retries absorb it."""
    use_store_credentials()

    def fault(request, attempt):
        time.sleep(0.3)
        return ("status", "InternalError", 500) if attempt <= 2 else None

    with S3rver() as s3, RecordingProxy(s3.port, fault) as proxy, \
            Collector(*upload_flags(proxy.endpoint), config=config()) as c:
        sent = send_files(c, 501, 3, 40)
        m = wait_uploads(c, 3, timeout=120)
        check_identities(m)
        assert records_in_bucket(s3.endpoint) == value(m, "mirrortap_sink_written_packets_total", sink="pcap") == sent
        assert sum(1 for r in proxy.matching("PUT") if r.status == 500) >= 6
        assert c.stop() == 0


def disk_filling_while_the_store_is_down():
    """Runs itself again in a private mount namespace with a 2 MiB tmpfs as
    the capture disk: with the store down the disk fills, records are dropped
    as disk_full (counted), nothing finished is deleted; the store comes back,
    the files go up and are removed, and writing resumes."""
    disk = small_disk("disk_filling_while_the_store_is_down")
    if not disk:
        return
    use_store_credentials()
    with StoreOnPort() as store, Collector(*upload_flags(store.endpoint), "--rotate-size", "256K", "--rcvbuf", "8M",
                                           pcap_dir=disk, config=config()) as c:
        sent = 0
        for _ in range(8):  # 4 MB of frames into a 2 MiB disk
            c.send(frames(11, 500, size=1000, start=sent))
            sent += 500
        m = c.wait_settled(sent)
        check_identities(m)
        full = value(m, "mirrortap_sink_dropped_packets_total", reason="disk_full")
        assert full > 0, upload_figures(m)
        written = value(m, "mirrortap_sink_written_packets_total", sink="pcap")
        assert written + full == sent, (written, full, sent)
        store.up()
        wait_uploads(c, 1, timeout=120)  # the finished files go up and make room
        # Room again: the next frames are written and go up too.
        c.send(frames(11, 100, size=1000, start=sent))
        sent += 100
        for _ in range(40):  # the sink checks free space once a second
            m = c.wait_settled(sent)
            if value(m, "mirrortap_sink_written_packets_total", sink="pcap") > written:
                break
            c.send(frames(11, 10, size=1000, start=sent))
            sent += 10
            time.sleep(0.1)
        assert value(m, "mirrortap_sink_written_packets_total", sink="pcap") > written
        written = value(m, "mirrortap_sink_written_packets_total", sink="pcap")
        full = value(m, "mirrortap_sink_dropped_packets_total", reason="disk_full")
        assert written + full == sent, (written, full, sent)
        assert value(m, "mirrortap_upload_files_total", result="missing") == 0
        assert value(m, "mirrortap_upload_files_total", result="deleted_before_upload") == 0
        assert c.stop() == 0  # SIGTERM finishes the open file and uploads everything before exit
        assert "every finished file uploaded" in c.read_stderr()
        assert records_in_bucket(store.endpoint) == written
    subprocess.run(["umount", disk], check=False)


def retention_keeps_what_is_not_uploaded():
    """--retain-files 1 while the store is down: retention keeps every file not
    yet uploaded; once the store is back they all go up, nothing is lost."""
    use_store_credentials()
    with StoreOnPort() as store, Collector(*upload_flags(store.endpoint), "--retain-files", "1",
                                           config=config()) as c:
        sent = send_files(c, 501, 3, 40)
        assert len(session_files(c.pcap_dir, "web")) == 3
        store.up()
        m = wait_uploads(c, 3)
        assert value(m, "mirrortap_upload_files_total", result="deleted_before_upload") == 0
        assert records_in_bucket(store.endpoint) == value(m, "mirrortap_sink_written_packets_total", sink="pcap") == sent
        assert c.stop() == 0


def the_disk_floor_removes_files_not_uploaded_and_counts_them():
    """A 2 MiB tmpfs, a 1 MiB floor, --retain-files 1 and the store down: at
    the floor retention removes files not yet uploaded, each counted as
    deleted_before_upload; every other finished file reaches the bucket."""
    disk = small_disk("the_disk_floor_removes_files_not_uploaded_and_counts_them")
    if not disk:
        return
    use_store_credentials()
    with StoreOnPort() as store, Collector(*upload_flags(store.endpoint), "--rotate-size", "128K", "--min-free", "1M",
                                           "--retain-files", "1", "--rcvbuf", "8M", pcap_dir=disk,
                                           config=config()) as c:
        sent = 0
        for _ in range(6):  # 3 MB of frames, a second apart: the floor is checked once a second
            c.send(frames(11, 500, size=1000, start=sent))
            sent += 500
            c.wait_settled(sent)
            time.sleep(1.1)
        m = c.wait_settled(sent)
        check_identities(m)
        deleted = value(m, "mirrortap_upload_files_total", result="deleted_before_upload")
        assert deleted > 0, upload_figures(m)
        store.up()
        wait_uploads(c, 1, timeout=120)  # what retention kept goes up
        written = value(c.wait_settled(sent), "mirrortap_sink_written_packets_total", sink="pcap")
        assert c.stop() == 0  # SIGTERM finishes the open file and uploads everything before exit
        assert "every finished file uploaded" in c.read_stderr()
        # Every finished file either reached the bucket or was counted as deleted before upload.
        assert [f for f in os.listdir(os.path.join(disk, "vni-11")) if f.endswith(".pcap")] == []
        assert 0 < records_in_bucket(store.endpoint) < written  # the rest went with the deleted files
    subprocess.run(["umount", disk], check=False)


def uploads_run_as_the_user_after_the_drop():
    """As root with --user nobody and delete_after_upload false: the files are
    nobody's, the uploader (started after the drop) reads and marks them as
    nobody, and a crash's .part is finished as nobody at the next start."""
    if os.geteuid() != 0:
        print("SKIP: needs root")
        sys.exit(77)
    import pwd
    nobody = pwd.getpwnam("nobody")
    use_store_credentials()
    with S3rver() as s3:
        c = Collector(*upload_flags(s3.endpoint), "--user", "nobody", config=config(delete=False), defer_start=True)
        with c:
            os.chmod(c.tmp, 0o755)  # mkdtemp's 0700 would keep nobody out
            os.chmod(os.path.join(c.tmp, "config.yaml"), 0o644)  # a reload reads it as nobody
            c.start()
            sent = send_files(c, 501, 2, 30)
            wait_uploads(c, 2)
            c.send(frames(501, 10, start=sent))
            c.wait_settled(sent + 10)
            c.proc.kill()  # leaves a .part of nobody's
            c.proc.wait()
        web = os.path.join(c.pcap_dir, "web")
        for f in os.listdir(web):
            if f.endswith(".pcap"):
                assert os.stat(os.path.join(web, f)).st_uid == nobody.pw_uid
                assert os.getxattr(os.path.join(web, f), "user.mirrortap.uploaded") == b"s3"
        assert any(f.endswith(".pcap.part") for f in os.listdir(web))
        d = Collector(*upload_flags(s3.endpoint), "--user", "nobody", config=config(delete=False),
                      pcap_dir=c.pcap_dir, defer_start=True)
        with d:
            os.chmod(d.tmp, 0o755)
            os.chmod(os.path.join(d.tmp, "config.yaml"), 0o644)
            d.start()
            d.wait_stderr("finished after a crash: 10 records")
            wait_uploads(d, 1)
            assert d.stop() == 0
        assert records_in_bucket(s3.endpoint) == sent + 10


def restart_with_a_backlog():
    """Files the store never took (it was down while the collector ran) stay
    on disk across a restart; the next run queues them at start and uploads them."""
    use_store_credentials()
    with StoreOnPort() as store:
        first = Collector(*upload_flags(store.endpoint), config=config(drain="1s"))
        with first:
            sent = send_files(first, 501, 3, 60)
            written = value(first.metrics(), "mirrortap_sink_written_packets_total", sink="pcap")
            assert first.stop() == 0
        assert "not uploaded stay on disk for the next start" in first.read_stderr(), first.read_stderr()
        files = session_files(first.pcap_dir, "web")
        assert len(files) == 3
        indexes = [f + ".flows.json.gz" for f in files]  # each capture's flow index goes up with it
        assert all(os.path.exists(i) for i in indexes)
        store.up()
        with Collector(*upload_flags(store.endpoint), config=config(), pcap_dir=first.pcap_dir) as c:
            c.wait_stderr("3 finished captures on disk queued for upload")
            wait_uploads(c, 3)
            assert written == sent
            assert records_in_bucket(store.endpoint) == written
            assert session_files(c.pcap_dir, "web") == [] and not any(os.path.exists(i) for i in indexes)
            flows = listed(store.endpoint, "flows")
            assert sorted(k.replace("/flows/", "/pcap/", 1) for k in flows) == \
                sorted(k + ".flows.json.gz" for k in listed(store.endpoint))
            assert c.stop() == 0


def sigterm_right_after_start_uploads_the_backlog_on_disk():
    """A backlog left on disk, and SIGTERM as soon as the next run listens:
    the scan at start (on the uploader's thread) is part of the drain, so the
    backlog still goes up before the exit."""
    use_store_credentials()
    with StoreOnPort() as store:
        first = Collector(*upload_flags(store.endpoint), config=config(drain="0s"))
        with first:
            sent = send_files(first, 501, 2, 25)
            assert first.stop() == 0
        store.up()
        second = Collector(*upload_flags(store.endpoint), config=config(), pcap_dir=first.pcap_dir)
        with second:
            assert second.stop() == 0
        assert "every finished file uploaded" in second.read_stderr(), second.read_stderr()
        assert records_in_bucket(store.endpoint) == sent
        assert session_files(first.pcap_dir, "web") == []


def part_files_are_recovered_after_sigkill():
    """SIGKILL leaves a .pcap.part (and a partial record at its end, as a write
    cut by a crash would): the next start cuts it back to the last whole
    record, renames it and uploads it; every record counted written arrives."""
    use_store_credentials()
    with S3rver() as s3:
        first = Collector(config=config())
        with first:
            sent = 0
            first.send(frames(501, 80, start=sent))
            sent += 80
            m = first.wait_settled(sent)
            written = value(m, "mirrortap_sink_written_packets_total", sink="pcap")
            first.proc.kill()
            first.proc.wait()
        web = os.path.join(first.pcap_dir, "web")
        parts = [f for f in os.listdir(web) if f.endswith(".pcap.part")]
        assert len(parts) == 1, os.listdir(web)
        with open(os.path.join(web, parts[0]), "ab") as f:
            f.write(b"\x01\x02\x03\x04" * 7)  # a record header and a little, cut short
        with Collector(*upload_flags(s3.endpoint), config=config(), pcap_dir=first.pcap_dir) as c:
            c.wait_stderr("finished after a crash: 80 records, 28 bytes of a partial record cut")
            wait_uploads(c, 1)
            assert records_in_bucket(s3.endpoint) == written == sent
            assert [f for f in os.listdir(web) if f != "current"] == []
            assert c.stop() == 0


def sigterm_uploads_the_backlog_before_exit():
    """A backlog built while the store refused (503), then SIGTERM once it
    takes requests again: the collector finishes its open file, uploads
    everything within upload.drain_seconds and only then exits 0. With the
    store down for good, it gives up at drain_seconds, says so, and the files
    stay on disk."""
    use_store_credentials()
    state = {"down": True}

    def fault(request, attempt):
        return ("status", "ServiceUnavailable", 503) if state["down"] else None

    with S3rver() as s3, RecordingProxy(s3.port, fault) as proxy:
        c = Collector(*upload_flags(proxy.endpoint), config=config(retry_cap="2s", drain="60s"))
        with c:
            sent = send_files(c, 501, 2, 70)
            c.send(frames(501, 30, start=sent))  # left in the open file: SIGTERM finishes it
            sent += 30
            m = c.wait_settled(sent)
            written = value(m, "mirrortap_sink_written_packets_total", sink="pcap")
            assert value(m, "mirrortap_upload_files_total", result="uploaded") == 0
            state["down"] = False
            assert c.stop() == 0
        assert "every finished file uploaded" in c.read_stderr(), c.read_stderr()
        assert records_in_bucket(s3.endpoint) == written == sent
        assert session_files(c.pcap_dir, "web") == []

        state["down"] = True
        d = Collector(*upload_flags(proxy.endpoint), config=config(retry_cap="1s", drain="2s"))
        with d:
            more = send_files(d, 501, 1, 20)
            assert d.stop() == 0  # within the harness's 20 s: drain_seconds bounds it, not the store
        assert "drain time is up: 1 captures" in d.read_stderr(), d.read_stderr()
        assert len(session_files(d.pcap_dir, "web")) == 1 and more == 20


def _current(directory):
    """What `current` names, None when there is no link; a link that names a missing file fails."""
    link = os.path.join(directory, "current")
    if not os.path.lexists(link):
        return None
    target = os.readlink(link)
    assert os.path.exists(os.path.join(directory, target)), f"`current` names {target}, which is gone"
    return target


def current_never_names_an_uploaded_file():
    """`current` names the file being written, or the last one finished; once the uploader has
    stored and deleted that one, `current` moves to the session's newest file left on disk (one a
    first run kept, marked uploaded), or goes when none is left. Files finish by time (1 s), so
    that nothing is written after them and `current` stays on them."""
    use_store_credentials()
    by_time = config(delete=True).replace("rotate_seconds: 0", "rotate_seconds: 1")
    with S3rver() as s3:
        with Collector(*upload_flags(s3.endpoint), config=config(delete=False)) as first:
            send_files(first, 501, 1, 20)
            wait_uploads(first, 1)
            assert first.stop() == 0
        web = os.path.join(first.pcap_dir, "web")
        kept = [f for f in os.listdir(web) if f.endswith(".pcap")]
        assert len(kept) == 1, kept
        with Collector(*upload_flags(s3.endpoint), config=by_time, pcap_dir=first.pcap_dir) as c:
            def finished_and_gone(directory, left):
                """Until the files finished by time are uploaded and deleted: only `left` remain (10 s)."""
                for _ in range(200):
                    if sorted(f for f in os.listdir(directory) if ".pcap" in f and "flows" not in f) == left:
                        return
                    time.sleep(0.05)
                raise AssertionError(f"{directory}: {os.listdir(directory)}")

            for n in (1, 2):
                c.send(frames(501, 5, start=20 * n))
                c.wait_settled(5 * n)
                wait_uploads(c, n)
                finished_and_gone(web, kept)
                assert _current(web) == kept[0], os.listdir(web)
            # A session with nothing left behind: `current` goes with its last file.
            other = os.path.join(c.pcap_dir, "vni-502")
            c.send(frames(502, 5))
            c.wait_settled(15)
            wait_uploads(c, 3)
            finished_and_gone(other, [])
            assert _current(other) is None, os.listdir(other)
            assert c.stop() == 0
        assert records_in_bucket(s3.endpoint) == 20 + 15


def retention_by_age_removes_only_uploaded_files():
    """pcap.retain_seconds with delete_after_upload false: files stored and
    marked go once older than the limit; with the store down, a file as old
    but not yet uploaded stays (and goes up once the store is back). Files
    are made old with os.utime; a reload makes the writer look at once."""
    use_store_credentials()
    two_hours_ago = time.time() - 2 * 3600

    def make_old(paths):
        for p in paths:
            os.utime(p, (two_hours_ago, two_hours_ago))

    aged = config(delete=False).replace("pcap:\n", "pcap:\n  retain_seconds: 1h\n")
    state = {"down": False}

    def fault(request, attempt):
        return ("status", "ServiceUnavailable", 503) if state["down"] else None

    with S3rver() as s3, RecordingProxy(s3.port, fault) as proxy:
        with Collector(*upload_flags(proxy.endpoint), config=aged) as c:
            sent = send_files(c, 501, 2, 20)
            wait_uploads(c, 2)
            stored = session_files(c.pcap_dir, "web")
            assert len(stored) == 2 and all(os.getxattr(p, "user.mirrortap.uploaded") == b"s3" for p in stored)
            state["down"] = True
            sent += send_files(c, 501, 1, 20)
            waiting = [p for p in session_files(c.pcap_dir, "web") if p not in stored]
            assert len(waiting) == 1, waiting
            make_old(stored + waiting)
            c.reload(aged)
            c.wait_stderr("reloaded", 4)  # three from send_files, then this one
            for _ in range(200):  # bounded: 10 s
                if session_files(c.pcap_dir, "web") == waiting:
                    break
                time.sleep(0.05)
            assert session_files(c.pcap_dir, "web") == waiting, session_files(c.pcap_dir, "web")
            assert not any(os.path.exists(p + ".flows.json.gz") for p in stored)
            assert os.path.exists(waiting[0] + ".flows.json.gz")
            state["down"] = False
            m = wait_uploads(c, 3, timeout=120)
            assert value(m, "mirrortap_upload_files_total", result="deleted_before_upload") == 0
            assert c.stop() == 0
        assert records_in_bucket(s3.endpoint) == sent


def b64_sha256(data):
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def uploads_carry_checksums_and_a_corrupted_part_is_sent_again():
    """Through the recording proxy (s3rver verifies no checksum; the proxy
    does, as S3 would): a 20 MiB capture goes multipart and a small one and
    the flow indexes as PutObject; every body carries x-amz-checksum-sha256 of
    itself, Create asks for SHA256, Complete names each part's checksum, and
    every object's x-amz-meta-sha256 is its file's SHA-256. Part 2's body is
    damaged once on the way: the proxy refuses it (400 BadDigest), the part
    alone is sent again with the same checksum, the object ends whole, and
    the refusal is counted as checksum_mismatch, not as a failed file.
    botocore computes each request's signature over the new headers too."""
    use_store_credentials()
    damaged = {"done": False}

    def fault(request, attempt):
        if request.method == "PUT" and request.query.get("partNumber") == "2" and not damaged["done"]:
            damaged["done"] = True
            return ("corrupt",)
        return None

    from test_cloud import check_signature
    with S3rver() as s3, RecordingProxy(s3.port, fault) as proxy:
        with Collector(*upload_flags(proxy.endpoint), "--rotate-size", "20M", config=config(delete=False)) as c:
            # Records of 1296 bytes (a 16-byte header and the frame): 16,181 fill one 20 MiB file, the rest start the next.
            per_file = 20 * 1024 * 1024 // 1296 + 20
            c.send(frames(501, per_file, size=1280), pace_every=100)
            written = value(c.wait_settled(per_file), "mirrortap_sink_written_packets_total", sink="pcap")
            m = wait_uploads(c, 1)  # the 20 MiB file, finished by size
            assert value(m, "mirrortap_upload_request_failures_total", reason="checksum_mismatch") == 1, upload_figures(m)
            assert value(m, "mirrortap_upload_files_total", result="failed") == 0, upload_figures(m)
            for reason in ("throttled", "server_error", "connection", "expired_token", "refused"):
                assert value(m, "mirrortap_upload_request_failures_total", reason=reason) == 0, upload_figures(m)
            assert c.stop() == 0  # SIGTERM finishes the open file and uploads everything before exit
            assert "every finished file uploaded" in c.read_stderr()
            assert damaged["done"], "the proxy never damaged a part"
            assert records_in_bucket(s3.endpoint) == written == per_file

        local = {os.path.basename(p): p for p in session_files(c.pcap_dir, "web")}
        assert len(local) == 2, local
        for p in list(local.values()):
            local[os.path.basename(p) + ".flows.json.gz"] = p + ".flows.json.gz"
        # Object data: every PutObject and UploadPart, refused or not, with the checksum of what was sent.
        puts = proxy.matching("PUT")
        assert puts and all(r.header("x-amz-checksum-sha256") == b64_sha256(r.body) for r in puts), puts
        parts = [r for r in puts if "partNumber" in r.query]
        assert [(r.query["partNumber"], r.status, r.code) for r in parts] == \
            [("1", 200, None), ("2", 400, "BadDigest"), ("2", 200, None)], parts
        assert parts[1].header("x-amz-checksum-sha256") == parts[2].header("x-amz-checksum-sha256")
        creates = proxy.matching("POST", {"uploads": ""})
        assert len(creates) == 1 and creates[0].header("x-amz-checksum-algorithm") == "SHA256", creates
        completes = [r for r in proxy.matching("POST") if "uploadId" in r.query]
        assert len(completes) == 1 and completes[0].status == 200, completes
        named = [c.decode() for c in re.findall(rb"<ChecksumSHA256>([^<]+)</ChecksumSHA256>", completes[0].body)]
        assert named == [b64_sha256(parts[0].body), b64_sha256(parts[2].body)], named
        # Every object's metadata names its file's SHA-256; Create and PutObject sent it.
        # The drain's manifest (docs/evidence.md) went up the same way, its own SHA-256 in its metadata.
        manifests = [r for r in puts if "/manifests/" in urllib.parse.unquote(r.path)]
        assert manifests and all(r.header("x-amz-meta-sha256") == hashlib.sha256(r.body).hexdigest()
                                 for r in manifests), manifests
        objects = [r for r in puts if "partNumber" not in r.query and r not in manifests] + creates
        assert len(objects) == 4, objects  # two captures, two indexes
        scratch = tempfile.mkdtemp(prefix="mirrortap-readback-")
        for key in listed(s3.endpoint) + listed(s3.endpoint, "flows"):
            path = local[os.path.basename(key)]
            digest = sha256_file(path)
            assert head(s3.endpoint, key)["Metadata"]["sha256"] == digest, key
            assert sha256_file(fetch(s3.endpoint, key, scratch)) == digest, key
            sent = [r for r in objects if urllib.parse.unquote(r.path.split("?")[0]).endswith("/" + key)]
            assert len(sent) == 1 and sent[0].header("x-amz-meta-sha256") == digest, (key, sent)
        for r in proxy.requests:
            check_signature(r, S3RVER_SECRET, None, "us-east-1")


TESTS = [finished_files_reach_the_bucket_whole, store_down_at_start_then_up, store_cut_off_mid_upload,
         server_errors_and_slow_answers_are_outlasted, disk_filling_while_the_store_is_down,
         retention_keeps_what_is_not_uploaded, the_disk_floor_removes_files_not_uploaded_and_counts_them,
         uploads_run_as_the_user_after_the_drop, restart_with_a_backlog,
         sigterm_right_after_start_uploads_the_backlog_on_disk,
         part_files_are_recovered_after_sigkill, sigterm_uploads_the_backlog_before_exit,
         current_never_names_an_uploaded_file, uploads_carry_checksums_and_a_corrupted_part_is_sent_again,
         retention_by_age_removes_only_uploaded_files]

if __name__ == "__main__":
    run({t.__name__: t for t in TESTS})
