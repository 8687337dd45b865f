"""Issue 14, end to end: two real collectors behind one mirror (the forward
direction of every flow to the first, the reverse to the second) write pcaps
and their flow indexes and upload both to one s3rver bucket and prefix; then
mirrortap-find reads the bucket (and a directory beside it). Every answer is
checked against tcpdump -r with the same expression over mergecap of every
object the aws CLI downloads from the bucket, read back with tshark; the
records in the bucket equal the datagrams the collectors counted written."""
import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "../find"))
sys.path.insert(0, os.path.join(HERE, "../cloud"))

import test_find  # noqa: E402
import test_upload  # noqa: E402
from harness import Collector, check_identities, run, session_files, tshark_lengths, value, vxlan  # noqa: E402
from servers import BUCKET, S3rver  # noqa: E402

SESSIONS = ("web", "db")
SOURCE = f"s3://{BUCKET}/{test_upload.PREFIX}"


def collector_flags(s3, collector_id):
    return ["--upload", f"{SOURCE}/", "--upload-endpoint", s3.endpoint, "--upload-region", "us-east-1",
            "--collector-id", collector_id]


def fleet_config(delete=True):
    """Both sessions, rotation by size only, uploads deleting what they stored (unless told not to)."""
    return test_upload.config(delete=delete, extra="  - {vni: 502, name: db}\n")


def find_env(s3):
    """The store's credentials (the collectors' environment) and its endpoint, for mirrortap-find."""
    return dict(os.environ, AWS_ENDPOINT_URL_S3=s3.endpoint, AWS_REGION="us-east-1")


class Fleet:
    """Collectors `uploading` (ids given) or keeping files (None); rounds of test_find's conversations
    (TCP and UDP over IPv4 and IPv6, one VLAN, ICMP, ARP): requests to the first, replies to the second,
    with two time marks between them. Every file is finished (SIGHUP) and, for uploaders, in the
    bucket before the constructor returns."""

    def __init__(self, s3, uploading=("collector-a", "collector-b"), rounds=30, rotate="16K"):
        self.s3 = s3
        self.collectors = []
        for cid in uploading:
            flags = collector_flags(s3, cid) if cid else []
            self.collectors.append(Collector(*flags, "--rotate-size", rotate, config=fleet_config()))
        self.uploading = uploading
        self.marks = []
        self.sent = [0, 0]
        for rnd in range(rounds):
            if rnd in (rounds // 3, 2 * rounds // 3):
                time.sleep(0.05)
                self.marks.append(time.time_ns())
                time.sleep(0.05)
            batches = ([], [])
            for vni, request, reply in test_find.conversations(rnd):
                batches[0].append(vxlan(vni, request))
                batches[1].append(vxlan(vni, reply))
            for i, c in enumerate(self.collectors):
                c.send(batches[i])
                self.sent[i] += len(batches[i])
            time.sleep(0.01)
        self.metrics = [self.finish(c, n, cid) for c, n, cid in zip(self.collectors, self.sent, uploading)]
        self.tmp = test_find.scratch("mirrortap-fleet-")
        self.local = []  # finished files of collectors that keep them
        for c, cid in zip(self.collectors, uploading):
            if cid is None:
                assert c.stop() == 0, c.read_stderr()
                self.local += [f for s in SESSIONS for f in session_files(c.pcap_dir, s)]
        self.downloaded = self.download() if any(uploading) else []

    @staticmethod
    def finish(c, sent, collector_id):
        """Finishes the open files (SIGHUP) and, for an uploader, waits (bounded) until every finished
        pcap is counted uploaded, nothing is in the backlog and nothing is left on disk."""
        c.wait_settled(sent)
        c.proc.send_signal(signal.SIGHUP)
        c.wait_stderr("reloaded")
        for _ in range(600):  # bounded: 60 s
            m = c.metrics()
            finished = value(m, "mirrortap_pcap_index_files_total")
            on_disk = [f for s in SESSIONS for f in os.listdir(os.path.join(c.pcap_dir, s))] \
                if collector_id else []
            if value(m, "mirrortap_sink_buffered_packets") == 0 and finished > 0 and not on_disk and \
                    (collector_id is None or (value(m, "mirrortap_upload_backlog_files") == 0 and
                                              value(m, "mirrortap_upload_files_total", result="uploaded") == finished)):
                break
            time.sleep(0.1)
        else:
            raise AssertionError(f"{collector_id}: not everything finished and uploaded: "
                                 f"{test_upload.upload_figures(m)}, on disk {on_disk}\n{c.read_stderr()[-3000:]}")
        check_identities(m)
        assert value(m, "mirrortap_pcap_index_failures_total") == 0
        assert value(m, "mirrortap_sink_written_packets_total", sink="pcap") == sent
        if collector_id:
            assert value(m, "mirrortap_upload_files_total", result="failed") == 0, test_upload.upload_figures(m)
        return m

    def download(self):
        """Every object under the prefix, with the aws CLI, into a tree of the bucket's own layout."""
        tree = os.path.join(self.tmp, "bucket")
        out = subprocess.run(["aws", "s3", "cp", "--recursive", "--only-show-errors", "--endpoint-url",
                              self.s3.endpoint, f"{SOURCE}/", tree], capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        return sorted(os.path.join(root, f) for root, _, files in os.walk(tree) for f in files)

    def files(self, sessions=SESSIONS):
        """The pcaps of these sessions: downloaded objects and local files alike (test_find.expected's input)."""
        chosen = [f for f in self.downloaded if f.endswith(".pcap") and
                  any(f"/pcap/session={s}/" in f for s in sessions)]
        return chosen + [f for f in self.local if os.path.basename(os.path.dirname(f)) in sessions]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for c in self.collectors:
            c.__exit__(*exc)


def records_written(fleet):
    return sum(value(m, "mirrortap_sink_written_packets_total", sink="pcap") for m in fleet.metrics)


def every_record_is_kept(fleet):
    """Records of every pcap, downloaded or local (tshark over their merge) = datagrams the collectors
    counted written = datagrams sent."""
    merged = os.path.join(fleet.tmp, "everything.pcap")
    subprocess.run(["mergecap", "-F", "nsecpcap", "-w", merged] + fleet.files(), check=True, timeout=60)
    assert len(tshark_lengths(merged)) == records_written(fleet) == sum(fleet.sent)


def bucket_holds_what_was_written(fleet):
    """Every record is in the bucket; every pcap object has its flow index object, and nothing else is
    in the prefix."""
    every_record_is_kept(fleet)
    pcaps = test_upload.listed(fleet.s3.endpoint, "pcap")
    flows = test_upload.listed(fleet.s3.endpoint, "flows")
    assert sorted(k.replace("/flows/", "/pcap/", 1) for k in flows) == sorted(k + ".flows.json.gz" for k in pcaps)
    assert len(pcaps) == sum(value(m, "mirrortap_upload_files_total", result="uploaded") for m in fleet.metrics)
    assert len(fleet.downloaded) == len(pcaps) + len(flows), fleet.downloaded
    for cid in fleet.uploading:
        for s in SESSIONS:
            mine = [k for k in pcaps if f"/session={s}/" in k and f"/collector={cid}/" in k]
            assert len(mine) >= 2, f"{cid}/{s}: expected a rotation or more, got {mine}"
    return pcaps


# ---- the tests ----------------------------------------------------------------

def two_collectors_upload_and_find_returns_both_directions():
    test_upload.use_store_credentials()
    with S3rver() as s3, Fleet(s3) as fleet:
        bucket_holds_what_was_written(fleet)
        env = find_env(s3)
        for expression in ["host 10.0.3.2", "net 10.0.3.0/24", "port 5432", "udp", "icmp", "arp",
                           "tcp port 443 and host 10.0.3.4", "ip6 and udp port 53", "host 2001:db8::2",
                           "vlan 100 and udp", "(port 443 or port 5432) and host 10.0.3.1", "not tcp", ""]:
            test_find.check_query(fleet, [SOURCE], expression, env=env)
        test_find.check_query(fleet, [SOURCE], "port 5432", sessions=["db"], env=env)
        a, b = fleet.marks
        test_find.check_query(fleet, [SOURCE], "port 443", sessions=["web"], since=a, until=b, env=env)
        test_find.check_query(fleet, [SOURCE], "", since=a, until=b, env=env)
        # Both directions of a connection, one from each collector's objects.
        _, got = test_find.check_query(fleet, [SOURCE], "host 10.0.3.6 and port 443", env=env)
        assert {data[26:30] for _, _, data in got} == {bytes([10, 0, 3, 6]), bytes([10, 0, 9, 2])}, got
        _, got = test_find.check_query(fleet, [SOURCE], "host 2001:db8::3", env=env)
        assert len({data[22:38] for _, _, data in got}) == 2, "both directions of the IPv6 flow expected"
        # The endpoint and region as flags rather than the environment: the same answer.
        out_path = os.path.join(fleet.tmp, "flags.pcap")
        test_find.run_find("--from", SOURCE, "--s3-endpoint", s3.endpoint, "--region", "us-east-1",
                           "-w", out_path, "vlan 100 and udp")
        assert sorted(test_find.pcap_records(out_path)) == sorted(test_find.expected(fleet, "vlan 100 and udp"))


def single_flow_query_reads_little_of_the_bucket():
    """One short connection (a SYN and its answer, round 30 of 60) among long ones: find reads, by its
    own count, under a quarter of the pcap bytes stored in the selection, and the packets are tcpdump's."""
    test_upload.use_store_credentials()
    with S3rver() as s3, Fleet(s3, rounds=60, rotate="32K") as fleet:
        log, got = test_find.check_query(fleet, [SOURCE], "host 10.0.3.9 and port 42030", env=find_env(s3))
        line = [ln for ln in log.splitlines() if "pcap bytes" in ln][-1]
        words = line.split()
        read, stored = int(words[2]), int(words[4])
        print(f"single flow: {line}")
        assert stored == sum(os.path.getsize(f) for f in fleet.files()), line
        assert 0 < read and read * 4 < stored, line
        assert len(got) == 2  # one packet each way, from two collectors
        # The whole bucket, for contrast: every byte is read (each file's 24-byte header too: its snaplen
        # and timestamp unit bound and scale the records read).
        log, _ = test_find.check_query(fleet, [SOURCE], "", env=find_env(s3))
        line = [ln for ln in log.splitlines() if "pcap bytes" in ln][-1]
        words = line.split()
        assert int(words[11]) == len(fleet.files()) and int(words[2]) == stored, line


def directory_and_bucket_together():
    """Collector A keeps its files (no upload), B uploads: --from A's directory --from the bucket merges both."""
    test_upload.use_store_credentials()
    with S3rver() as s3, Fleet(s3, uploading=(None, "collector-b")) as fleet:
        assert fleet.local and all(os.path.exists(f + ".flows.json.gz") for f in fleet.local), fleet.local
        directory = os.path.dirname(os.path.dirname(fleet.local[0]))
        env = find_env(s3)
        every_record_is_kept(fleet)
        for expression in ["host 10.0.3.2", "udp", "port 5432 and host 10.0.3.1", ""]:
            log, _ = test_find.check_query(fleet, [directory, SOURCE], expression, env=env)
            assert f"{SOURCE}:" in log and f"{directory}:" in log, log
        a, b = fleet.marks
        test_find.check_query(fleet, [directory, SOURCE], "tcp", sessions=["web"], since=a, until=b, env=env)
        _, got = test_find.check_query(fleet, [directory, SOURCE], "host 10.0.3.5 and port 5432", env=env)
        assert {data[26:30] for _, _, data in got} == {bytes([10, 0, 3, 5]), bytes([10, 0, 9, 1])}, got


TESTS = [two_collectors_upload_and_find_returns_both_directions, single_flow_query_reads_little_of_the_bucket,
         directory_and_bucket_together]

if __name__ == "__main__":
    run({t.__name__: t for t in TESTS})
