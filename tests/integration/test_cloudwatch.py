"""The collector's own figures in CloudWatch: the real collector publishes to
a CloudWatch stand-in (tests/cloud/servers.py) on loopback, which recomputes
every request's SigV4 signature with botocore and checks PutMetricData's
shape as AWS documents it. What arrives must add up to what was sent and to
what /metrics says."""
import os
import sys

from harness import Collector, seq_frame, vxlan, wait_for

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../cloud"))
from servers import CloudWatch, clean_env  # noqa: E402

KEY, SECRET, REGION = "AKIACOLLECTORCW", "collector-cw-secret/+=", "ap-southeast-2"


def use_keys(**extra):
    """This process's environment (the collector inherits it) without the
    machine's AWS settings; credentials from the environment, no IMDS."""
    env = clean_env(AWS_ACCESS_KEY_ID=KEY, AWS_SECRET_ACCESS_KEY=SECRET, AWS_EC2_METADATA_DISABLED="true", **extra)
    os.environ.clear()
    os.environ.update(env)


def cloudwatch_config(cw, **more):
    lines = ["  namespace: Mirrortap/it", "  fleet: it-fleet", f"  region: {REGION}", f"  endpoint: {cw.endpoint}",
             "  interval_seconds: 1"] + [f"  {k}: {v}" for k, v in more.items()]
    return "allowed_vnis: [501, 502]\ncloudwatch:\n" + "\n".join(lines) + "\n"


def sums(cw, name, **dimensions):
    """The sum of the values of `name` whose dimensions are exactly `dimensions`."""
    return sum(d["value"] for d in list(cw.data) if d["name"] == name and d["dimensions"] == dimensions)


def figures_add_up_to_what_was_sent():
    """500 packets of two allowed VNIs and 40 of a VNI not allowed: the
    figures published over the following intervals add up to 540 received
    and 40 refused as decap:vni_not_allowed, with no drop; health and disk
    free come with every send; every figure has Fleet (and at most Reason)."""
    fleet = {"Fleet": "it-fleet"}
    with CloudWatch(KEY, SECRET, REGION) as cw:
        use_keys()
        with Collector(config=cloudwatch_config(cw)) as c:
            c.wait_stderr("cloudwatch: publishing to Mirrortap/it (Fleet it-fleet) every 1 s")
            c.send([vxlan(v, seq_frame(v, i)) for i in range(250) for v in (501, 502)])
            c.send([vxlan(777, seq_frame(777, i)) for i in range(40)])
            c.wait_settled(540)
            wait_for("540 packets in PacketsReceived", lambda: sums(cw, "PacketsReceived", **fleet) == 540)
            wait_for("40 refusals in PacketsRefused",
                     lambda: sums(cw, "PacketsRefused", **fleet, Reason="decap:vni_not_allowed") == 40)
            page = c.metrics()
            assert c.stop() == 0
    assert cw.bad_signatures == [], cw.bad_signatures
    assert all(r.status == 200 for r in cw.requests), [r.status for r in cw.requests]
    assert sums(cw, "PacketsRefused", **fleet) == 40
    assert sums(cw, "PacketsDropped", **fleet) == 0
    assert not [d for d in cw.data if d["name"] == "PacketsDropped" and "Reason" in d["dimensions"]]
    # /metrics says the same.
    assert page[("mirrortap_received_packets_total", frozenset())] == 540, page
    assert page[("mirrortap_decap_errors_total", frozenset({("reason", "vni_not_allowed")}))] == 40, page
    for d in cw.data:
        assert d["namespace"] == "Mirrortap/it" and d["dimensions"]["Fleet"] == "it-fleet", d
        assert set(d["dimensions"]) <= {"Fleet", "Reason"}, d
    sends = len(cw.requests)
    healthy = [d for d in cw.data if d["name"] == "Healthy"]
    disk = [d for d in cw.data if d["name"] == "DiskFreeBytes"]
    assert len(healthy) == sends and all(d["value"] == 1 and d["unit"] == "None" for d in healthy), healthy
    assert len(disk) == sends and all(d["value"] > 0 and d["unit"] == "Bytes" for d in disk), disk


def a_failed_send_carries_its_counts_to_the_next():
    """CloudWatch throttles every request of a while (the client's retries
    give up): nothing is lost, the counts of the failed intervals arrive with
    the first send that succeeds; the failure is logged once."""
    refusing = {"on": True}
    with CloudWatch(KEY, SECRET, REGION, fault=lambda r, n: (400, "Throttling") if refusing["on"] else None) as cw:
        use_keys()
        with Collector(config=cloudwatch_config(cw)) as c:
            c.send([vxlan(501, seq_frame(501, i)) for i in range(300)])
            c.wait_settled(300)
            c.wait_stderr("Throttling")
            refusing["on"] = False
            wait_for("300 packets in PacketsReceived", lambda: sums(cw, "PacketsReceived", Fleet="it-fleet") == 300)
            log = c.read_stderr()
            assert c.stop() == 0
    assert log.count("Throttling") == 1, log
    assert cw.bad_signatures == []


def no_credentials_refuses_the_start():
    """With cloudwatch.namespace set and no credential source at all, the
    collector stops at start and says why, rather than finding out later."""
    with CloudWatch(KEY, SECRET, REGION) as cw:
        os.environ.clear()
        os.environ.update(clean_env(AWS_EC2_METADATA_DISABLED="true"))
        with Collector(config=cloudwatch_config(cw), defer_start=True) as c:
            try:
                c.start()  # may see "listening on" before the publisher's refusal
            except AssertionError as e:
                assert "cloudwatch:" in str(e), e
            assert c.proc.wait(timeout=30) != 0
            assert "cloudwatch:" in c.read_stderr(), c.read_stderr()
    assert cw.requests == []


TESTS = [figures_add_up_to_what_was_sent, a_failed_send_carries_its_counts_to_the_next,
         no_credentials_refuses_the_start]

if __name__ == "__main__":
    tests = {t.__name__: t for t in TESTS}
    name = sys.argv[1]
    tests[name]()
    print(f"PASS {name}")
