"""mirrortap-sessions against an EC2 Query API stand-in on loopback
(tests/cloud/servers.py's Ec2: state kept, answers paged, AWS's error codes,
every SigV4 signature recomputed with botocore). What it made is read back
from the stand-in's state and with the real aws CLI."""
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "../cloud"))
from servers import CloudWatch, Ec2, Ssm, clean_env, scratch_dir  # noqa: E402

BIN = os.environ.get("MIRRORTAP_BIN", os.path.join(HERE, "../../build/bin"))
SESSIONS = os.path.join(BIN, "mirrortap-sessions")
KEY, SECRET, TOKEN, REGION = "AKIDSESSIONSTEST", "sessions-secret", "sessions-token", "eu-west-3"
TAG = "mirrortap:selector"


def env_for(ec2, **extra):
    return clean_env(AWS_ACCESS_KEY_ID=KEY, AWS_SECRET_ACCESS_KEY=SECRET, AWS_SESSION_TOKEN=TOKEN,
                     AWS_REGION=REGION, AWS_EC2_METADATA_DISABLED="true", AWS_ENDPOINT_URL_EC2=ec2.endpoint, **extra)


def run(ec2, *args, env=None, timeout=120):
    """mirrortap-sessions with `args`; returns (exit status, stdout, stderr)."""
    p = subprocess.run([SESSIONS, *args], env=env or env_for(ec2), capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def selector_args(target, filter_id, vni=100, select=("Name=tag:tier,Values=web",), name="web", number=None):
    args = [a for s in select for a in ("--select", s)] + ["--target", target, "--filter", filter_id,
                                                          "--vni", str(vni), "--name", name]
    if number:
        args += ["--session-number", str(number)]
    return args


def world(page_size=2, **kw):
    ec2 = Ec2(KEY, SECRET, REGION, page_size=page_size, **kw)
    return ec2, ec2.add_target(), ec2.add_filter()


def ours(ec2, target=None):
    with ec2.lock:
        return {s["eni"]: s for s in ec2.sessions.values()
                if TAG in s["tags"] and (target is None or s["target"] == target)}


def changes(ec2):
    return len(ec2.calls("CreateTrafficMirrorSession")) + len(ec2.calls("DeleteTrafficMirrorSession"))


def metrics(path):
    """The textfile's samples: {name{labels}: value}."""
    out = {}
    with open(path) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def check_signatures(ec2):
    assert ec2.requests, "no request reached the stand-in"
    assert ec2.bad_signatures == [], ec2.bad_signatures[:3]


def aws_sessions(ec2):
    """The sessions as the real aws CLI reads them (botocore parses our stand-in's XML)."""
    e = env_for(ec2, AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null", AWS_DEFAULT_REGION=REGION)
    del e["AWS_ENDPOINT_URL_EC2"]
    p = subprocess.run(["aws", "--endpoint-url", ec2.endpoint, "--output", "json", "ec2",
                        "describe-traffic-mirror-sessions"], env=e, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)["TrafficMirrorSessions"]


# ---- the tests ----------------------------------------------------------------

def sessions_follow_the_selected_interfaces():
    """Five web interfaces (three pages of two) get one session each, tagged,
    to the target; a second run changes nothing; a new interface is added, a
    deleted one leaves nothing behind, an interface whose tag was removed
    loses its session, and gets a new one when it comes back (EC2 answers the
    old token with the removed session); sessions made by others are never
    touched."""
    ec2, target, filt = world()
    with ec2:
        web = [ec2.add_eni({"tier": "web"}) for _ in range(5)]
        db = ec2.add_eni({"tier": "db"})
        foreign_db = ec2.add_session(db, target, 1)                     # someone's, not selected
        other_target = ec2.add_target()
        foreign_web = ec2.add_session(web[4], other_target, 2)          # someone's, on a selected interface
        textfile = os.path.join(scratch_dir(), "sessions.prom")
        args = selector_args(target, filt) + ["--metrics-textfile", textfile]

        status, out, err = run(ec2, *args)
        assert status == 0, (out, err)
        made = ours(ec2)
        assert sorted(made) == sorted(web), (made, out)
        for eni, s in made.items():
            assert s["target"] == target and s["filter"] == filt and s["vni"] == 100 and s["number"] == 1
            assert s["tags"] == {TAG: "web"}, s
        create = ec2.calls("CreateTrafficMirrorSession")
        assert len(create) == 5
        tokens = {Ec2.form(r)["ClientToken"] for r in create}
        assert len(tokens) == 5 and all(re.fullmatch(r"mirrortap-[0-9a-f]{48}", t) for t in tokens), tokens
        assert len(ec2.calls("DescribeNetworkInterfaces")) == 3, "5 interfaces in pages of 2"
        assert out.count("  + ") == 5 and "Applied: 5 created, 0 kept, 0 removed, 0 cannot be mirrored." in out, out
        m = metrics(textfile)
        assert m['mirrortap_coverage_interfaces_selected{selector="web"}'] == 5
        assert m['mirrortap_coverage_interfaces_mirrored{selector="web"}'] == 5
        assert m['mirrortap_coverage_last_run_created{selector="web"}'] == 5
        assert m["mirrortap_coverage_last_run_success"] == 1
        assert m["mirrortap_coverage_last_success_timestamp_seconds"] > 1.6e9

        before = changes(ec2)
        status, out, _ = run(ec2, *args)
        assert status == 0 and changes(ec2) == before, out
        assert out.count("  = ") == 5 and "0 created, 5 kept" in out, out

        new = ec2.add_eni({"tier": "web"})
        ec2.remove_eni(web[0])
        ec2.set_tags(web[1], {"tier": "retired"})
        status, out, _ = run(ec2, *args)
        assert status == 0, out
        made = ours(ec2)
        assert sorted(made) == sorted(web[2:] + [new]), (sorted(made), out)
        deletes = ec2.calls("DeleteTrafficMirrorSession")
        assert len(deletes) == 1 and f"on {web[1]}" in out and "no longer selected" in out, out
        assert "1 created, 3 kept, 1 removed" in out, out
        assert foreign_db in ec2.sessions and foreign_web in ec2.sessions, "a session it did not make was touched"
        m = metrics(textfile)
        assert m['mirrortap_coverage_interfaces_selected{selector="web"}'] == 4
        assert m['mirrortap_coverage_interfaces_mirrored{selector="web"}'] == 4
        assert m['mirrortap_coverage_last_run_removed{selector="web"}'] == 1

        # The retired interface comes back: EC2 answers its token with the removed session, which
        # is looked up, found gone, and asked for again with a renewed token.
        removed_id = [s for s in ec2.deleted.values() if s["eni"] == web[1]][0]["id"]
        ec2.set_tags(web[1], {"tier": "web"})
        status, out, _ = run(ec2, *args)
        assert status == 0 and web[1] in ours(ec2) and ours(ec2)[web[1]]["id"] != removed_id, out
        asks = [Ec2.form(r)["ClientToken"] for r in ec2.calls("CreateTrafficMirrorSession")
                if Ec2.form(r)["NetworkInterfaceId"] == web[1]]
        assert len(asks) == 3 and asks[0] == asks[1] != asks[2], asks
        assert f"created {ours(ec2)[web[1]]['id']}" in out, out
        ec2.set_tags(web[1], {"tier": "retired"})
        assert run(ec2, *args)[0] == 0

        read_back = {s["NetworkInterfaceId"]: s for s in aws_sessions(ec2)}
        assert set(read_back) == set(made) | {db, web[4]}
        for eni in made:
            s = read_back[eni]
            assert s["TrafficMirrorTargetId"] == target and s["VirtualNetworkId"] == 100
            assert {"Key": TAG, "Value": "web"} in s["Tags"], s
        check_signatures(ec2)


def what_cannot_be_mirrored_is_named_and_counted():
    """An instance type AWS does not mirror (with the sender command that
    would cover the host), an interface with 3 sessions already, one whose
    session number 1 is taken, one with no instance: each 'cannot' with its
    reason, in the plan and the metrics; the others are mirrored, and the
    run succeeds (what cannot be is no failure of the run)."""
    ec2, target, filt = world()
    with ec2:
        good = ec2.add_eni({"tier": "web"})
        t2 = ec2.add_eni({"tier": "web"}, instance_type="t2.micro")
        full = ec2.add_eni({"tier": "web"})
        elsewhere = [ec2.add_target() for _ in range(3)]
        for n, t in enumerate(elsewhere, start=2):
            ec2.add_session(full, t, n)
        taken = ec2.add_eni({"tier": "web"})
        ec2.add_session(taken, elsewhere[0], 1)
        loose = ec2.add_eni({"tier": "web"}, attached=False)
        textfile = os.path.join(scratch_dir(), "sessions.prom")
        status, out, err = run(ec2, *selector_args(target, filt), "--metrics-textfile", textfile)
        assert status == 0, (out, err)
        assert sorted(ours(ec2)) == [good], out
        assert re.search(rf"! {t2} \(i-[0-9a-f]+\): cannot, unsupported_instance_type: instance type t2.micro", out), out
        assert f"aws ec2 describe-traffic-mirror-filters --traffic-mirror-filter-ids {filt} > {filt}.json" in out, out
        assert f"--import-aws-filter {filt}.json --vni 100 --session-number 1" in out, out
        assert re.search(rf"! {full} .*cannot, interface_session_limit: 3 sessions on it already", out), out
        assert re.search(rf"! {taken} .*cannot, session_number_taken", out), out
        assert re.search(rf"! {loose}: cannot, not_attached", out), out
        assert "1 created, 0 kept, 0 removed, 4 cannot be mirrored." in out, out
        assert len(ec2.calls("CreateTrafficMirrorSession")) == 1, "a create was sent for what cannot be mirrored"
        m = metrics(textfile)
        assert m['mirrortap_coverage_interfaces_selected{selector="web"}'] == 5
        assert m['mirrortap_coverage_interfaces_mirrored{selector="web"}'] == 1
        for reason in ("unsupported_instance_type", "interface_session_limit", "session_number_taken", "not_attached"):
            assert m[f'mirrortap_coverage_interfaces_not_mirrored{{selector="web",reason="{reason}"}}'] == 1, reason
        assert m['mirrortap_coverage_interfaces_not_mirrored{selector="web",reason="throttled"}'] == 0
        check_signatures(ec2)


def coverage_goes_to_cloudwatch_too():
    """With a CloudWatch namespace, each run's coverage is also one
    PutMetricData (signed, with the session token, and shaped as the
    CloudWatch stand-in checks): selected, mirrored and not mirrored per
    selector, and not mirrored in all with Fleet alone, for an alarm."""
    ec2, target, filt = world()
    with ec2, CloudWatch(KEY, SECRET, REGION) as cw:
        ec2.add_eni({"tier": "web"})
        ec2.add_eni({"tier": "web"})
        ec2.add_eni({"tier": "web"}, instance_type="t2.micro")
        env = env_for(ec2, AWS_ENDPOINT_URL_CLOUDWATCH=cw.endpoint)
        status, out, err = run(ec2, *selector_args(target, filt), "--cloudwatch-namespace", "Mirrortap/sessions",
                               "--cloudwatch-fleet", "f1", env=env)
        assert status == 0, (out, err)
        check_signatures(ec2)
    assert cw.bad_signatures == [] and len(cw.requests) == 1, (cw.bad_signatures, cw.requests)
    assert cw.requests[0].header("X-Amz-Security-Token") == TOKEN
    got = {(d["name"], tuple(sorted(d["dimensions"].items()))): d["value"] for d in cw.data}
    per = (("Fleet", "f1"), ("Selector", "web"))
    assert got == {("InterfacesSelected", per): 3, ("InterfacesMirrored", per): 2, ("InterfacesNotMirrored", per): 1,
                   ("InterfacesNotMirrored", (("Fleet", "f1"),)): 1}, got
    assert all(d["namespace"] == "Mirrortap/sessions" and d["unit"] == "Count" for d in cw.data), cw.data


def refusals_are_named_per_interface_and_the_rest_goes_on():
    """EC2 refuses creates: the session quota after two sessions, then a
    missing permission. Each interface says why; none stops the others;
    the run exits 1 and the metrics count each reason."""
    ec2, target, filt = world()
    with ec2:
        enis = [ec2.add_eni({"tier": "web"}) for _ in range(4)]
        ec2.session_quota = 2
        textfile = os.path.join(scratch_dir(), "sessions.prom")
        status, out, err = run(ec2, *selector_args(target, filt), "--metrics-textfile", textfile)
        assert status == 1, (out, err)
        assert len(ours(ec2)) == 2 and out.count("cannot, session_quota") == 2, out
        assert len(ec2.calls("CreateTrafficMirrorSession")) == 4, "a refusal stopped the other creates"
        m = metrics(textfile)
        assert m['mirrortap_coverage_interfaces_not_mirrored{selector="web",reason="session_quota"}'] == 2
        assert m["mirrortap_coverage_last_run_success"] == 0
        first_success = m["mirrortap_coverage_last_success_timestamp_seconds"] if \
            "mirrortap_coverage_last_success_timestamp_seconds" in m else None
        assert first_success is None, "a run with refusals is no success"

        ec2.session_quota = 10000
        ec2.denied.add("CreateTrafficMirrorSession")
        status, out, err = run(ec2, *selector_args(target, filt), "--metrics-textfile", textfile)
        assert status == 1 and out.count("cannot, access_denied") == 2 and "UnauthorizedOperation" in out, out
        assert m['mirrortap_coverage_interfaces_mirrored{selector="web"}'] == 2
        ec2.denied.clear()
        status, out, _ = run(ec2, *selector_args(target, filt), "--metrics-textfile", textfile)
        assert status == 0 and sorted(ours(ec2)) == sorted(enis), out
        ok_time = metrics(textfile)["mirrortap_coverage_last_success_timestamp_seconds"]
        ec2.denied.add("DescribeNetworkInterfaces")
        status, out, err = run(ec2, *selector_args(target, filt), "--metrics-textfile", textfile)
        assert status == 1 and "listing its interfaces failed" in err and "nothing was changed" in err, err
        m = metrics(textfile)
        assert m["mirrortap_coverage_last_run_success"] == 0
        assert m["mirrortap_coverage_last_success_timestamp_seconds"] == ok_time, "the last success was forgotten"
        assert not any(k.startswith("mirrortap_coverage_interfaces_") for k in m), "coverage of a run that listed nothing"
        assert len(ours(ec2)) == 4, "a failed listing removed sessions"
        check_signatures(ec2)


def throttling_is_outlasted_and_named():
    """RequestLimitExceeded (503) on the first two tries of every action is
    retried with jittered backoff and the run completes; creates throttled
    on every try leave those interfaces 'cannot, throttled', the rest made."""
    throttle_first_two = lambda form, attempt: (503, "RequestLimitExceeded") if attempt <= 2 else None
    ec2, target, filt = world(fault=throttle_first_two)
    with ec2:
        enis = [ec2.add_eni({"tier": "web"}) for _ in range(3)]
        status, out, err = run(ec2, *selector_args(target, filt), "--max-attempts", "4")
        assert status == 0, (out, err)
        assert sorted(ours(ec2)) == sorted(enis), out
        throttled = [r for r in ec2.requests if r.status == 503]
        assert len(throttled) >= 2 * 5, f"expected throttled tries of every action, got {len(throttled)}"
        check_signatures(ec2)

    def throttle_creates(form, attempt):
        return (503, "RequestLimitExceeded") if form.get("Action") == "CreateTrafficMirrorSession" and \
            form.get("NetworkInterfaceId") == victim else None
    ec2, target, filt = world(fault=throttle_creates)
    with ec2:
        enis = [ec2.add_eni({"tier": "web"}) for _ in range(3)]
        victim = enis[1]
        textfile = os.path.join(scratch_dir(), "sessions.prom")
        status, out, err = run(ec2, *selector_args(target, filt), "--max-attempts", "3", "--metrics-textfile", textfile)
        assert status == 1, (out, err)
        assert sorted(ours(ec2)) == sorted([enis[0], enis[2]]), out
        assert re.search(rf"! {victim} .*cannot, throttled: .*RequestLimitExceeded.*gave up after 3 attempts", out), out
        assert len([r for r in ec2.calls("CreateTrafficMirrorSession")
                    if Ec2.form(r)["NetworkInterfaceId"] == victim]) == 3
        m = metrics(textfile)
        assert m['mirrortap_coverage_interfaces_not_mirrored{selector="web",reason="throttled"}'] == 1
        check_signatures(ec2)


def two_reconcilers_at_once_make_one_session_per_interface():
    """Two reconcilers (two collectors) plan together (each create waits at a
    barrier until the other's arrives): both ask for every interface, and
    EC2 makes one session for each, by the ClientToken."""
    ec2, target, filt = world()
    with ec2:
        enis = [ec2.add_eni({"tier": "web"}) for _ in range(4)]
        ec2.create_barrier = threading.Barrier(2)
        procs = [subprocess.Popen([SESSIONS, *selector_args(target, filt)], env=env_for(ec2),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
        results = [p.communicate(timeout=120) + (p.returncode,) for p in procs]
        assert not ec2.barrier_broken, "the two reconcilers did not create at the same time"
        for out, err, status in results:
            assert status == 0 and "4 created" in out, (out, err)
        assert len(ec2.calls("CreateTrafficMirrorSession")) == 8
        assert sorted(ours(ec2)) == sorted(enis)
        for eni in enis:
            assert len(ec2.sessions_on(eni)) == 1, ec2.sessions_on(eni)
        ids = [sorted(re.findall(r"created (tms-[0-9a-f]+)", out)) for out, _, _ in results]
        assert ids[0] == ids[1] and len(ids[0]) == 4, ids
        check_signatures(ec2)


def dry_run_changes_nothing():
    """--dry-run prints what a run would do (create, keep, remove, cannot) and
    sends nothing but Describe calls; a run after it does exactly that."""
    ec2, target, filt = world()
    with ec2:
        enis = [ec2.add_eni({"tier": "web"}) for _ in range(3)]
        assert run(ec2, *selector_args(target, filt))[0] == 0
        ec2.set_tags(enis[0], {})
        new = ec2.add_eni({"tier": "web"})
        t2 = ec2.add_eni({"tier": "web"}, instance_type="t2.nano")
        state = json.dumps(ec2.sessions, sort_keys=True)
        textfile = os.path.join(scratch_dir(), "sessions.prom")
        before = len(ec2.requests)
        status, out, err = run(ec2, *selector_args(target, filt), "--dry-run", "--metrics-textfile", textfile)
        assert status == 0, (out, err)
        assert out.startswith("dry run: nothing is changed\n"), out
        assert f"  + {new}" in out and ": create\n" in out, out
        assert out.count("  = ") == 2 and f"on {enis[0]}" in out and ": remove (no longer selected)" in out, out
        assert f"! {t2}" in out and "Plan: 1 to create, 2 to keep, 1 to remove, 1 cannot be mirrored." in out, out
        sent = {Ec2.form(r)["Action"] for r in ec2.requests[before:]}
        assert all(a.startswith("Describe") for a in sent), sent
        assert json.dumps(ec2.sessions, sort_keys=True) == state
        assert not os.path.exists(textfile), "a dry run wrote coverage"
        status, out, _ = run(ec2, *selector_args(target, filt))
        assert status == 0 and "Applied: 1 created, 2 kept, 1 removed, 1 cannot be mirrored." in out, out
        check_signatures(ec2)


def bad_input_fails_before_anything_is_created():
    """An unknown target or filter, a malformed --select, a VNI out of range,
    two selectors claiming one interface with one session number, a file
    with errors: a clear message naming the selector (or FILE:LINE:COLUMN),
    and no create or delete sent."""
    ec2, target, filt = world()
    with ec2:
        enis = [ec2.add_eni({"tier": "web", "team": "a"}) for _ in range(2)]
        unknown_target, unknown_filter = "tmt-0123456789abcdef0", "tmf-0123456789abcdef0"
        status, _, err = run(ec2, *selector_args(unknown_target, filt))
        assert status == 1 and f"selector 'web': target {unknown_target} does not exist" in err, err
        status, _, err = run(ec2, *selector_args(target, unknown_filter))
        assert status == 1 and f"selector 'web': filter {unknown_filter} does not exist" in err, err
        status, _, err = run(ec2, *selector_args(target, filt, select=["Name=tag:tier;Values=web"]))
        assert status == 2 and "bad --select" in err, err
        status, _, err = run(ec2, *selector_args(target, filt, select=["Name=taggg:tier,Values=web"]))
        assert status == 2 and "no filter 'taggg:tier'" in err, err
        status, _, err = run(ec2, *selector_args(target, filt, vni=1 << 24))
        assert status == 2 and "bad --vni" in err and "16777215" in err, err

        d = scratch_dir()
        config = os.path.join(d, "sessions.yaml")
        with open(config, "w") as f:
            f.write(f"""selectors:
  - name: web
    select: ["Name=tag:tier,Values=web"]
    target: {target}
    filter: {filt}
    vni: 100
  - name: team-a
    select:
      - Name=tag:team,Values=a
    target: {target}
    filter: {filt}
    vni: 101
""")
        status, out, err = run(ec2, "--config", config)
        assert status == 1, (out, err)
        assert "selector 'team-a' (line 7) and selector 'web' (line 2) both claim" in err, err
        assert "with session number 1" in err and "nothing was changed" in err, err
        assert changes(ec2) == 0 and ours(ec2) == {}

        requests_so_far = len(ec2.requests)
        with open(config, "w") as f:
            f.write(f"""selectors:
  - name: web
    select: ["Name=tag:tier,Values=web"]
    target: {target}
    target: {target}
    filter: tmf-nothex
    vni: 16777216
    session_number: 0
""")
        status, out, err = run(ec2, "--config", config)
        assert status == 2, (out, err)
        assert re.search(rf"{re.escape(config)}:5:5: .*target", err), err
        assert f"{config}:6:13: filter: 'tmf-nothex' is not a Traffic Mirroring filter id" in err, err
        assert f"{config}:7:10: vni:" in err and f"{config}:8:21: session_number:" in err, err
        assert len(ec2.requests) == requests_so_far, "a request was sent for a config that failed to load"
        status, out, _ = run(ec2, "--config", config, "--check-config")
        assert status == 2
        assert changes(ec2) == 0
        assert len(enis) == 2


def plain_http_to_another_host_is_refused():
    """EC2, SSM, STS or IMDS endpoints over plain http:// to another host would carry signed
    requests in clear: refused before any request (--check-config too), unless
    allow_insecure_endpoints, which is warned about. Loopback (the stand-ins here) is taken."""
    ec2, target, filt = world()
    with ec2:
        cases = [
            ([], {"AWS_ENDPOINT_URL_EC2": "http://192.0.2.10:8080"}, "AWS_ENDPOINT_URL_EC2 http://192.0.2.10:8080"),
            (["--endpoint", "http://ec2.example"], {}, "endpoint http://ec2.example"),
            ([], {"AWS_ENDPOINT_URL_STS": "http://[2001:db8::7]"}, "AWS_ENDPOINT_URL_STS http://[2001:db8::7]"),
            ([], {"AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://192.0.2.12"},
             "AWS_EC2_METADATA_SERVICE_ENDPOINT http://192.0.2.12"),
        ]
        for args, extra, expect in cases:
            env = dict(env_for(ec2), **extra)
            for check in ([], ["--check-config"]):
                status, _, err = run(ec2, *selector_args(target, filt), *args, *check, env=env)
                assert status == 2 and f"refusing plain http:// to another host ({expect})" in err, (args, extra, err)
                assert "allow_insecure_endpoints" in err, err
            status, _, err = run(ec2, *selector_args(target, filt), *args, "--check-config",
                                 "--allow-insecure-endpoints", env=env)
            assert status == 0 and f"warning: allow_insecure_endpoints: plain http:// to another host ({expect})" \
                in err, (args, extra, err)
        assert changes(ec2) == 0, "a refused run sent a change"
        # The stand-in on loopback, and IMDS at its own address, are taken.
        status, _, err = run(ec2, *selector_args(target, filt), "--check-config",
                             env=env_for(ec2, AWS_EC2_METADATA_SERVICE_ENDPOINT="http://169.254.169.254"))
        assert status == 0 and "warning" not in err, err


def sessions_follow_the_fleet_within_one_interval():
    """Run as the collectors run it (--every, /metrics): as interfaces come
    and go, the sessions follow within an interval and /metrics says how
    many are mirrored; SIGTERM ends it cleanly."""
    ec2, target, filt = world()
    with ec2:
        enis = [ec2.add_eni({"tier": "web"}) for _ in range(2)]
        port = free_port()
        proc = subprocess.Popen([SESSIONS, *selector_args(target, filt), "--every", "10s",
                                 "--metrics-listen", f"127.0.0.1:{port}"], env=env_for(ec2),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            def mirrored():
                p = subprocess.run(["curl", "-s", f"http://127.0.0.1:{port}/metrics"], capture_output=True,
                                   text=True, timeout=10)
                m = re.search(r'^mirrortap_coverage_interfaces_mirrored\{selector="web"\} (\d+)', p.stdout, re.M)
                return int(m.group(1)) if m else None

            wait_for("2 mirrored", lambda: mirrored() == 2)
            check_contract(subprocess.run(["curl", "-s", f"http://127.0.0.1:{port}/metrics"], capture_output=True,
                                          text=True, timeout=10).stdout)
            new = ec2.add_eni({"tier": "web"})
            wait_for("3 mirrored", lambda: mirrored() == 3)
            assert sorted(ours(ec2)) == sorted(enis + [new])
            ec2.set_tags(enis[0], {})
            wait_for("2 mirrored after a tag was removed", lambda: mirrored() == 2 and len(ours(ec2)) == 2)
            assert sorted(ours(ec2)) == sorted([enis[1], new])
        finally:
            proc.terminate()
            out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, (out, err)
        assert out.count("Applied:") >= 3, out
        check_signatures(ec2)


def selectors_come_from_the_ssm_parameter_at_every_run():
    """With selectors_parameter, each run reads the selectors from SSM
    (AWS_ENDPOINT_URL_SSM): a changed value is followed by the next run, with
    nothing on the host changed; a missing parameter or a bad value fails
    the run, naming it (ssm:NAME:LINE:COLUMN), and changes nothing."""
    ec2, target, filt = world()
    name = "/mirrortap/collectors/selectors"
    with ec2, Ssm(KEY, SECRET, REGION) as ssm:
        web = ec2.add_eni({"tier": "web"})
        api = ec2.add_eni({"tier": "api"})
        config = os.path.join(scratch_dir(), "sessions.yaml")
        with open(config, "w") as f:
            f.write(f"selectors_parameter: {name}\n")
        env = env_for(ec2, AWS_ENDPOINT_URL_SSM=ssm.endpoint)

        def value(tier):
            return (f"selectors:\n  - name: tier\n    select: Name=tag:tier,Values={tier},nothing\n"
                    f"    target: {target}\n    filter: {filt}\n    vni: 9\n")

        status, out, err = run(ec2, "--config", config, env=env)
        assert status == 1 and "ParameterNotFound" in err and "nothing was changed" in err, (out, err)
        ssm.parameters[name] = value("web")
        status, out, err = run(ec2, "--config", config, env=env)
        assert status == 0 and sorted(ours(ec2)) == [web], (out, err)
        ssm.parameters[name] = value("api")
        status, out, err = run(ec2, "--config", config, env=env)
        assert status == 0 and sorted(ours(ec2)) == [api], (out, err)
        assert "1 created, 0 kept, 1 removed" in out, out
        ssm.parameters[name] = value("api").replace("vni: 9", "vni: 99999999")
        before = changes(ec2)
        status, out, err = run(ec2, "--config", config, env=env)
        assert status == 1 and f"ssm:{name}:6:10: vni:" in err, err
        assert changes(ec2) == before and sorted(ours(ec2)) == [api]
        assert ssm.bad_signatures == [], ssm.bad_signatures
        check_signatures(ec2)


def check_contract(exposition):
    """Every metric of docs/interfaces.md's mirrortap-sessions table is served, with its labels
    and as a gauge, and nothing else is: the dashboard and the alerts query those names."""
    contract, section = {}, False
    with open(os.path.join(HERE, "../../docs/interfaces.md")) as f:
        for line in f:
            if line.startswith("## "):
                section = "mirrortap-sessions" in line and "etrics" in line
                continue
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if section and len(cells) >= 3 and re.fullmatch(r"mirrortap_\w+", cells[0]):
                contract[cells[0]] = {x.strip() for x in re.sub(r"\([^)]*\)", "", cells[2]).split(",") if x.strip()}
    assert len(contract) == 8, contract
    served = {}
    for line in exposition.splitlines():
        m = re.match(r"# TYPE (\w+) (\w+)$", line)
        if m:
            assert m.group(2) == "gauge", line
            served.setdefault(m.group(1), set())
            continue
        m = re.match(r"(\w+)(?:\{(.*)\})? \S+$", line)
        if m:
            served.setdefault(m.group(1), set()).update(re.findall(r'(\w+)="', m.group(2) or ""))
    assert set(served) == set(contract), (sorted(served), sorted(contract))
    for name, labels in contract.items():
        assert served[name] == labels, (name, served[name], labels)


def wait_for(what, check, seconds=60):
    """Until check() is true (bounded), or fails naming `what`."""
    for _ in range(int(seconds / 0.2)):
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"no {what} within {seconds} s")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


if __name__ == "__main__":
    tests = {t.__name__: t for t in [
        sessions_follow_the_selected_interfaces, what_cannot_be_mirrored_is_named_and_counted,
        coverage_goes_to_cloudwatch_too, refusals_are_named_per_interface_and_the_rest_goes_on, throttling_is_outlasted_and_named,
        two_reconcilers_at_once_make_one_session_per_interface, dry_run_changes_nothing,
        bad_input_fails_before_anything_is_created, sessions_follow_the_fleet_within_one_interval,
        plain_http_to_another_host_is_refused,
        selectors_come_from_the_ssm_parameter_at_every_run]}
    tests[sys.argv[1]]()
    print("ok")
