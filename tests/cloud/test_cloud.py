"""cloud/ against real servers on loopback: what the S3 client stores is read
back with the aws CLI, its signatures are recomputed with botocore, its
retries are provoked by a proxy that fails on purpose, and the credential
chain runs against IMDSv2 and STS stand-ins."""
import base64
import hashlib
import json
import os
import re
import sys
import urllib.parse

from servers import (BUCKET, S3RVER_KEY, S3RVER_SECRET, CloudWatch, Imds, RecordingProxy, S3rver, Sts, aws,
                     check_botocore_signature, clean_env, driver, random_file, scratch_dir, sha256_file)

MiB = 1 << 20
# Keys S3 allows that need care in a URL and a signature.
AWKWARD_KEYS = ["plain/file.pcap", "with space/a b.pcap", "unicode/café-☃.pcap", "plus+and=equals/x+y=z.pcap"]
# S3 keeps "." and ".." in keys as they are; s3rver folds them, so this one is
# checked on the wire only (the proxy sees the path curl sent).
DOT_KEY = "dots/./and/../stay.pcap"


def s3_env(**extra):
    return clean_env(AWS_ACCESS_KEY_ID=S3RVER_KEY, AWS_SECRET_ACCESS_KEY=S3RVER_SECRET,
                     AWS_EC2_METADATA_DISABLED="true", **extra)


def s3_args(endpoint, *args, region="us-east-1", attempts=4):
    return ["--bucket", BUCKET, "--region", region, "--endpoint", endpoint, "--max-attempts", str(attempts),
            "--backoff-base-ms", "20"] + list(args)


def upload(endpoint, path, key, *extra, env=None, attempts=4, region="us-east-1"):
    rc, out = driver(s3_args(endpoint, "upload", path, key, *extra, attempts=attempts, region=region), env or s3_env())
    return rc, out[-1] if out else None


def multipart_flags(part=5 * MiB):
    return ["--part-size", str(part), "--threshold", str(part)]


def read_back(endpoint, key, directory):
    """The object's bytes as the aws CLI reads them, by sha256, and its metadata."""
    out = os.path.join(directory, "read-back")
    aws(endpoint, "s3api", "get-object", "--bucket", BUCKET, "--key", key, out)
    head = json.loads(aws(endpoint, "s3api", "head-object", "--bucket", BUCKET, "--key", key))
    return sha256_file(out), head


# ---- storing and reading back --------------------------------------------------

def objects_read_back_with_the_aws_cli():
    """PutObject of awkward keys with metadata: the aws CLI reads the same bytes
    and metadata; HeadObject, ListObjectsV2 and a ranged GetObject agree."""
    tmp = scratch_dir()
    path = random_file(tmp, "small", 300_000)
    with S3rver() as s3:
        for key in AWKWARD_KEYS:
            rc, result = upload(s3.endpoint, path, key, "--meta", "session=web", "--meta", "collector=i-0abc",
                                "--content-type", "application/vnd.tcpdump.pcap")
            assert rc == 0 and result["ok"], result
            assert result["parts"] == 0 and result["retries"] == 0, result
            digest, head = read_back(s3.endpoint, key, tmp)
            assert digest == sha256_file(path), key
            assert head["Metadata"] == {"session": "web", "collector": "i-0abc", "sha256": digest}, head
            assert result["sha256"] == digest and result["checksum"] == b64_sha256(open(path, "rb").read()), result
            assert head["ContentType"] == "application/vnd.tcpdump.pcap", head
            assert head["ContentLength"] == 300_000
        listed = json.loads(aws(s3.endpoint, "s3api", "list-objects-v2", "--bucket", BUCKET))
        assert sorted(o["Key"] for o in listed["Contents"]) == sorted(AWKWARD_KEYS), listed

        rc, out = driver(s3_args(s3.endpoint, "head", AWKWARD_KEYS[2]), s3_env())
        assert rc == 0 and out[0]["size"] == 300_000 and out[0]["metadata"]["session"] == "web", out
        rc, out = driver(s3_args(s3.endpoint, "head", "no/such/key"), s3_env())
        assert rc == 1 and out[0]["code"] == "NotFound" and out[0]["status"] == 404, out
        # Two keys a page: the continuation token (base64, with '+', '/' and '=') goes back encoded.
        rc, out = driver(s3_args(s3.endpoint, "list", "", "--page-size", "2"), s3_env())
        assert rc == 0 and out[0]["pages"] == 2 and sorted(out[0]["keys"]) == sorted(AWKWARD_KEYS), out
        rc, out = driver(s3_args(s3.endpoint, "list", "unicode/"), s3_env())
        assert rc == 0 and out[0]["keys"] == [AWKWARD_KEYS[2]], out
        part = os.path.join(tmp, "range")
        rc, out = driver(s3_args(s3.endpoint, "get", AWKWARD_KEYS[1], "1000", "1999", part), s3_env())
        assert rc == 0 and out[0]["bytes"] == 1000, out
        with open(path, "rb") as f, open(part, "rb") as g:
            f.seek(1000)
            assert f.read(1000) == g.read()


def b64_sha256(data):
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def multipart_upload_reads_back_whole():
    """A file of several 5 MiB parts (and a short last one) is stored whole, in
    one Create, one UploadPart per part and one Complete; with S3's SHA-256
    checksums: asked for on Create, each part's in its UploadPart and again in
    Complete, and the whole file's SHA-256 in the metadata."""
    tmp = scratch_dir()
    path = random_file(tmp, "big", 12 * MiB + 12345)
    with S3rver() as s3, RecordingProxy(s3.port) as proxy:
        rc, result = upload(proxy.endpoint, path, "multi/part file.pcap", *multipart_flags(), "--meta", "kind=capture",
                            "--storage-class", "STANDARD_IA")
        assert rc == 0 and result["parts"] == 3 and result["retries"] == 0, result
        digest, head = read_back(s3.endpoint, "multi/part file.pcap", tmp)
        assert digest == sha256_file(path) == result["sha256"]
        assert head["Metadata"] == {"kind": "capture", "sha256": digest}, head
        assert head.get("StorageClass") == "STANDARD_IA", head
        creates = proxy.matching("POST", {"uploads": ""})
        assert len(creates) == 1 and creates[0].header("x-amz-checksum-algorithm") == "SHA256", creates
        assert creates[0].header("x-amz-meta-sha256") == digest
        parts = sorted(proxy.matching("PUT"), key=lambda r: int(r.query["partNumber"]))
        assert [int(r.query["partNumber"]) for r in parts] == [1, 2, 3], parts
        assert [len(r.body) for r in parts] == [5 * MiB, 5 * MiB, 2 * MiB + 12345]
        for r in parts:
            assert r.header("x-amz-checksum-sha256") == b64_sha256(r.body), r
        completes = [r for r in proxy.matching("POST") if "uploadId" in r.query]
        assert len(completes) == 1 and completes[0].status == 200, completes
        named = re.findall(rb"<ChecksumSHA256>([^<]+)</ChecksumSHA256><ETag>[^<]+</ETag><PartNumber>(\d)</PartNumber>",
                           completes[0].body)
        assert [(c.decode(), int(n)) for c, n in named] == [(b64_sha256(r.body), i + 1) for i, r in enumerate(parts)]
        # S3's composite checksum of the object: of the parts' SHA-256s, and their count.
        composite = base64.b64encode(hashlib.sha256(b"".join(hashlib.sha256(r.body).digest() for r in parts))
                                     .digest()).decode() + "-3"
        assert result["checksum"] == composite, result
        assert result["body_bytes_sent"] == os.path.getsize(path) + len(completes[0].body), result


# ---- retries -------------------------------------------------------------------

def part_two(fault_kind, *fault_args, times=1):
    def fault(request, attempt):
        if request.method == "PUT" and request.query.get("partNumber") == "2" and attempt <= times:
            return (fault_kind,) + fault_args
        return None
    return fault


def retried_part(fault):
    """Part 2 fails once as `fault` says: it alone is sent again and the object
    reads back whole."""
    tmp = scratch_dir()
    size = 12 * MiB + 777
    path = random_file(tmp, "big", size)
    with S3rver() as s3, RecordingProxy(s3.port, fault) as proxy:
        rc, result = upload(proxy.endpoint, path, "retry/x.pcap", *multipart_flags())
        assert rc == 0 and result["ok"] and result["parts"] == 3, result
        assert result["retries"] == 1, result
        by_part = {}
        for r in proxy.matching("PUT"):
            by_part.setdefault(r.query["partNumber"], []).append(r)
        assert {p: len(rs) for p, rs in by_part.items()} == {"1": 1, "2": 2, "3": 1}, by_part
        # The whole file went once, part 2 once more: nothing else was sent again.
        assert result["body_bytes_sent"] - sum(len(r.body) for r in proxy.requests if r.method == "POST") \
            == size + 5 * MiB, result
        digest, _ = read_back(s3.endpoint, "retry/x.pcap", tmp)
        assert digest == sha256_file(path)
        return by_part


def server_error_on_a_part_is_retried():
    by_part = retried_part(part_two("status", "InternalError", 500))
    assert [r.status for r in by_part["2"]] == [500, 200]


def throttling_on_a_part_is_retried():
    by_part = retried_part(part_two("status", "SlowDown", 503))
    assert [r.status for r in by_part["2"]] == [503, 200]


def cut_connection_on_a_part_is_retried():
    by_part = retried_part(part_two("cut"))
    assert [r.status for r in by_part["2"]] == ["cut", 200]


def corrupted_part_is_refused_and_sent_again():
    """A body damaged on the way fails S3's check of its x-amz-checksum-sha256
    (BadDigest): it is not stored, and the part is read and sent again, with
    the same checksum."""
    by_part = retried_part(part_two("corrupt"))
    assert [(r.status, r.code) for r in by_part["2"]] == [(400, "BadDigest"), (200, None)]
    first, again = by_part["2"]
    assert first.header("x-amz-checksum-sha256") == again.header("x-amz-checksum-sha256") == b64_sha256(again.body)


def giving_up_aborts_the_upload():
    """Part 2 fails every time: after max attempts the upload is aborted, and
    no object exists."""
    tmp = scratch_dir()
    path = random_file(tmp, "big", 11 * MiB)
    with S3rver() as s3, RecordingProxy(s3.port, part_two("status", "InternalError", 500, times=100)) as proxy:
        rc, result = upload(proxy.endpoint, path, "abort/x.pcap", *multipart_flags(), attempts=3)
        assert rc == 1 and result["code"] == "InternalError", result
        assert "UploadPart 2" in result["error"] and "upload aborted" in result["error"], result
        assert len(proxy.matching("PUT", {"partNumber": "2"})) == 3
        assert len(proxy.matching("PUT", {"partNumber": "3"})) == 0
        aborts = proxy.matching("DELETE")
        assert len(aborts) == 1 and aborts[0].query["uploadId"] == proxy.matching("PUT")[0].query["uploadId"]
        rc, out = driver(s3_args(s3.endpoint, "head", "abort/x.pcap"), s3_env())
        assert rc == 1 and out[0]["code"] == "NotFound", out


def permanent_errors_are_not_retried():
    """AccessDenied is final: one request, the error as S3 worded it."""
    tmp = scratch_dir()
    path = random_file(tmp, "small", 1000)
    deny = lambda request, attempt: ("status", "AccessDenied", 403) if request.method == "PUT" else None
    with S3rver() as s3, RecordingProxy(s3.port, deny) as proxy:
        rc, result = upload(proxy.endpoint, path, "denied.pcap")
        assert rc == 1 and result["code"] == "AccessDenied" and result["status"] == 403, result
        assert "PutObject 'denied.pcap': 403 AccessDenied: injected by the test proxy (request id PROXY0001)" \
            == result["error"], result
        assert len(proxy.matching("PUT")) == 1


def unreachable_store_is_a_bounded_retryable_failure():
    """Nobody listens: each attempt fails to connect, and the client stops
    after its attempts with a connection error."""
    tmp = scratch_dir()
    path = random_file(tmp, "small", 1000)
    from servers import free_port
    rc, result = upload(f"http://127.0.0.1:{free_port()}", path, "x.pcap", attempts=3)
    assert rc == 1 and result["code"] == "ConnectionFailed" and "gave up after 3 attempts" in result["error"], result


# ---- signatures ----------------------------------------------------------------

AUTH = re.compile(r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/s3/aws4_request, "
                  r"SignedHeaders=([a-z0-9;_-]+), Signature=([0-9a-f]{64})$")


def check_signature(r, secret, token, region):
    """Recomputes the request's SigV4 signature with botocore, from what the
    proxy received, and checks what S3 would check around it."""
    m = AUTH.match(r.header("Authorization") or "")
    assert m, f"{r}: Authorization {r.header('Authorization')!r}"
    key_id, day, scope_region, signed, signature = m.groups()
    signed = signed.split(";")
    assert scope_region == region and r.header("x-amz-date").startswith(day), r
    for required in ("host", "x-amz-date", "x-amz-content-sha256"):
        assert required in signed, (r, signed)
    if token:
        assert "x-amz-security-token" in signed and r.header("x-amz-security-token") == token, r
    for name, _ in r.headers:
        if name.lower().startswith("x-amz-") or name.lower() in ("content-md5", "content-type"):
            assert name.lower() in signed, (r, name, signed)
    if r.body:
        assert "content-md5" in signed
        assert r.header("Content-MD5") == base64.b64encode(hashlib.md5(r.body).digest()).decode()
    assert r.header("x-amz-content-sha256") == hashlib.sha256(r.body).hexdigest(), r
    # The path and query must already be canonical: S3 decodes and encodes them again.
    path, _, query = r.path.partition("?")
    assert urllib.parse.quote(urllib.parse.unquote(path), safe="/-_.~") == path, path
    for item in query.split("&") if query else []:
        name, eq, value = item.partition("=")
        assert eq, f"query item {item!r} lacks '=' (SigV4 signs 'name=')"
        for part in (name, value):
            assert urllib.parse.quote(urllib.parse.unquote(part), safe="-_.~") == part, item

    check_botocore_signature(r, signature, signed, key_id, secret, token, region, "s3")


def signatures_match_botocore():
    """Every kind of request the client sends, with a session token, awkward
    keys, metadata and a continuation token: botocore computes the same
    signature from what arrived."""
    try:
        import botocore  # noqa: F401
    except ImportError:
        raise AssertionError("botocore is missing: ./dev test installs python3-botocore")
    tmp = scratch_dir()
    small = random_file(tmp, "small", 70_000)
    big = random_file(tmp, "big", 11 * MiB)
    secret, token, region = "a-secret/with+odd=chars", "FwoGZXIvYXdzE//token+with=odd/chars", "eu-west-3"
    env = clean_env(AWS_ACCESS_KEY_ID=S3RVER_KEY, AWS_SECRET_ACCESS_KEY=secret, AWS_SESSION_TOKEN=token,
                    AWS_EC2_METADATA_DISABLED="true")
    fail_once = part_two("status", "InternalError", 500)
    with S3rver() as s3, RecordingProxy(s3.port, fail_once) as proxy:
        for key in AWKWARD_KEYS + [DOT_KEY]:
            rc, result = upload(proxy.endpoint, small, key, "--meta", "session=web", "--meta", "file-sha256=abc",
                                "--meta", "collector_id=i-1", "--storage-class", "STANDARD", env=env, region=region)
            assert rc == 0, result
        rc, result = upload(proxy.endpoint, big, "multi/é x.pcap", *multipart_flags(), env=env, region=region)
        assert rc == 0 and result["retries"] == 1, result
        for args in (["head", AWKWARD_KEYS[3]], ["list", "", "--page-size", "2"], ["list", "unicode/"],
                     ["get", AWKWARD_KEYS[2], "5", "500", os.path.join(tmp, "r")]):
            rc, out = driver(s3_args(proxy.endpoint, *args, region=region), env)
            assert rc == 0, out
        # An abort, too: part 2 of a second upload fails for good.
        proxy.fault = part_two("status", "InternalError", 500, times=100)
        rc, result = upload(proxy.endpoint, big, "abort/x.pcap", *multipart_flags(), env=env, region=region, attempts=2)
        assert rc == 1, result
    kinds = {(r.method, tuple(sorted(k for k in r.query if k not in ("prefix",)))) for r in proxy.requests}
    for kind in [("PUT", ()), ("POST", ("uploads",)), ("PUT", ("partNumber", "uploadId")), ("POST", ("uploadId",)),
                 ("HEAD", ()), ("GET", ("encoding-type", "list-type", "max-keys")),
                 ("GET", ("continuation-token", "encoding-type", "list-type", "max-keys")), ("GET", ()),
                 ("DELETE", ("uploadId",))]:
        assert kind in kinds, (kind, kinds)
    assert any(r.path == f"/{BUCKET}/dots/./and/../stay.pcap" for r in proxy.requests)
    # S3's checksums go on object data and Create, signed like every x-amz- header (check_signature).
    for r in proxy.requests:
        if r.method == "PUT":
            assert r.header("x-amz-checksum-sha256") == b64_sha256(r.body), r
        if r.method == "POST" and "uploads" in r.query:
            assert r.header("x-amz-checksum-algorithm") == "SHA256" and len(r.header("x-amz-meta-sha256")) == 64, r
    for r in proxy.requests:
        check_signature(r, secret, token, region)
    print(f"{len(proxy.requests)} signatures match botocore's")


# ---- credentials ---------------------------------------------------------------

ROLE_ARN = "arn:aws:iam::123456789012:role/mirrortap-uploader"


def web_identity_env(sts, directory, token="eyJhbGciOiJSUzI1NiJ9.web-identity.token"):
    path = os.path.join(directory, "token")
    with open(path, "w") as f:
        f.write(token + "\n")
    return {"AWS_WEB_IDENTITY_TOKEN_FILE": path, "AWS_ROLE_ARN": ROLE_ARN, "AWS_ROLE_SESSION_NAME": "capture-1",
            "AWS_ENDPOINT_URL_STS": sts.endpoint}


def credentials(env, *extra):
    return driver(["credentials"] + list(extra), env)


def chain_takes_environment_then_web_identity_then_imds():
    tmp = scratch_dir()
    token = "eyJhbGciOiJSUzI1NiJ9.web-identity.token"
    with Imds() as imds, Sts(token, ROLE_ARN) as sts:
        everything = dict(AWS_ACCESS_KEY_ID="AKIAENVIRONMENT", AWS_SECRET_ACCESS_KEY="env-secret",
                          AWS_SESSION_TOKEN="env-token", AWS_EC2_METADATA_SERVICE_ENDPOINT=imds.endpoint,
                          **web_identity_env(sts, tmp, token))
        rc, out = credentials(clean_env(**everything))
        assert rc == 0 and out[0]["key"] == "AKIAENVIRONMENT" and out[0]["token"] == "env-token", out
        assert out[0]["source"].startswith("environment") and out[0]["expiration"] is None, out
        assert sts.calls == 0 and imds.requests == []

        del everything["AWS_ACCESS_KEY_ID"], everything["AWS_SECRET_ACCESS_KEY"], everything["AWS_SESSION_TOKEN"]
        rc, out = credentials(clean_env(**everything))
        assert rc == 0 and out[0]["key"] == "ASIAWEBID0000001" and out[0]["token"] == "web-identity-token-1", out
        assert out[0]["source"] == "web identity " + ROLE_ARN, out
        assert sts.calls == 1 and imds.requests == []
        form = dict(urllib.parse.parse_qsl(sts.requests[0].body.decode()))
        assert form["RoleSessionName"] == "capture-1" and form["WebIdentityToken"] == token, form
        assert sts.requests[0].header("Authorization") is None  # AssumeRoleWithWebIdentity is unsigned

        for name in ("AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME", "AWS_ENDPOINT_URL_STS"):
            del everything[name]
        rc, out = credentials(clean_env(**everything))
        assert rc == 0 and out[0]["key"] == "ASIAIMDS00000001" and out[0]["token"] == "imds-token-1", out
        assert out[0]["source"].startswith("instance role"), out
        assert sts.calls == 1 and imds.credentials_served == 1


def half_a_setting_is_an_error():
    """A key id without its secret, or a token file without a role, is refused
    with a line that says so, not passed over for the next source."""
    with Imds() as imds:
        rc, out = credentials(clean_env(AWS_ACCESS_KEY_ID="AKIA1", AWS_EC2_METADATA_SERVICE_ENDPOINT=imds.endpoint))
        assert rc == 1 and out[0]["error"] == "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not", out
        rc, out = credentials(clean_env(AWS_WEB_IDENTITY_TOKEN_FILE="/nonexistent",
                                        AWS_EC2_METADATA_SERVICE_ENDPOINT=imds.endpoint))
        assert rc == 1 and "AWS_ROLE_ARN is not" in out[0]["error"], out
        assert imds.requests == []


def web_identity_refusal_is_reported():
    tmp = scratch_dir()
    with Sts("the-right-token", ROLE_ARN) as sts:
        rc, out = credentials(clean_env(AWS_EC2_METADATA_DISABLED="true", **web_identity_env(sts, tmp, "a-wrong-token")))
        assert rc == 1 and out[0]["code"] == "InvalidIdentityToken" and out[0]["status"] == 400, out
        assert "token or role does not match" in out[0]["error"], out


def instance_role_needs_the_imdsv2_token():
    """Every GET carries the token from the PUT; a token the service has
    forgotten (401) is replaced and the read goes on."""
    with Imds(token_uses=1) as imds:
        rc, out = credentials(clean_env(AWS_EC2_METADATA_SERVICE_ENDPOINT=imds.endpoint))
        assert rc == 0 and out[0]["key"] == "ASIAIMDS00000001", out
        puts = [r for r in imds.requests if r.method == "PUT"]
        gets = [r for r in imds.requests if r.method == "GET"]
        assert puts and all(r.header("X-aws-ec2-metadata-token-ttl-seconds") == "21600" for r in puts)
        assert all(r.header("X-aws-ec2-metadata-token") for r in gets), gets
        assert imds.issued_tokens == 2 and imds.refused == 1, (imds.issued_tokens, imds.refused)
        # No IMDSv1: nothing was asked without a token but the one the service had forgotten.
        for what, expected in (("instance-id", "i-0123456789abcdef0"), ("region", "eu-west-3"),
                               ("lifecycle", "InService")):
            rc, out = driver(["imds", what], clean_env(AWS_EC2_METADATA_SERVICE_ENDPOINT=imds.endpoint))
            assert rc == 0 and out[0]["value"] == expected, (what, out)


def instance_role_is_refreshed_before_it_expires():
    """Credentials that expire in 5 min + 2 s are fetched again after about
    2 s (5 minutes early), and the new key is used from then on."""
    with Imds(lifetime=300 + 2) as imds:
        rc, out = credentials(clean_env(AWS_EC2_METADATA_SERVICE_ENDPOINT=imds.endpoint), "--until-change", "120")
        assert rc == 0 and len(out) == 2, out
        first, second = out
        assert (first["key"], second["key"]) == ("ASIAIMDS00000001", "ASIAIMDS00000002"), out
        assert second["fetches"] == 2 and imds.credentials_served == 2
        assert second["expiration"] > first["expiration"]


def imds_disabled_leaves_no_source():
    with Imds() as imds:
        env = clean_env(AWS_EC2_METADATA_SERVICE_ENDPOINT=imds.endpoint, AWS_EC2_METADATA_DISABLED="TRUE")
        rc, out = credentials(env)
        assert rc == 1 and out[0]["code"] == "NoCredentials" and "AWS_EC2_METADATA_DISABLED" in out[0]["error"], out
        rc, out = driver(["imds", "instance-id"], env)
        assert rc == 1 and out[0]["code"] == "ImdsDisabled", out
        assert imds.requests == []


def region_comes_from_imds_when_not_configured():
    with Imds() as imds, S3rver() as s3:
        tmp = scratch_dir()
        path = random_file(tmp, "small", 100)
        proxy_env = s3_env()
        proxy_env.pop("AWS_EC2_METADATA_DISABLED")
        proxy_env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = imds.endpoint
        with RecordingProxy(s3.port) as proxy:
            rc, out = driver(["--bucket", BUCKET, "--endpoint", proxy.endpoint, "upload", path, "r.pcap"], proxy_env)
            assert rc == 0, out
            assert "/eu-west-3/s3/aws4_request" in proxy.requests[0].header("Authorization")
            proxy_env["AWS_REGION"] = "ap-south-2"
            rc, out = driver(["--bucket", BUCKET, "--endpoint", proxy.endpoint, "upload", path, "r.pcap"], proxy_env)
            assert rc == 0 and "/ap-south-2/s3/aws4_request" in proxy.requests[-1].header("Authorization")
        assert any(r.path == "/latest/meta-data/placement/region" for r in imds.requests)


# ---- CloudWatch ----------------------------------------------------------------

CW_KEY, CW_SECRET, CW_REGION = "AKIACLOUDWATCHTEST", "cw-secret/with+odd=chars", "eu-north-1"


def put_metrics(cw, namespace, count, *extra, token=None):
    env = clean_env(AWS_ACCESS_KEY_ID=CW_KEY, AWS_SECRET_ACCESS_KEY=CW_SECRET, AWS_SESSION_TOKEN=token,
                    AWS_EC2_METADATA_DISABLED="true")
    return driver(["--region", CW_REGION, "--endpoint", cw.endpoint, "--backoff-base-ms", "10", *extra,
                   "put-metrics", namespace, str(count)], env)


def put_metric_data_is_signed_and_shaped_as_cloudwatch_takes_it():
    """PutMetricData as the collector sends it: a form POST signed for
    "monitoring" (botocore computes the same signature, with and without a
    session token), each figure with its name, unit, value, timestamp and
    dimensions, as the stand-in parses them by AWS's rules."""
    with CloudWatch(CW_KEY, CW_SECRET, CW_REGION) as cw:
        rc, out = put_metrics(cw, "Mirrortap", 3)
        assert rc == 0 and out == [{"ok": True, "requests": 1, "retries": 0}], out
        rc, out = put_metrics(cw, "Mirrortap", 1, token="FwoGZXIvYXdzE//token+with=odd/chars")
        assert rc == 0, out
    assert cw.bad_signatures == [] and len(cw.requests) == 2, (cw.bad_signatures, cw.requests)
    assert cw.requests[1].header("X-Amz-Security-Token") == "FwoGZXIvYXdzE//token+with=odd/chars"
    stamp = "2025-12-07T08:49:39Z"
    assert cw.data[:3] == [
        {"namespace": "Mirrortap", "name": "Figure0", "value": 0.5, "unit": "Count", "timestamp": stamp,
         "dimensions": {"Fleet": "test fleet", "Reason": "pcap:queue_full"}},
        {"namespace": "Mirrortap", "name": "Figure1", "value": 1.5, "unit": "Count", "timestamp": stamp,
         "dimensions": {"Fleet": "test fleet"}},
        {"namespace": "Mirrortap", "name": "Figure2", "value": 2.5, "unit": "Count", "timestamp": stamp,
         "dimensions": {"Fleet": "test fleet"}},
    ], cw.data


def put_metric_data_batches_at_most_1000_figures():
    """2,500 figures go as 1000, 1000 and 500, every one of them once."""
    with CloudWatch(CW_KEY, CW_SECRET, CW_REGION) as cw:
        rc, out = put_metrics(cw, "Mirrortap/batch", 2500)
        assert rc == 0 and out[0]["requests"] == 3, out
    sizes = [sum(1 for k in CloudWatch.form(r) if k.endswith(".MetricName")) for r in cw.requests]
    assert sizes == [1000, 1000, 500], sizes
    assert [d["name"] for d in cw.data] == [f"Figure{i}" for i in range(2500)]


def put_metric_data_throttling_is_retried_refusals_are_not():
    """Throttling (400) is waited out and sent again; a refused namespace is
    not retried and comes back with AWS's code."""
    throttled_twice = lambda request, attempt: (400, "Throttling") if attempt <= 2 else None
    with CloudWatch(CW_KEY, CW_SECRET, CW_REGION, fault=throttled_twice) as cw:
        rc, out = put_metrics(cw, "Mirrortap", 2)
        assert rc == 0 and out[0]["retries"] == 2 and len(cw.requests) == 3, (out, cw.requests)
        assert len(cw.data) == 2
    with CloudWatch(CW_KEY, CW_SECRET, CW_REGION) as cw:
        rc, out = put_metrics(cw, "AWS/EC2", 2)
        assert rc == 1 and out[0]["code"] == "InvalidParameterCombination" and len(cw.requests) == 1, out


TESTS = [objects_read_back_with_the_aws_cli, multipart_upload_reads_back_whole, server_error_on_a_part_is_retried,
         throttling_on_a_part_is_retried, cut_connection_on_a_part_is_retried, corrupted_part_is_refused_and_sent_again,
         giving_up_aborts_the_upload, permanent_errors_are_not_retried, unreachable_store_is_a_bounded_retryable_failure,
         signatures_match_botocore, chain_takes_environment_then_web_identity_then_imds, half_a_setting_is_an_error,
         web_identity_refusal_is_reported, instance_role_needs_the_imdsv2_token,
         instance_role_is_refreshed_before_it_expires, imds_disabled_leaves_no_source,
         region_comes_from_imds_when_not_configured, put_metric_data_is_signed_and_shaped_as_cloudwatch_takes_it,
         put_metric_data_batches_at_most_1000_figures, put_metric_data_throttling_is_retried_refusals_are_not]

if __name__ == "__main__":
    tests = {t.__name__: t for t in TESTS}
    name = sys.argv[1]
    tests[name]()
    print(f"PASS {name}")
