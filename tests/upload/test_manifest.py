"""The manifest chain (issue 23 item 2, docs/evidence.md) against a real
S3-compatible store (s3rver) on loopback: the real collector writes real
captures, and everything is checked from what the bucket holds. In every test
the chain is checked whole (sequence from 1 without a gap, each `previous`
naming the object before it by key and by the SHA-256 of its bytes) and every
capture object in the bucket is listed in exactly one manifest, with the
SHA-256 and size of the object itself."""
import hashlib
import json
import os
import signal
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "../integration"))
sys.path.insert(0, os.path.join(HERE, "../cloud"))

import botocore.config  # noqa: E402
import botocore.session  # noqa: E402
from harness import Collector, value  # noqa: E402
from servers import BUCKET, S3RVER_KEY, S3RVER_SECRET, AutoScaling, Imds, S3rver  # noqa: E402
from test_lifecycle import lifecycle_config, use_imds  # noqa: E402
from test_upload import (PREFIX, StoreOnPort, frames, send_files, upload_flags,  # noqa: E402
                         use_store_credentials, wait_uploads)

STATE = ".mirrortap-chain"


def config(manifest="1h", rotate="0", drain="60s"):
    # Files kept (marked uploaded): a file finished in the same second as the
    # one before, after a reload, would otherwise take the name (and key) of
    # one already uploaded and removed (sinks/ checks only the disk for a name).
    return (f"upload:\n  retry_cap_seconds: 1s\n  drain_seconds: {drain}\n  delete_after_upload: false\n"
            + (f"  manifest_seconds: {manifest}\n" if manifest else "")
            + f"pcap:\n  rotate_seconds: {rotate}\n"
            "sessions:\n  - {vni: 501, name: web}\n")


_clients = {}


def s3(endpoint):
    """botocore in this process (the aws CLI costs a second a call, and chains have many links)."""
    if endpoint not in _clients:
        _clients[endpoint] = botocore.session.get_session().create_client(
            "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=S3RVER_KEY,
            aws_secret_access_key=S3RVER_SECRET,
            config=botocore.config.Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
    return _clients[endpoint]


def listed(endpoint, tree="pcap"):
    keys, token = [], {}
    while True:  # bounded by the bucket's size: each page moves on
        page = s3(endpoint).list_objects_v2(Bucket=BUCKET, Prefix=f"{PREFIX}/{tree}/", **token)
        keys += [o["Key"] for o in page.get("Contents", [])]
        if not page.get("IsTruncated"):
            return sorted(keys)
        token = {"ContinuationToken": page["NextContinuationToken"]}


def object_bytes(endpoint, key):
    return s3(endpoint).get_object(Bucket=BUCKET, Key=key)["Body"].read()


def manifests(endpoint):
    """[(key, sha256 of the object, document)] in key order (which is chain order within a chain)."""
    out = []
    for key in listed(endpoint, "manifests"):
        body = object_bytes(endpoint, key)
        out.append((key, hashlib.sha256(body).hexdigest(), json.loads(body)))
    return out


def chains(ms):
    by_chain = {}
    for key, sha, doc in ms:
        by_chain.setdefault(doc["chain"], []).append((key, sha, doc))
    return by_chain


def check_chain(endpoint, ms, collector="it-collector-1"):
    """Every chain whole: sequences 1..n, keys as documented, each previous the object before it."""
    for chain, links in chains(ms).items():
        for n, (key, sha, doc) in enumerate(links, start=1):
            assert key == f"{PREFIX}/manifests/collector={collector}/chain={chain}/{n:010d}.json", key
            assert doc["format"] == "mirrortap-manifest" and doc["version"] == 1, doc
            assert doc["sequence"] == n and doc["collector"] == collector, doc
            if n == 1:
                assert doc["previous"] is None, doc
            else:
                prev_key, prev_sha, prev_doc = links[n - 2]
                assert doc["previous"] == {"key": prev_key, "sha256": prev_sha}, (doc["previous"], prev_key)
                assert doc["interval"]["start"] == prev_doc["interval"]["end"], (doc, prev_doc)
            meta = s3(endpoint).head_object(Bucket=BUCKET, Key=key)["Metadata"]
            assert meta["sha256"] == sha, (key, meta)


def check_files(endpoint, ms):
    """Each capture object in exactly one manifest, with its own size and SHA-256; nothing listed is missing."""
    listed_in = {}
    for key, _, doc in ms:
        for f in doc["files"]:
            listed_in.setdefault(f["key"], []).append((key, f))
    objects = listed(endpoint)
    assert sorted(listed_in) == objects, (sorted(listed_in), objects)
    for key, where in listed_in.items():
        assert len(where) == 1, (key, [w[0] for w in where])
        entry = where[0][1]
        body = object_bytes(endpoint, key)
        assert entry["sha256"] == hashlib.sha256(body).hexdigest() and entry["size"] == len(body), (key, entry)
        assert entry["session"] == "web" and entry["vni"] == 501 and entry["packets"] > 0, entry
        assert entry["first_ns"] <= entry["last_ns"], entry
    return listed_in


def wait_listed(endpoint, count, tries=600):
    """Until the manifests in the bucket list `count` files (bounded: `tries` listings)."""
    for _ in range(tries):
        ms = manifests(endpoint)
        if sum(len(d["files"]) for _, _, d in ms) >= count:
            return ms
    raise AssertionError(f"manifests never listed {count} files: {manifests(endpoint)}")


def wait_state(pcap_dir, check, tries=600):
    """Until the chain's state file satisfies `check` (bounded: `tries` reads, 50 ms apart)."""
    for _ in range(tries):
        try:
            with open(os.path.join(pcap_dir, STATE)) as f:
                if check(json.load(f)):
                    return
        except (FileNotFoundError, json.JSONDecodeError):
            pass
        time.sleep(0.05)
    raise AssertionError("the chain state never got there")


def run_files(endpoint, files, pcap_dir=None, wait_for=None):
    """A collector that finishes and uploads `files` files, then stops with SIGTERM (its drain manifest)."""
    c = Collector(*upload_flags(endpoint), config=config(), pcap_dir=pcap_dir)
    with c:
        if wait_for:
            c.wait_stderr(wait_for)
        send_files(c, 501, files, 30)
        wait_uploads(c, files)
        assert c.stop() == 0
    return c


# ---- the tests ---------------------------------------------------------------

def manifests_chain_across_rotation():
    """pcap.rotate_seconds 1 and no manifest_seconds: a manifest per rotation
    interval while files finish, each naming the one before; SIGTERM adds the
    drain manifest; every file in exactly one of them."""
    use_store_credentials()
    with S3rver() as s3, Collector(*upload_flags(s3.endpoint), config=config(manifest=None, rotate="1")) as c:
        send_files(c, 501, 3, 40)
        wait_uploads(c, 3)
        ms = wait_listed(s3.endpoint, 3)
        assert len(ms) >= 1
        assert c.stop() == 0
        ms = manifests(s3.endpoint)
        assert len(chains(ms)) == 1
        check_chain(s3.endpoint, ms)
        check_files(s3.endpoint, ms)
        assert ms[-1][2]["cause"] == "drain" and ms[-1][2]["files"] == [], ms[-1]
        assert all(d["cause"] == "interval" for _, _, d in ms[:-1]), [d["cause"] for _, _, d in ms]
        assert "a new chain" in c.read_stderr()


def manifests_continue_after_restart():
    """Two runs on one capture directory: one chain; the second run's first
    manifest names the first run's drain manifest by key and SHA-256, and says
    which process wrote it."""
    use_store_credentials()
    with S3rver() as s3:
        first = run_files(s3.endpoint, 2)
        ms = manifests(s3.endpoint)
        assert len(ms) == 1 and ms[0][2]["cause"] == "drain" and len(ms[0][2]["files"]) == 2, ms
        run_files(s3.endpoint, 2, first.pcap_dir, wait_for="continues after manifest 1")
        ms = manifests(s3.endpoint)
        assert len(ms) == 2 and len(chains(ms)) == 1, [k for k, _, _ in ms]
        check_chain(s3.endpoint, ms)
        assert len(check_files(s3.endpoint, ms)) == 4
        assert ms[1][2]["previous"]["sha256"] == ms[0][1]
        assert ms[0][2]["process_start"] != ms[1][2]["process_start"]


def sigkill_continues_the_chain():
    """Files stored, then SIGKILL before any manifest lists them, with a
    .pcap.part open: the next start continues the same chain (no manifest of
    the killed run exists, and none is faked); its first manifest lists the
    files the killed run stored (recorded on disk before each file's removal)
    and the recovered .part; no file goes unlisted."""
    use_store_credentials()
    with S3rver() as s3:
        first = Collector(*upload_flags(s3.endpoint), config=config())
        with first:
            sent = send_files(first, 501, 2, 30)
            wait_uploads(first, 2)
            first.send(frames(501, 10, start=sent))
            first.wait_settled(sent + 10)
            first.proc.send_signal(signal.SIGKILL)
            first.proc.wait()
        assert manifests(s3.endpoint) == []
        with open(os.path.join(first.pcap_dir, STATE)) as f:
            state = json.load(f)
        assert state["sequence"] == 0 and len(state["files"]) == 2, state
        with Collector(*upload_flags(s3.endpoint), config=config(), pcap_dir=first.pcap_dir) as second:
            second.wait_stderr("continues after manifest 0 (2 stored files recorded")
            second.wait_stderr("finished after a crash: 10 records")
            wait_uploads(second, 1)
            assert second.stop() == 0
        ms = manifests(s3.endpoint)
        assert len(ms) == 1, [k for k, _, _ in ms]
        assert ms[0][2]["chain"] == state["chain"] and ms[0][2]["cause"] == "drain"
        check_chain(s3.endpoint, ms)
        files = check_files(s3.endpoint, ms)
        assert len(files) == 3, sorted(files)


def sigkill_after_a_manifest_leaves_the_kill_visible():
    """A manifest made, then SIGKILL: the next run continues the chain, and
    its first manifest follows one whose cause is "interval" (not "drain")
    with another process_start: the chain itself shows the crash."""
    use_store_credentials()
    with S3rver() as s3:
        first = Collector(*upload_flags(s3.endpoint), config=config(manifest="1s"))
        with first:
            send_files(first, 501, 1, 30)
            wait_uploads(first, 1)
            wait_listed(s3.endpoint, 1)
            first.proc.send_signal(signal.SIGKILL)
            first.proc.wait()
        before = manifests(s3.endpoint)
        with Collector(*upload_flags(s3.endpoint), config=config(), pcap_dir=first.pcap_dir) as second:
            send_files(second, 501, 1, 30)
            wait_uploads(second, 1)
            assert second.stop() == 0
        ms = manifests(s3.endpoint)
        assert len(chains(ms)) == 1
        check_chain(s3.endpoint, ms)
        assert len(check_files(s3.endpoint, ms)) == 2
        # The killed run's manifests are all still there, unchanged (a SIGKILL
        # may leave one made but unsent: the next run sends it first).
        assert [k for k, _, _ in ms[:len(before)]] == [k for k, _, _ in before]
        first_of_second = next(d for _, _, d in ms if d["process_start"] != before[0][2]["process_start"])
        previous = next(d for k, _, d in ms if k == first_of_second["previous"]["key"])
        assert previous["cause"] == "interval", previous


def scale_in_drain_stores_a_manifest_before_completing():
    """Auto Scaling's Terminated with a file open: the drain finishes it,
    uploads it, and stores a manifest (cause "drain") listing it before the
    lifecycle action is completed; SIGTERM later adds one more link."""
    at_completion = []
    with S3rver() as s3, Imds() as imds, AutoScaling() as asg:
        # The role of the IMDS stand-in is not s3rver's: the environment's key signs for both.
        use_imds(imds, AWS_ACCESS_KEY_ID=S3RVER_KEY, AWS_SECRET_ACCESS_KEY=S3RVER_SECRET)
        asg.fault = lambda request, attempt: at_completion.append(manifests(s3.endpoint)) or None
        with Collector(*upload_flags(s3.endpoint), config=config() + lifecycle_config(asg)) as c:
            c.wait_stderr("target lifecycle state 'InService'")
            c.send(frames(501, 40))
            c.wait_settled(40)
            imds.lifecycle_state = "Terminated"
            c.wait_stderr("completed the lifecycle action")
            assert c.stop() == 0
        assert len(at_completion) == 1, at_completion
        (only,) = at_completion[0]
        assert only[2]["cause"] == "drain" and len(only[2]["files"]) == 1, only
        assert only[2]["files"][0]["packets"] == 40
        ms = manifests(s3.endpoint)
        assert [d["cause"] for _, _, d in ms] == ["drain", "drain"], ms
        check_chain(s3.endpoint, ms)
        check_files(s3.endpoint, ms)


def a_corrupt_state_starts_a_new_chain():
    """The chain state altered between runs: the next run does not continue a
    chain it cannot vouch for; it says so and starts a new one (a new chain
    id), and the old chain ends where it was."""
    use_store_credentials()
    with S3rver() as s3:
        first = run_files(s3.endpoint, 1)
        with open(os.path.join(first.pcap_dir, STATE), "r+") as f:
            f.write("{{{")
        run_files(s3.endpoint, 1, first.pcap_dir, wait_for="is not usable")
        ms = manifests(s3.endpoint)
        assert len(chains(ms)) == 2 and [d["sequence"] for _, _, d in ms] == [1, 1], [k for k, _, _ in ms]
        check_chain(s3.endpoint, ms)
        check_files(s3.endpoint, ms)


def links_planted_at_the_state_are_never_followed():
    """Symbolic links planted as the chain state and as its .part, pointing at
    a file of someone else's: the collector reads neither through the link
    (ELOOP: it says so and begins a new chain), replaces the links with files
    of its own, and the files they pointed at are unchanged."""
    use_store_credentials()
    victim_dir = tempfile.mkdtemp(prefix="mirrortap-victim-")
    victims = [os.path.join(victim_dir, n) for n in ("state", "part")]
    for v in victims:
        with open(v, "w") as f:
            f.write('{"version": 1, "not": "ours"}\n')
    with S3rver() as s3:
        c = Collector(*upload_flags(s3.endpoint), config=config(), defer_start=True)
        os.makedirs(c.pcap_dir)
        os.symlink(victims[0], os.path.join(c.pcap_dir, STATE))
        os.symlink(victims[1], os.path.join(c.pcap_dir, STATE + ".part"))
        with c:
            c.start()
            c.wait_stderr("cannot read the chain state")
            send_files(c, 501, 1, 30)
            wait_uploads(c, 1)
            assert c.stop() == 0
        for name in (STATE, STATE + ".part"):
            assert not os.path.islink(os.path.join(c.pcap_dir, name)), name
        for v in victims:
            with open(v) as f:
                assert f.read() == '{"version": 1, "not": "ours"}\n', v
        ms = manifests(s3.endpoint)
        assert len(ms) == 1
        check_chain(s3.endpoint, ms)
        check_files(s3.endpoint, ms)


def a_manifest_the_store_refuses_is_retried_and_counted():
    """The store down while a manifest is due, before any capture exists: the
    manifest's failed requests are counted (request failures, by reason, as a
    capture's) and logged; a manifest cut while the finished file waits for
    the store names it under `waiting`; once the store is up the manifests go
    up in order with the file, which a later manifest lists under `files`."""
    use_store_credentials()
    with StoreOnPort() as store, Collector(*upload_flags(store.endpoint), config=config(manifest="1s")) as c:
        c.wait_metrics(lambda m: value(m, "mirrortap_upload_request_failures_total", reason="connection") >= 1,
                       "a failed manifest request", tries=600)
        assert value(c.metrics(), "mirrortap_upload_files_total", result="failed") == 0  # no capture yet
        c.wait_stderr(f"manifests: {PREFIX}/manifests/collector=it-collector-1/")
        send_files(c, 501, 1, 30)
        wait_state(c.pcap_dir, lambda s: any(json.loads(u["body"])["waiting"]["count"] == 1 for u in s["unsent"]))
        store.up()
        wait_uploads(c, 1)
        wait_listed(store.endpoint, 1)
        c.wait_stderr("manifests: stored ")
        assert c.stop() == 0
        ms = manifests(store.endpoint)
        check_chain(store.endpoint, ms)
        (key,) = check_files(store.endpoint, ms)
        named = [d["sequence"] for _, _, d in ms if [w["file"] for w in d["waiting"]["files"]] == [key.split("/")[-1]]]
        stored_in = [d["sequence"] for _, _, d in ms if d["files"]]
        assert named and stored_in and max(named) < stored_in[0], (named, stored_in)


def dropped_packets_are_in_the_manifest():
    """A stream sink on a FIFO nobody reads drops every packet (no_reader)
    while the pcap sink writes them: the manifest of the interval says so by
    sink and reason, equal to the collector's own counter."""
    use_store_credentials()
    fifo = os.path.join(tempfile.mkdtemp(prefix="mirrortap-fifo-"), "feed")
    with S3rver() as s3, Collector(*upload_flags(s3.endpoint), "--stream", fifo, config=config()) as c:
        send_files(c, 501, 1, 30)
        wait_uploads(c, 1)
        m = c.metrics()
        assert value(m, "mirrortap_sink_dropped_packets_total", sink="stream", reason="no_reader") == 30
        assert c.stop() == 0
        dropped = {}
        for (n, labels), v in m.items():
            if n == "mirrortap_sink_dropped_packets_total" and v > 0:
                l = dict(labels)
                dropped[f"{l['sink']}:{l['reason']}"] = dropped.get(f"{l['sink']}:{l['reason']}", 0) + int(v)
        ms = manifests(s3.endpoint)
        assert len(ms) == 1
        assert ms[0][2]["dropped"] == dropped, (ms[0][2]["dropped"], dropped)


if __name__ == "__main__":
    globals()[sys.argv[1]]()
