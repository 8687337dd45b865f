"""Scale-in: the collector in an Auto Scaling group with a termination hook.
An IMDSv2 stand-in serves the instance role's credentials and a lifecycle
state the test turns to Terminated; an Auto Scaling stand-in records every
request, whose SigV4 signature botocore recomputes. Files are read back with
tshark, /readyz with curl."""
import contextlib
import os
import re
import subprocess
import sys
import time

from harness import (BIN, COLLECTOR, Collector, check_identities, run, seq_frame, session_files, tshark_lengths, vxlan,
                     wait_for)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../cloud"))
from servers import AutoScaling, Imds, check_botocore_signature, clean_env  # noqa: E402

DRIVER = os.path.join(BIN, "lifecycle_driver")
HOOK, GROUP, REGION = "mirrortap-drain", "mirrortap-collectors", "eu-west-3"
INSTANCE = "i-0123456789abcdef0"  # what the IMDS stand-in answers
IMDS_SECRET = "imds-secret"       # the secret of the role credentials it serves


def use_imds(imds, **extra):
    """This test process's environment (the collector inherits it) without
    the machine's AWS settings: credentials and the instance come from `imds`."""
    env = clean_env(AWS_EC2_METADATA_SERVICE_ENDPOINT=imds.endpoint if imds else None, **extra)
    os.environ.clear()
    os.environ.update(env)


def lifecycle_config(asg, poll=1, **more):
    lines = [f"  hook_name: {HOOK}", f"  group_name: {GROUP}", f"  endpoint: {asg.endpoint}", f"  region: {REGION}",
             f"  poll_seconds: {poll}"] + [f"  {k}: {v}" for k, v in more.items()]
    return "lifecycle:\n" + "\n".join(lines) + "\n"


def readyz(c):
    out = subprocess.run(["curl", "-s", "-w", "\n%{http_code}", f"http://127.0.0.1:{c.metrics_port}/readyz"],
                         capture_output=True, text=True, timeout=10)
    body, _, status = out.stdout.rpartition("\n")
    return int(status or 0), body


def part_files(pcap_dir):
    return [os.path.join(r, f) for r, _, fs in os.walk(pcap_dir) for f in fs if f.endswith(".part")]


AUTH = re.compile(r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/autoscaling/aws4_request, "
                  r"SignedHeaders=([a-z0-9;_-]+), Signature=([0-9a-f]{64})$")


def check_signature(r, secret, region):
    """botocore's SigV4 (the Query API's, not S3's) over what arrived gives the
    signature that came with it; the session token and body type are signed."""
    m = AUTH.match(r.header("Authorization") or "")
    assert m, f"{r}: Authorization {r.header('Authorization')!r}"
    key_id, day, scope_region, signed, signature = m.groups()
    signed = signed.split(";")
    assert scope_region == region and r.header("x-amz-date").startswith(day), r
    for required in ("host", "x-amz-date", "x-amz-security-token", "content-type"):
        assert required in signed, (r, signed)
    token = r.header("x-amz-security-token")
    assert key_id.startswith("ASIAIMDS") and token.startswith("imds-token-"), (key_id, token)
    check_botocore_signature(r, signature, signed, key_id, secret, token, region, "autoscaling")


def check_form(r, action, **more):
    form = AutoScaling.form(r)
    want = {"Action": action, "Version": "2011-01-01", "AutoScalingGroupName": GROUP, "LifecycleHookName": HOOK,
            "InstanceId": INSTANCE, **more}
    assert form == want, form
    assert r.header("Content-Type").startswith("application/x-www-form-urlencoded"), r.headers


# ---- the collector -------------------------------------------------------------

def terminated_instance_finishes_files_then_completes_once():
    """With traffic written, Terminated turns /readyz red with its reason,
    finishes every open file (tshark reads them whole), and only then sends
    one CompleteLifecycleAction (CONTINUE) for this instance, group and hook,
    signed with the instance role's credentials."""
    parts_at_completion = []
    with Imds() as imds, AutoScaling() as asg:
        # Called as each request arrives: what the capture directory held then.
        asg.fault = lambda request, attempt: parts_at_completion.append(part_files(c.pcap_dir)) or None
        use_imds(imds)
        sessions, per_session = (501, 502), 300
        with Collector(config=lifecycle_config(asg)) as c:
            c.wait_stderr("target lifecycle state 'InService'")
            c.send([vxlan(v, seq_frame(v, i)) for i in range(per_session) for v in sessions])
            c.wait_settled(len(sessions) * per_session)
            assert readyz(c)[0] == 200
            assert len(part_files(c.pcap_dir)) == 2, "both sessions should have a file open"
            imds.lifecycle_state = "Terminated"
            c.wait_stderr("completed the lifecycle action")
            status, why = readyz(c)
            assert status == 503 and "terminating" in why and "Auto Scaling" in why, (status, why)
            assert part_files(c.pcap_dir) == [], "an open file was left behind"
            check_identities(c.metrics())
            for v in sessions:
                files = session_files(c.pcap_dir, f"vni-{v}")
                assert sum(len(tshark_lengths(f)) for f in files) == per_session, (v, files)
            assert c.read_stderr().count("lifecycle: the group is terminating this instance") == 1
            assert c.stop() == 0
    completes = asg.calls("CompleteLifecycleAction")
    assert len(completes) == 1 and completes[0].status == 200, asg.requests
    check_form(completes[0], "CompleteLifecycleAction", LifecycleActionResult="CONTINUE")
    check_signature(completes[0], IMDS_SECRET, REGION)
    assert parts_at_completion == [[]], f"files still open when the action was completed: {parts_at_completion}"
    assert asg.calls("RecordLifecycleActionHeartbeat") == []  # a drain of milliseconds needs none


def server_error_on_complete_is_retried():
    """Auto Scaling answers 500 once: the completion is sent again, and done.
    (Its endpoint comes from AWS_ENDPOINT_URL_AUTO_SCALING, as in the SDKs.)"""
    fail_once = lambda request, attempt: (500, "InternalFailure") if attempt == 1 else None
    with Imds() as imds, AutoScaling(fail_once) as asg:
        use_imds(imds, AWS_ENDPOINT_URL_AUTO_SCALING=asg.endpoint)
        config = lifecycle_config(asg).replace(f"  endpoint: {asg.endpoint}\n", "")
        assert "endpoint" not in config
        with Collector(config=config) as c:
            c.send([vxlan(7, seq_frame(7, i)) for i in range(50)])
            c.wait_settled(50)
            imds.lifecycle_state = "Terminated"
            c.wait_stderr("completed the lifecycle action")
            assert "CompleteLifecycleAction failed" not in c.read_stderr()
            assert c.stop() == 0
    completes = asg.calls("CompleteLifecycleAction")
    assert [r.status for r in completes] == [500, 200], completes
    for r in completes:
        check_form(r, "CompleteLifecycleAction", LifecycleActionResult="CONTINUE")
        check_signature(r, IMDS_SECRET, REGION)


def lost_answer_to_complete_counts_as_done():
    """The completion arrives but its answer is lost: sent again, Auto Scaling
    says no action is active any more, and that is the completion's success."""
    lose_first = lambda request, attempt: ("lost",) if attempt == 1 else None
    with Imds() as imds, AutoScaling(lose_first) as asg:
        use_imds(imds)
        with Collector(config=lifecycle_config(asg)) as c:
            imds.lifecycle_state = "Terminated"
            c.wait_stderr("completed the lifecycle action")
            assert "CompleteLifecycleAction failed" not in c.read_stderr()
            assert c.stop() == 0
    completes = asg.calls("CompleteLifecycleAction")
    assert [r.status for r in completes] == ["lost", 400], completes
    assert asg.completed == {(GROUP, HOOK, INSTANCE)}


def outside_a_group_nothing_is_sent():
    """IMDS has no target-lifecycle-state (404): said once, nothing sent,
    /readyz stays green and the files stay open."""
    with Imds(lifecycle_state=None) as imds, AutoScaling() as asg:
        use_imds(imds)
        with Collector(config=lifecycle_config(asg)) as c:
            c.send([vxlan(9, seq_frame(9, i)) for i in range(20)])
            c.wait_settled(20)
            polled = lambda: sum(r.path.endswith("target-lifecycle-state") for r in imds.requests)
            wait_for("three polls of the lifecycle state", lambda: polled() >= 3)
            assert c.read_stderr().count("not in an Auto Scaling group") == 1, c.read_stderr()
            assert readyz(c)[0] == 200
            assert len(part_files(c.pcap_dir)) == 1
            assert c.stop() == 0
    assert asg.requests == []


def disabled_metadata_nothing_is_sent():
    """AWS_EC2_METADATA_DISABLED=true: nothing to watch; said once, IMDS never asked."""
    with Imds(lifecycle_state="Terminated") as imds, AutoScaling() as asg:
        use_imds(imds, AWS_EC2_METADATA_DISABLED="true", AWS_ACCESS_KEY_ID="AKIDEXAMPLE",
                 AWS_SECRET_ACCESS_KEY="secret")
        with Collector(config=lifecycle_config(asg)) as c:
            c.wait_stderr("instance metadata is disabled")
            c.send([vxlan(9, seq_frame(9, i)) for i in range(20)])
            c.wait_settled(20)
            assert readyz(c)[0] == 200
            assert c.read_stderr().count("lifecycle:") == 1, c.read_stderr()
            assert c.stop() == 0
    assert imds.requests == [] and asg.requests == []


def bad_lifecycle_settings_are_refused():
    """Fail closed: a hook without its group, a bad endpoint, region or
    interval is refused at --check-config, with a line naming it."""
    use_imds(None)
    cases = [
        ("lifecycle:\n  hook_name: h\n", "hook_name and group_name go together"),
        ("lifecycle:\n  group_name: g\n", "hook_name and group_name go together"),
        ("lifecycle:\n  hook_name: h\n  group_name: g\n  endpoint: ftp://x\n", "lifecycle.endpoint"),
        ("lifecycle:\n  hook_name: h\n  group_name: g\n  region: EU West\n", "lifecycle.region"),
        ("lifecycle:\n  hook_name: h\n  group_name: g\n  poll_seconds: 0\n", "lifecycle.poll_seconds"),
        ("lifecycle:\n  hook_name: 'a:b'\n  group_name: g\n", "lifecycle.hook_name"),
        ("lifecycle:\n  hook_nme: h\n", "hook_nme"),
    ]
    tmp = os.environ.get("TMPDIR", "/tmp")
    for text, expected in cases:
        path = os.path.join(tmp, f"mirrortap-lifecycle-{os.getpid()}.yaml")
        with open(path, "w") as f:
            f.write(text)
        try:
            out = subprocess.run([COLLECTOR, "--config", path, "--check-config"], capture_output=True, text=True,
                                 timeout=10)
        finally:
            os.unlink(path)
        assert out.returncode == 2 and expected in out.stderr, (text, out.returncode, out.stderr)
    out = subprocess.run([COLLECTOR, "--lifecycle-hook", "h", "--lifecycle-group", "g", "--check-config"],
                         capture_output=True, text=True, timeout=10)
    assert out.returncode == 0, out.stderr
    # At start: a malformed endpoint variable refuses it, as a malformed key would.
    with Imds() as imds:
        use_imds(imds, AWS_ENDPOINT_URL_AUTO_SCALING="autoscaling.example:443")
        c = Collector("--lifecycle-hook", "h", "--lifecycle-group", "g", defer_start=True)
        out = subprocess.run(c.cmd, capture_output=True, text=True, timeout=30)
        assert out.returncode == 1 and "AWS_ENDPOINT_URL_AUTO_SCALING" in out.stderr, (out.returncode, out.stderr)


# ---- the watcher alone, with a drain of the test's length ---------------------

class Driver:
    def __init__(self, asg, heartbeat, deadline, takes_ms):
        self.proc = subprocess.Popen([DRIVER, HOOK, GROUP, asg.endpoint, REGION, "1", str(heartbeat), str(deadline),
                                      str(takes_ms)], stdout=subprocess.PIPE, text=True)
        self.lines = []

    def wait_line(self, text, seconds=30):
        """Reads lines until one holds `text` (bounded by the deadline and the process's end)."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.lines.append(line.rstrip("\n"))
            if text in line:
                return
        raise AssertionError(f"no {text!r} in {self.lines}")

    def stop(self):
        self.proc.terminate()
        rest, _ = self.proc.communicate(timeout=30)
        self.lines += rest.splitlines()
        return self.proc.returncode


@contextlib.contextmanager
def terminating_driver(heartbeat, deadline, takes_ms):
    """The watcher in lifecycle_driver against the stand-ins, the state turned
    to Terminated once it watches; yields (driver, Auto Scaling stand-in).
    The driver must stop cleanly (exit 0) at the end."""
    with Imds() as imds, AutoScaling() as asg:
        use_imds(imds)
        d = Driver(asg, heartbeat, deadline, takes_ms)
        try:
            d.wait_line("watching")
            imds.lifecycle_state = "Terminated"
            yield d, asg
        finally:
            assert d.stop() == 0, d.lines


def long_drain_sends_heartbeats():
    """A drain of 6 s with 1 s heartbeats: heartbeats arrive while it runs,
    and the completion only after it ended."""
    with terminating_driver(heartbeat=1, deadline=60, takes_ms=6000) as (d, asg):
        d.wait_line("drain started")
        d.wait_line("drain ended")
        heartbeats_during_drain = len(asg.calls("RecordLifecycleActionHeartbeat"))
        d.wait_line("completed the lifecycle action")
    assert heartbeats_during_drain >= 2, (heartbeats_during_drain, d.lines)
    for r in asg.calls("RecordLifecycleActionHeartbeat"):
        assert r.status == 200
        check_form(r, "RecordLifecycleActionHeartbeat")
        check_signature(r, IMDS_SECRET, REGION)
    completes = asg.calls("CompleteLifecycleAction")
    assert len(completes) == 1 and completes[0].status == 200
    assert asg.requests[-1] is completes[0], "a heartbeat came after the completion"
    assert d.lines.index("terminating") < d.lines.index("drain started")


def stopped_while_draining_completes_nothing():
    """SIGTERM during the drain: the drain is waited for, nothing is completed
    (the hook's timeout decides), and the watcher says so."""
    with terminating_driver(heartbeat=60, deadline=60, takes_ms=1500) as (d, asg):
        d.wait_line("drain started")
        d.proc.terminate()
        d.wait_line("stopped while draining")
        d.wait_line("stopped")
    assert "drain ended" in d.lines and asg.requests == [], (d.lines, asg.requests)


def drain_past_its_deadline_is_not_completed():
    """A drain that misses its deadline: no completion (the hook's timeout
    decides), and the watcher says so."""
    with terminating_driver(heartbeat=60, deadline=1, takes_ms=600_000) as (d, asg):
        d.wait_line("drain missed its deadline")
        d.wait_line("not completing")
    assert asg.requests == []


if __name__ == "__main__":
    run({t.__name__: t for t in [
        terminated_instance_finishes_files_then_completes_once, server_error_on_complete_is_retried,
        long_drain_sends_heartbeats, drain_past_its_deadline_is_not_completed, outside_a_group_nothing_is_sent,
        lost_answer_to_complete_counts_as_done, stopped_while_draining_completes_nothing,
        disabled_metadata_nothing_is_sent, bad_lifecycle_settings_are_refused]})
