"""mirrortap-find --verify (issue 23 item 3, docs/evidence.md §5) against what
a real collector stored in a real S3-compatible store (s3rver on loopback):
one collector run makes a few small captures and a chain of manifests; then
each mutation an auditor must catch (a flipped byte, a deleted object, a
deleted manifest, an extra object, a gap in the intervals) is made on its own,
in a copy `aws s3 sync` made and in the bucket itself, and --verify must name
it in the summary and the JSON report and exit 1; the untouched store passes
with exit 0. --lock-days over the bucket finds every file unlocked (s3rver
keeps no Object Lock); through a proxy that adds S3's lock headers to HEAD
answers, locked and held files pass and a lock too short is found; over a
copy --lock-days is refused (exit 2)."""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.parse
from datetime import datetime, timedelta, timezone

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "../integration"))
sys.path.insert(0, os.path.join(HERE, "../cloud"))
sys.path.insert(0, os.path.join(HERE, "../upload"))

from harness import BIN, Collector  # noqa: E402
from servers import BUCKET, S3RVER_KEY, S3RVER_SECRET, RecordingProxy, S3rver  # noqa: E402
from test_manifest import chains, config, manifests, object_bytes, s3, wait_listed  # noqa: E402
from test_upload import PREFIX, send_files, upload_flags, use_store_credentials, wait_uploads  # noqa: E402

FIND = os.path.join(BIN, "mirrortap-find")


def verify(source, endpoint, *extra):
    """--verify of `source`: (exit status, summary, JSON report)."""
    with tempfile.NamedTemporaryFile(suffix=".json") as report:
        r = subprocess.run([FIND, "--verify", "--from", source, "--s3-endpoint", endpoint, "--report", report.name,
                            *extra], capture_output=True, text=True, timeout=120)
        assert r.returncode in (0, 1), (r.returncode, r.stdout, r.stderr)
        with open(report.name) as f:
            return r.returncode, r.stdout, json.load(f)


def kinds(report):
    return sorted({f["kind"] for f in report["findings"]})


def expect(found, kind, key):
    """Exit 1, and `kind` named for `key` in both the summary and the JSON report."""
    rc, text, report = found
    assert rc == 1, (rc, text)
    assert any(f["kind"] == kind and f["key"].endswith(key) for f in report["findings"]), (kind, key, text)
    assert any(line.split()[:2] == [kind, key + ":"] or (line.split()[0] == kind and key in line)
               for line in text.splitlines() if line.strip()), (kind, key, text)
    assert report["clean"] is False and report["totals"]["findings"][kind] >= 1, report["totals"]


def expect_clean(found):
    rc, text, report = found
    assert rc == 0 and report["clean"] and report["findings"] == [], text
    assert "clean:" in text, text
    return report


def make_store(endpoint):
    """One collector: 3 captures over several 1 s rotation intervals (a manifest each), then its drain manifest."""
    with Collector(*upload_flags(endpoint), config=config(manifest=None, rotate="1")) as c:
        send_files(c, 501, 3, 40)
        wait_uploads(c, 3)
        wait_listed(endpoint, 3)
        assert c.stop() == 0
    ms = manifests(endpoint)
    assert len(chains(ms)) == 1 and len(ms) >= 3, [k for k, _, _ in ms]
    return ms


def sync(endpoint, into):
    env = dict(os.environ, AWS_ACCESS_KEY_ID=S3RVER_KEY, AWS_SECRET_ACCESS_KEY=S3RVER_SECRET,
               AWS_DEFAULT_REGION="us-east-1")
    subprocess.run(["aws", "s3", "sync", "--only-show-errors", "--endpoint-url", endpoint,
                    f"s3://{BUCKET}/{PREFIX}", into], check=True, env=env, timeout=120)


def relative(key):
    return key[len(PREFIX) + 1:]


class Mutations:
    """Each mutation on its own: made, checked by the caller, undone."""

    def __init__(self, ms, captures):
        self.ms = ms
        self.captures = captures  # [(key, manifest entry)]

    def middle_manifest(self):
        """A manifest with a successor and a predecessor, preferably one listing files."""
        inner = self.ms[1:-1]
        with_files = [m for m in inner if m[2]["files"]]
        return (with_files or inner)[0]

    def interval_edited(self):
        key, _, doc = self.middle_manifest()
        doc = dict(doc, interval=dict(doc["interval"], start="2000-01-01T00:00:00.000000000Z"))
        return key, (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode()


class DirStore:
    def __init__(self, root):
        self.root = root

    def source(self):
        return self.root

    def path(self, key):
        return os.path.join(self.root, relative(key))

    def read(self, key):
        with open(self.path(key), "rb") as f:
            return f.read()

    def write(self, key, body, meta=None):
        os.makedirs(os.path.dirname(self.path(key)), exist_ok=True)
        with open(self.path(key), "wb") as f:
            f.write(body)

    def delete(self, key):
        os.unlink(self.path(key))


class BucketStore:
    def __init__(self, endpoint):
        self.endpoint = endpoint

    def source(self):
        return f"s3://{BUCKET}/{PREFIX}"

    def read(self, key):
        return object_bytes(self.endpoint, key)

    def meta(self, key):
        return s3(self.endpoint).head_object(Bucket=BUCKET, Key=key)["Metadata"]

    def write(self, key, body, meta=None):
        s3(self.endpoint).put_object(Bucket=BUCKET, Key=key, Body=body, Metadata=meta or {})

    def delete(self, key):
        s3(self.endpoint).delete_object(Bucket=BUCKET, Key=key)


class LockingProxy(RecordingProxy):
    """In front of s3rver, which keeps no Object Lock: the HEAD answer of a key in `locks` carries the
    x-amz-object-lock-* headers given for it, as S3 sends them to a reader allowed s3:GetObjectRetention
    and s3:GetObjectLegalHold."""

    def __init__(self, upstream_port):
        self.locks = {}  # whole key -> [(header, value)]
        super().__init__(upstream_port)

    def answer(self, h, record, body, action):
        status, headers, data = super().answer(h, record, body, action)
        if h.command == "HEAD" and status == 200:
            path = urllib.parse.unquote(urllib.parse.urlsplit(record.path).path)
            for key, extra in self.locks.items():
                if path.endswith("/" + key):
                    headers = headers + extra
        return status, headers, data


def s3_date(rfc3339, plus):
    """The whole second of an RFC 3339 time + `plus`, as S3 writes a retain-until date."""
    t = datetime.strptime(rfc3339[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc) + plus
    return t.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def locks_read_from_the_head(server, captures):
    """Through a proxy that adds S3's lock headers: a COMPLIANCE lock two days past the last record and a
    legal hold pass --lock-days 1, a GOVERNANCE lock a second short of a day is lock_too_short."""
    (locked, f0), (held, _), (short, f2) = captures
    with LockingProxy(server.port) as proxy:
        proxy.locks = {
            locked: [("x-amz-object-lock-mode", "COMPLIANCE"),
                     ("x-amz-object-lock-retain-until-date", s3_date(f0["last_timestamp"], timedelta(days=2)))],
            held: [("x-amz-object-lock-legal-hold", "ON")],
            short: [("x-amz-object-lock-mode", "GOVERNANCE"),
                    ("x-amz-object-lock-retain-until-date",
                     s3_date(f2["last_timestamp"], timedelta(days=1, seconds=-1))),
                    ("x-amz-object-lock-legal-hold", "OFF")],
        }
        found = verify(f"s3://{BUCKET}/{PREFIX}", proxy.endpoint, "--lock-days", "1")
        heads = len(proxy.matching("HEAD"))
    expect(found, "lock_too_short", relative(short))
    rc, text, report = found
    assert kinds(report) == ["lock_too_short"] and len(report["findings"]) == 1, report["findings"]
    assert report["totals"]["locked_files"] == 2, report["totals"]
    assert "2 of 3 files locked at least 1 days" in text, text
    assert heads == 3, heads  # one HEAD per file, as without --lock-days


def each_mutation(store, endpoint, mut):
    """Every mutation against `store`, each undone before the next; the store passes again at the end."""
    meta = store.meta if hasattr(store, "meta") else (lambda key: None)
    capture_key, entry = mut.captures[0]
    original = store.read(capture_key)
    original_meta = meta(capture_key)

    flipped = bytearray(original)
    flipped[len(flipped) // 2] ^= 0x01
    store.write(capture_key, bytes(flipped), original_meta)
    found = verify(store.source(), endpoint, "--json")
    rc, text, report = found
    assert rc == 1 and kinds(report) == ["altered"], (kinds(report), report["findings"])
    assert json.loads(text) == report  # --json: the report on standard output
    expect(verify(store.source(), endpoint), "altered", relative(capture_key))
    store.write(capture_key, original, original_meta)

    store.delete(capture_key)
    found = verify(store.source(), endpoint)
    expect(found, "missing", relative(capture_key))
    assert kinds(found[2]) == ["missing"], found[2]["findings"]
    store.write(capture_key, original, original_meta)

    m_key, _, m_doc = mut.middle_manifest()
    successor = relative(mut.ms[mut.ms.index(mut.middle_manifest()) + 1][0])
    m_body = store.read(m_key)
    store.delete(m_key)
    found = verify(store.source(), endpoint)
    expect(found, "unchained", successor)  # it names a previous manifest the store no longer holds
    expect(found, "gap", successor)        # and the sequence jumps
    for f in m_doc["files"]:  # what only the deleted manifest listed is now in no manifest
        expect(found, "extra", relative(f["key"]))
    store.write(m_key, m_body)

    extra_key = capture_key.replace("-000001.pcap", "-000099.pcap")
    assert extra_key != capture_key
    store.write(extra_key, original, original_meta)
    found = verify(store.source(), endpoint)
    expect(found, "extra", relative(extra_key))
    assert kinds(found[2]) == ["extra"], found[2]["findings"]
    store.delete(extra_key)

    edited_key, edited = mut.interval_edited()
    store.write(edited_key, edited)
    found = verify(store.source(), endpoint)
    expect(found, "gap", relative(edited_key))
    store.write(edited_key, dict(mut.bodies)[edited_key])

    return expect_clean(verify(store.source(), endpoint))


def usage_errors_exit_2(endpoint):
    """What --verify cannot take is refused before anything is read, exit 2, as find's other usage errors."""
    for args in (["--verify"],  # no --from: the collector's own directory is not a bucket's layout
                 ["--verify", "--from", "/nonexistent-dir"],
                 ["--verify", "--from", "a", "--from", "b"],
                 ["--verify", "--from", "/tmp", "--session", "web"],
                 ["--verify", "--from", "/tmp", "port 80"],
                 ["--verify", "--from", "/tmp", "--since", "2026-12-02T00:00:00Z", "--until", "2026-12-01T00:00:00Z"],
                 ["--verify", "--from", "/tmp", "--lock-days", "1"],  # a copy keeps no Object Lock
                 ["--verify", "--from", f"s3://{BUCKET}/{PREFIX}", "--lock-days", "0"],
                 ["--lock-days", "1", "--from", "/tmp"],  # --json, --report, --collector, --lock-days go with --verify
                 ["--json", "--from", "/tmp"]):
        r = subprocess.run([FIND, *args, "--s3-endpoint", endpoint], capture_output=True, text=True, timeout=60)
        assert r.returncode == 2 and r.stdout == "" and "mirrortap-find" in r.stderr, (args, r.returncode, r.stderr)


def each_finding_named_in_a_copy_and_in_the_bucket():
    use_store_credentials()
    with S3rver() as server:
        endpoint = server.endpoint
        usage_errors_exit_2(endpoint)
        ms = make_store(endpoint)
        captures = [(f["key"], f) for _, _, d in ms for f in d["files"]]
        assert len(captures) == 3, captures
        mut = Mutations(ms, captures)
        mut.bodies = [(k, object_bytes(endpoint, k)) for k, _, _ in ms]

        # The untouched bucket: clean, every file read once, and the manifests beside them.
        report = expect_clean(verify(f"s3://{BUCKET}/{PREFIX}", endpoint))
        sizes = sum(len(object_bytes(endpoint, k)) for k, _ in captures)
        assert report["totals"]["files"] == 3 and report["totals"]["bytes_read"]["files"] == sizes, report["totals"]
        assert report["totals"]["bytes_read"]["manifests"] == sum(len(b) for _, b in mut.bodies), report["totals"]
        assert report["totals"]["manifests_read"] == len(ms), report["totals"]

        # A window of the second capture only: its file alone is hashed; the manifest before the window is read
        # for the first link; and the window is clean.
        second = captures[1][1]
        windowed = expect_clean(verify(f"s3://{BUCKET}/{PREFIX}", endpoint, "--since", second["first_timestamp"],
                                       "--until", second["last_timestamp"]))
        assert windowed["totals"]["files"] == 1 and windowed["totals"]["bytes_read"]["files"] == second["size"], \
            windowed["totals"]
        assert windowed["totals"]["manifests_read"] < len(ms), windowed["totals"]

        # --lock-days: s3rver keeps no Object Lock (its HEAD sends no x-amz-object-lock-* header), so every file is
        # unlocked and nothing else is found; the totals count none locked. Without the flag (above) the lock is
        # not looked at.
        rc, text, locked = verify(f"s3://{BUCKET}/{PREFIX}", endpoint, "--lock-days", "1")
        assert rc == 1 and kinds(locked) == ["unlocked"], (rc, locked["findings"])
        assert sorted(f["key"] for f in locked["findings"]) == sorted(relative(k) for k, _ in captures), \
            locked["findings"]
        for k, _ in captures:
            expect((rc, text, locked), "unlocked", relative(k))
        assert locked["lock_days"] == 1 and locked["totals"]["locked_files"] == 0, locked["totals"]
        assert locked["totals"]["findings"]["unlocked"] == 3 and locked["totals"]["findings"]["lock_too_short"] == 0
        assert report["lock_days"] is None and report["totals"]["locked_files"] is None, report["totals"]
        locks_read_from_the_head(server, captures)

        with tempfile.TemporaryDirectory() as tmp:
            copy = os.path.join(tmp, "copy")
            sync(endpoint, copy)
            expect_clean(verify(copy, endpoint))
            each_mutation(DirStore(copy), endpoint, mut)
        each_mutation(BucketStore(endpoint), endpoint, mut)


if __name__ == "__main__":
    globals()[sys.argv[1]]()
