"""Real servers on loopback for the cloud/ integration tests: s3rver (npm), a
recording proxy in front of it that checks bodies as S3 does and can be told
to fail, an IMDSv2 stand-in and an STS stand-in. Each serves 127.0.0.1 on a
port the kernel picked and stops with the test."""
import atexit
import base64
import ctypes
import hashlib
import http.client
import http.server
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.normpath(os.path.join(HERE, "../.."))
BIN = os.environ.get("MIRRORTAP_BIN", os.path.join(SOURCE, "build/bin"))
DRIVER = os.path.join(BIN, "cloud_driver")
# ./dev test installs s3rver (tests/cloud/npm's lock file) and says where.
S3RVER = os.environ.get("MIRRORTAP_S3RVER", os.path.join(SOURCE, "build/npm/node_modules/s3rver/bin/s3rver.js"))
BUCKET = "mirrortap-test"
# s3rver knows one account: any signature is taken, but only this key id.
S3RVER_KEY = "S3RVER"
S3RVER_SECRET = "S3RVER"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scratch_dir():
    """A directory of this test's own, removed when the test ends."""
    path = tempfile.mkdtemp(prefix="mirrortap-cloud-")
    atexit.register(shutil.rmtree, path, True)
    return path


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def random_file(directory, name, size):
    path = os.path.join(directory, name)
    with open(path, "wb") as f:
        f.write(os.urandom(size))
    return path


def die_with_parent():
    """In the child before exec: a test killed by its timeout takes s3rver along."""
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class S3rver:
    """The npm s3rver on 127.0.0.1 with one bucket, its data in a scratch directory."""

    def __init__(self):
        if not os.path.exists(S3RVER):
            raise AssertionError(f"s3rver is not installed at {S3RVER}: ./dev test installs it "
                                 "(npm ci of tests/cloud/npm into BUILD/npm)")
        self.dir = scratch_dir()
        self.log_path = os.path.join(self.dir, "log")
        for _ in range(3):  # a port picked free may be taken by a parallel test before s3rver binds it
            self.port = free_port()
            self.log = open(self.log_path, "w")
            # s3rver makes continuation tokens with DES, which Node's OpenSSL 3 keeps in its legacy provider.
            self.proc = subprocess.Popen(
                ["node", "--openssl-legacy-provider", S3RVER, "-d", os.path.join(self.dir, "data"),
                 "-a", "127.0.0.1", "-p", str(self.port), "--configure-bucket", BUCKET],
                stdout=self.log, stderr=subprocess.STDOUT, preexec_fn=die_with_parent)
            if self._wait_listening():
                return
            self.stop()
        with open(self.log_path) as f:
            raise AssertionError("s3rver did not start: " + f.read())

    def _wait_listening(self):
        for _ in range(200):  # bounded: 20 s (node starts slowly under load)
            if self.proc.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return True
            except OSError:
                time.sleep(0.1)
        return False

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.port}"

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


class Recorded:
    """One request as the proxy received it."""

    def __init__(self, method, path, headers, body):
        self.method = method
        self.path = path  # as sent: encoded path and query
        self.headers = headers  # [(name, value)] in the order and case sent
        self.body = body
        parsed = urllib.parse.urlsplit(path)
        self.query = dict(urllib.parse.parse_qsl(parsed.query, keep_blank_values=True))
        self.status = None
        self.code = None  # the error code of the answer, when the proxy knows it

    def header(self, name):
        for n, v in self.headers:
            if n.lower() == name.lower():
                return v
        return None

    def __repr__(self):
        return f"{self.method} {self.path} -> {self.status}"


class LoopbackServer:
    """An HTTP/1.1 server on 127.0.0.1 (a port the kernel picked) whose
    `serve(handler)` answers each request; it records them in `requests`."""

    def __init__(self):
        self.requests = []
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def serve(self):
                outer.serve(self)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = serve

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def record(self, r):
        with self.lock:
            self.requests.append(r)

    @staticmethod
    def respond(handler, status, headers, body):
        handler.send_response(status)
        for name, value in headers:
            handler.send_header(name, value)
        if not any(name.lower() == "content-length" for name, _ in headers):
            handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(body)

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.port}"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def error_answer(code, message, status):
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message>'
            f'<RequestId>PROXY0001</RequestId></Error>').encode()
    return status, [("Content-Type", "application/xml")], body


class RecordingProxy(LoopbackServer):
    """An HTTP/1.1 proxy in front of s3rver. It records every request, checks
    the body against x-amz-checksum-sha256, Content-MD5 and
    x-amz-content-sha256 as S3 does (400 BadDigest, BadDigest,
    XAmzContentSHA256Mismatch; a checksum that is no base64 SHA-256 is 400
    InvalidRequest), and on CompleteMultipartUpload of an upload created with
    x-amz-checksum-algorithm SHA256, that every part names the checksum it was
    stored with (400 InvalidRequest / InvalidPart), which s3rver checks none
    of. It asks `fault(request, attempt)` whether to misbehave: None (pass on),
    ("status", code, status), ("cut",) to close the connection half way
    through the body, or ("corrupt",) to flip a byte of the body before the
    checks. `attempt` counts from 1 per method and path+query.
    AbortMultipartUpload, which s3rver lacks, it answers itself. Each record's
    `code` is the error code of its answer, if any."""

    HOP_BY_HOP = {"connection", "expect", "transfer-encoding", "content-length", "keep-alive"}

    def __init__(self, upstream_port, fault=None):
        self.upstream_port = upstream_port
        self.fault = fault or (lambda request, attempt: None)
        self.attempts = {}
        self.checksum_uploads = set()  # upload ids created with x-amz-checksum-algorithm SHA256
        self.part_checksums = {}  # (upload id, part number) -> the checksum its stored body had
        super().__init__()

    def serve(self, h):
        length = int(h.headers.get("Content-Length", "0"))
        headers = list(h.headers.items())
        with self.lock:
            key = (h.command, h.path)
            self.attempts[key] = self.attempts.get(key, 0) + 1
            attempt = self.attempts[key]
        action = self.fault(Recorded(h.command, h.path, headers, b""), attempt)
        if action and action[0] == "cut":
            h.rfile.read(length // 2)
            record = Recorded(h.command, h.path, headers, b"")
            record.status = "cut"
            self.record(record)
            h.close_connection = True
            h.connection.shutdown(socket.SHUT_RDWR)
            return
        body = h.rfile.read(length) if length else b""
        record = Recorded(h.command, h.path, headers, body)
        if action and action[0] == "corrupt" and body:
            body = bytes([body[0] ^ 0xFF]) + body[1:]
        self.record(record)
        status, out_headers, out_body = self.answer(h, record, body, action)
        record.status = status
        if status >= 300 and out_body.startswith(b"<?xml"):
            code = out_body.split(b"<Code>", 1)[-1].split(b"</Code>", 1)[0]
            record.code = code.decode() if b"<Code>" in out_body else None
        self.respond(h, status, out_headers, out_body)

    def checksum_problem(self, record, body):
        """S3's flexible checksum: None, or the error answer S3 gives."""
        checksum = record.header("x-amz-checksum-sha256")
        if checksum is None:
            return None
        try:
            valid = len(base64.b64decode(checksum, validate=True)) == 32
        except ValueError:
            valid = False
        if not valid:
            return error_answer("InvalidRequest", "Value for x-amz-checksum-sha256 header is invalid.", 400)
        if base64.b64encode(hashlib.sha256(body).digest()).decode() != checksum:
            return error_answer("BadDigest", "The SHA256 you specified did not match the calculated checksum.", 400)
        return None

    def completion_problem(self, record):
        """A Complete of a SHA256 upload must name each part's checksum as it was stored."""
        upload = record.query.get("uploadId")
        if upload not in self.checksum_uploads:
            return None
        parts = re.findall(rb"<Part>(.*?)</Part>", record.body, re.S)
        for part in parts:
            number = int(re.search(rb"<PartNumber>(\d+)</PartNumber>", part).group(1))
            named = re.search(rb"<ChecksumSHA256>([^<]*)</ChecksumSHA256>", part)
            if named is None:
                return error_answer("InvalidRequest", "The upload was created using a sha256 checksum. The complete "
                                    f"request must include the checksum for each part. It was missing for part {number} "
                                    "in the request.", 400)
            if self.part_checksums.get((upload, number)) != named.group(1).decode():
                return error_answer("InvalidPart", "One or more of the specified parts could not be found.", 400)
        return None

    def answer(self, h, record, body, action):
        if action and action[0] == "status":
            return error_answer(action[1], "injected by the test proxy", action[2])
        problem = self.checksum_problem(record, body)
        if problem:
            return problem
        if h.command == "POST" and "uploadId" in record.query:
            problem = self.completion_problem(record)
            if problem:
                return problem
        md5 = record.header("Content-MD5")
        if md5 is not None and base64.b64encode(hashlib.md5(body).digest()).decode() != md5:
            return error_answer("BadDigest", "The Content-MD5 you specified did not match what we received.", 400)
        sha = record.header("x-amz-content-sha256")
        if sha and len(sha) == 64 and hashlib.sha256(body).hexdigest() != sha:
            return error_answer("XAmzContentSHA256Mismatch",
                                "The provided 'x-amz-content-sha256' header does not match what was computed.", 400)
        if h.command == "DELETE" and "uploadId" in record.query:
            # s3rver 3.7.1 has no AbortMultipartUpload (405); answered as S3 documents it.
            return 204, [], b""
        conn = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=30)
        forward = {n: v for n, v in record.headers if n.lower() not in self.HOP_BY_HOP}
        forward["Content-Length"] = str(len(body))
        conn.request(h.command, h.path, body=body, headers=forward)
        response = conn.getresponse()
        data = response.read()
        headers = [(n, v) for n, v in response.getheaders() if n.lower() not in self.HOP_BY_HOP]
        headers.append(("Content-Length", response.getheader("Content-Length", "0") if h.command == "HEAD"
                        else str(len(data))))
        conn.close()
        if response.status == 200 and h.command == "POST" and "uploads" in record.query and \
                (record.header("x-amz-checksum-algorithm") or "").upper() == "SHA256":
            upload = re.search(rb"<UploadId>([^<]+)</UploadId>", data)
            if upload:
                with self.lock:
                    self.checksum_uploads.add(upload.group(1).decode())
        if response.status == 200 and h.command == "PUT" and "partNumber" in record.query:
            with self.lock:
                self.part_checksums[(record.query["uploadId"], int(record.query["partNumber"]))] = \
                    record.header("x-amz-checksum-sha256")
        return response.status, headers, data

    def matching(self, method, query=None):
        """Recorded requests of `method` whose query holds each item of `query`."""
        with self.lock:
            return [r for r in self.requests
                    if r.method == method and all(r.query.get(k) == v for k, v in (query or {}).items())]


class StandIn(LoopbackServer):
    """A stand-in for an AWS service: `handle(request)` returns (status,
    headers, body), called one request at a time; status "lost" closes the
    connection without an answer."""

    def serve(self, h):
        length = int(h.headers.get("Content-Length", "0"))
        record = Recorded(h.command, h.path, list(h.headers.items()), h.rfile.read(length) if length else b"")
        with self.lock:
            self.requests.append(record)
            status, headers, data = self.handle(record)
        record.status = status
        if status == "lost":  # done, but the answer never arrives
            h.close_connection = True
            h.connection.shutdown(socket.SHUT_RDWR)
            return
        self.respond(h, status, headers, data)


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


class Imds(StandIn):
    """IMDSv2 as EC2 serves it: a token from PUT /latest/api/token (which must
    carry X-aws-ec2-metadata-token-ttl-seconds), required on every GET (401
    without it or with one it no longer knows). Role credentials carry a new
    AccessKeyId each time they are served, valid for `lifetime` seconds.
    `token_uses`: how many GETs a token serves before it is forgotten.
    `interfaces`: the instance's network interfaces, {MAC: ENI id}, listed
    under meta-data/network/interfaces/macs/ as EC2 lists them."""

    def __init__(self, lifetime=6 * 3600, token_uses=None, role="mirrortap-test-role", lifecycle_state="InService",
                 interfaces=None):
        self.lifetime = lifetime
        self.interfaces = interfaces or {}
        # What meta-data/autoscaling/target-lifecycle-state says; None: 404, as outside a group.
        self.lifecycle_state = lifecycle_state
        self.token_uses = token_uses
        self.role = role
        self.tokens = {}
        self.issued_tokens = 0
        self.credentials_served = 0
        self.refused = 0
        super().__init__()

    def handle(self, r):
        path = urllib.parse.urlsplit(r.path).path
        if r.method == "PUT" and path == "/latest/api/token":
            ttl = r.header("X-aws-ec2-metadata-token-ttl-seconds")
            if not ttl or not ttl.isdigit() or not 1 <= int(ttl) <= 21600:
                return 400, [], b"bad ttl"
            self.issued_tokens += 1
            token = f"token-{self.issued_tokens}-" + os.urandom(8).hex()
            self.tokens[token] = 0
            return 200, [("X-aws-ec2-metadata-token-ttl-seconds", ttl)], token.encode()
        if r.method != "GET":
            return 405, [], b""
        token = r.header("X-aws-ec2-metadata-token")
        if token not in self.tokens:
            self.refused += 1
            return 401, [], b""
        self.tokens[token] += 1
        if self.token_uses is not None and self.tokens[token] >= self.token_uses:
            del self.tokens[token]
        items = {
            "/latest/meta-data/instance-id": b"i-0123456789abcdef0",
            "/latest/meta-data/placement/region": b"eu-west-3",
            "/latest/meta-data/iam/security-credentials/": self.role.encode(),
        }
        if self.lifecycle_state is not None:
            items["/latest/meta-data/autoscaling/target-lifecycle-state"] = self.lifecycle_state.encode()
        if self.interfaces:
            items["/latest/meta-data/network/interfaces/macs/"] = "\n".join(m + "/" for m in self.interfaces).encode()
            for mac, eni in self.interfaces.items():
                items[f"/latest/meta-data/network/interfaces/macs/{mac}/interface-id"] = eni.encode()
        if urllib.parse.unquote(path) in items:  # a MAC's colons may come percent-encoded
            return 200, [("Content-Type", "text/plain")], items[urllib.parse.unquote(path)]
        if path == f"/latest/meta-data/iam/security-credentials/{self.role}":
            self.credentials_served += 1
            now = time.time()
            doc = {"Code": "Success", "LastUpdated": iso(now), "Type": "AWS-HMAC",
                   "AccessKeyId": f"ASIAIMDS{self.credentials_served:08d}", "SecretAccessKey": "imds-secret",
                   "Token": f"imds-token-{self.credentials_served}", "Expiration": iso(now + self.lifetime)}
            return 200, [("Content-Type", "text/plain")], json.dumps(doc).encode()
        return 404, [], b""


class Sts(StandIn):
    """STS AssumeRoleWithWebIdentity: takes the form POST the SDKs send,
    checks the token and role, answers the documented XML."""

    def __init__(self, token, role_arn):
        self.token = token
        self.role_arn = role_arn
        self.calls = 0
        super().__init__()

    def handle(self, r):
        form = dict(urllib.parse.parse_qsl(r.body.decode(), keep_blank_values=True))
        if r.method != "POST" or form.get("Action") != "AssumeRoleWithWebIdentity" or form.get("Version") != "2011-06-15":
            return 400, [], b"<ErrorResponse><Error><Code>InvalidAction</Code></Error></ErrorResponse>"
        if form.get("WebIdentityToken") != self.token or form.get("RoleArn") != self.role_arn:
            body = (b"<ErrorResponse><Error><Type>Sender</Type><Code>InvalidIdentityToken</Code>"
                    b"<Message>token or role does not match</Message></Error><RequestId>r1</RequestId></ErrorResponse>")
            return 400, [("Content-Type", "text/xml")], body
        self.calls += 1
        body = f"""<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <SubjectFromWebIdentityToken>system:serviceaccount:capture:mirrortap</SubjectFromWebIdentityToken>
    <Credentials>
      <SessionToken>web-identity-token-{self.calls}</SessionToken>
      <SecretAccessKey>web-identity-secret</SecretAccessKey>
      <Expiration>{iso(time.time() + 3600)}</Expiration>
      <AccessKeyId>ASIAWEBID{self.calls:07d}</AccessKeyId>
    </Credentials>
    <AssumedRoleUser><Arn>{self.role_arn}/{form.get('RoleSessionName')}</Arn><AssumedRoleId>AROA:x</AssumedRoleId></AssumedRoleUser>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata><RequestId>ad4156e9-bce1-11e2-82e6-6b6efEXAMPLE</RequestId></ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>"""
        return 200, [("Content-Type", "text/xml")], body.encode()


class AutoScaling(StandIn):
    """EC2 Auto Scaling's Query API for lifecycle hooks: CompleteLifecycleAction
    and RecordLifecycleActionHeartbeat as form POSTs (Version 2011-01-01), each
    recorded; a completed action is no longer active, as in AWS.
    `fault(request, attempt)` may return (status, code) to answer an error
    instead, or ("lost",) to do the request's work and close the connection
    without an answer; `attempt` counts from 1 per Action."""

    def __init__(self, fault=None):
        self.fault = fault or (lambda request, attempt: None)
        self.attempts = {}
        self.completed = set()
        super().__init__()

    @staticmethod
    def form(r):
        return dict(urllib.parse.parse_qsl(r.body.decode(), keep_blank_values=True))

    def calls(self, action):
        with self.lock:
            return [r for r in self.requests if self.form(r).get("Action") == action]

    @staticmethod
    def error(status, code, message):
        body = (f'<ErrorResponse xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/"><Error><Type>Sender</Type>'
                f'<Code>{code}</Code><Message>{message}</Message></Error><RequestId>asg-0001</RequestId></ErrorResponse>')
        return status, [("Content-Type", "text/xml")], body.encode()

    def handle(self, r):
        form = self.form(r)
        action = form.get("Action")
        self.attempts[action] = self.attempts.get(action, 0) + 1
        injected = self.fault(r, self.attempts[action])
        if injected and injected[0] != "lost":
            return self.error(injected[0], injected[1], "injected by the test")
        if r.method != "POST" or form.get("Version") != "2011-01-01" or \
                action not in ("CompleteLifecycleAction", "RecordLifecycleActionHeartbeat"):
            return self.error(400, "InvalidAction", f"not an action this stand-in knows: {action}")
        key = (form.get("AutoScalingGroupName"), form.get("LifecycleHookName"), form.get("InstanceId"))
        if key in self.completed:
            return self.error(400, "ValidationError", f"No active Lifecycle Action found with instance ID {key[2]}")
        if action == "CompleteLifecycleAction":
            if form.get("LifecycleActionResult") not in ("CONTINUE", "ABANDON"):
                return self.error(400, "ValidationError", "LifecycleActionResult must be CONTINUE or ABANDON")
            self.completed.add(key)
        if injected:
            return "lost", [], b""
        body = (f'<{action}Response xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/"><{action}Result/>'
                f'<ResponseMetadata><RequestId>asg-ok</RequestId></ResponseMetadata></{action}Response>')
        return 200, [("Content-Type", "text/xml")], body.encode()


EC2_NS = "http://ec2.amazonaws.com/doc/2016-11-15/"


class Ec2(StandIn):
    """EC2's Query API (Version 2016-11-15) as far as mirror sessions go,
    keeping state: network interfaces (with tags, attachment, instance type),
    mirror targets, filters and sessions. Describe answers page at most
    `page_size` items (and MaxResults), with NextTokens that must come back
    as given; filters are matched as EC2 does (values OR, filters AND, `*`
    and `?` wildcards). CreateTrafficMirrorSession honours ClientToken (the
    same token and parameters give the first session back; other parameters,
    IdempotentParameterMismatch), the 3 sessions per interface, one session
    number per interface and the account's `session_quota`. Deleting an
    interface deletes its sessions, as in AWS. Errors are EC2's
    <Response><Errors><Error>. Every request's SigV4 signature is recomputed
    with botocore for the secret of `key_id`; a mismatch is answered 403
    SignatureDoesNotMatch and kept in `bad_signatures`.
    `fault(form, attempt)` may return (status, code) to answer an error
    instead; `attempt` counts from 1 per Action. `create_barrier`, when set,
    is waited at by every CreateTrafficMirrorSession before it is served."""

    FILTER_FIELDS = {"subnet-id": "subnet", "vpc-id": "vpc", "status": "status", "network-interface-id": "id",
                     "attachment.instance-id": "instance", "availability-zone": "az",
                     "requester-managed": "requester_managed", "interface-type": "interface_type"}

    def __init__(self, key_id, secret, region, page_size=2, fault=None):
        self.key_id, self.secret, self.region = key_id, secret, region
        self.page_size = page_size
        self.fault = fault or (lambda form, attempt: None)
        self.attempts = {}
        self.enis = {}        # id -> dict
        self.instances = {}   # id -> type
        self.targets = set()
        self.filters = set()
        self.sessions = {}    # id -> dict
        self.tokens = {}      # ClientToken -> (parameters, session id)
        self.next_tokens = set()
        self.session_quota = 10000
        self.denied = set()   # actions answered UnauthorizedOperation
        self.bad_signatures = []
        self.create_barrier = None
        self.barrier_broken = False
        self.deleted = {}     # id -> the session as it was, for a ClientToken seen again
        self.serial = 0
        super().__init__()

    def new_id(self, prefix):
        self.serial += 1
        return f"{prefix}-{self.serial:017x}"

    # ---- the world, as a test arranges it ----

    def add_target(self):
        with self.lock:
            t = self.new_id("tmt")
            self.targets.add(t)
            return t

    def add_filter(self):
        with self.lock:
            f = self.new_id("tmf")
            self.filters.add(f)
            return f

    def add_eni(self, tags=None, instance_type="m5.large", attached=True, subnet="subnet-0a", vpc="vpc-0a"):
        with self.lock:
            eni = self.new_id("eni")
            instance = self.new_id("i") if attached else ""
            if instance:
                self.instances[instance] = instance_type
            self.enis[eni] = {"id": eni, "instance": instance, "subnet": subnet, "vpc": vpc,
                              "status": "in-use" if attached else "available", "az": self.region + "a",
                              "requester_managed": "false", "interface_type": "interface", "tags": dict(tags or {})}
            return eni

    def remove_eni(self, eni):
        """The interface is deleted; AWS deletes its sessions with it."""
        with self.lock:
            del self.enis[eni]
            for sid in [sid for sid, s in self.sessions.items() if s["eni"] == eni]:
                del self.sessions[sid]

    def set_tags(self, eni, tags):
        with self.lock:
            self.enis[eni]["tags"] = dict(tags)

    def add_session(self, eni, target, number, vni=1, filter_id=None, tags=None):
        """A session made by someone else (Terraform, a person)."""
        with self.lock:
            sid = self.new_id("tms")
            self.sessions[sid] = {"id": sid, "eni": eni, "target": target, "filter": filter_id or "tmf-0000000000000000f",
                                  "number": number, "vni": vni, "packet_length": None, "description": "",
                                  "tags": dict(tags or {})}
            return sid

    def calls(self, action):
        with self.lock:
            return [r for r in self.requests if self.form(r).get("Action") == action]

    def sessions_on(self, eni):
        with self.lock:
            return [s for s in self.sessions.values() if s["eni"] == eni]

    # ---- the API ----

    @staticmethod
    def form(r):
        return dict(urllib.parse.parse_qsl(r.body.decode(), keep_blank_values=True))

    @staticmethod
    def error(status, code, message):
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>{code}</Code>'
                f'<Message>{xml_text(message)}</Message></Error></Errors><RequestID>ec2-err-1</RequestID></Response>')
        return status, [("Content-Type", "text/xml;charset=UTF-8")], body.encode()

    @staticmethod
    def answer(action, inner):
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<{action}Response xmlns="{EC2_NS}">'
                f'<requestId>ec2-ok-1</requestId>{inner}</{action}Response>')
        return 200, [("Content-Type", "text/xml;charset=UTF-8")], body.encode()

    def serve(self, h):
        length = int(h.headers.get("Content-Length", "0"))
        record = Recorded(h.command, h.path, list(h.headers.items()), h.rfile.read(length) if length else b"")
        barrier = self.create_barrier
        if barrier is not None and self.form(record).get("Action") == "CreateTrafficMirrorSession":
            # Outside the lock, so that every reconciler gets here; bounded.
            try:
                barrier.wait(timeout=20)
            except threading.BrokenBarrierError:
                self.barrier_broken = True
        with self.lock:
            self.requests.append(record)
            status, headers, data = self.handle(record)
        record.status = status
        self.respond(h, status, headers, data)

    def handle(self, r):
        if not self.signature_matches(r):
            return self.error(403, "SignatureDoesNotMatch", "The request signature we calculated does not match")
        form = self.form(r)
        action = form.get("Action", "")
        self.attempts[action] = self.attempts.get(action, 0) + 1
        injected = self.fault(form, self.attempts[action])
        if injected:
            return self.error(injected[0], injected[1], "injected by the test")
        if r.method != "POST" or form.get("Version") != "2016-11-15":
            return self.error(400, "InvalidAction", f"not a 2016-11-15 Query API request: {action}")
        if action in self.denied:
            return self.error(403, "UnauthorizedOperation", f"You are not authorized to perform this operation ({action}).")
        handler = getattr(self, "do_" + action, None)
        if handler is None:
            return self.error(400, "InvalidAction", f"The action {action} is not valid for this web service.")
        return handler(form)

    def signature_matches(self, r):
        problem = query_signature_problem(r, "ec2", self.key_id, self.secret, self.region, ("host", "x-amz-date", "content-type"))
        if problem:
            self.bad_signatures.append(problem)
        return problem is None

    @staticmethod
    def filters_of(form):
        filters = []
        for n in range(1, 51):
            name = form.get(f"Filter.{n}.Name")
            if name is None:
                break
            values = []
            for m in range(1, 201):
                v = form.get(f"Filter.{n}.Value.{m}")
                if v is None:
                    break
                values.append(v)
            filters.append((name, values))
        return filters

    def page(self, form, items, set_name, render, action):
        """One page of `items` (rendered by `render`), with a NextToken when more follow."""
        import fnmatch  # noqa: F401 (kept beside the matching below)
        max_results = form.get("MaxResults")
        size = self.page_size
        if max_results is not None:
            if not max_results.isdigit() or not 5 <= int(max_results) <= 1000:
                return self.error(400, "InvalidParameterValue", "MaxResults must be between 5 and 1000")
            size = min(size, int(max_results))
        start = 0
        token = form.get("NextToken")
        if token is not None:
            if token not in self.next_tokens:
                return self.error(400, "InvalidNextToken", "The token is not valid")
            start = int(token.split("-")[1])
        chunk = items[start:start + size]
        inner = f"<{set_name}>" + "".join(f"<item>{render(i)}</item>" for i in chunk) + f"</{set_name}>"
        if start + size < len(items):
            nxt = f"page-{start + size}-{os.urandom(4).hex()}"
            self.next_tokens.add(nxt)
            inner += f"<nextToken>{nxt}</nextToken>"
        return self.answer(action, inner)

    @staticmethod
    def matches(value, patterns):
        import fnmatch
        return value is not None and any(fnmatch.fnmatchcase(value, p) for p in patterns)

    def eni_matches(self, eni, name, values):
        if name.startswith("tag:"):
            return self.matches(eni["tags"].get(name[4:]), values)
        if name == "tag-key":
            return any(self.matches(k, values) for k in eni["tags"])
        return self.matches(eni[self.FILTER_FIELDS[name]], values)

    @staticmethod
    def tags_xml(tags):
        return "<tagSet>" + "".join(f"<item><key>{xml_text(k)}</key><value>{xml_text(v)}</value></item>"
                                    for k, v in tags.items()) + "</tagSet>"

    def do_DescribeNetworkInterfaces(self, form):
        filters = self.filters_of(form)
        for name, _ in filters:
            if not (name.startswith("tag:") or name == "tag-key" or name in self.FILTER_FIELDS):
                return self.error(400, "InvalidParameterValue", f"The filter '{name}' is invalid")
        items = [e for e in self.enis.values() if all(self.eni_matches(e, n, v) for n, v in filters)]

        def render(e):
            attachment = (f"<attachment><instanceId>{e['instance']}</instanceId><deviceIndex>0</deviceIndex>"
                          f"<status>attached</status></attachment>") if e["instance"] else ""
            return (f"<networkInterfaceId>{e['id']}</networkInterfaceId><subnetId>{e['subnet']}</subnetId>"
                    f"<vpcId>{e['vpc']}</vpcId><availabilityZone>{e['az']}</availabilityZone>"
                    f"<status>{e['status']}</status><privateIpAddress>10.0.0.{int(e['id'][-3:], 16) % 250}</privateIpAddress>"
                    f"<requesterManaged>false</requesterManaged><interfaceType>interface</interfaceType>"
                    f"{attachment}{self.tags_xml(e['tags'])}")
        return self.page(form, items, "networkInterfaceSet", render, "DescribeNetworkInterfaces")

    def session_xml(self, s):
        length = f"<packetLength>{s['packet_length']}</packetLength>" if s["packet_length"] else ""
        return (f"<trafficMirrorSessionId>{s['id']}</trafficMirrorSessionId>"
                f"<trafficMirrorTargetId>{s['target']}</trafficMirrorTargetId>"
                f"<trafficMirrorFilterId>{s['filter']}</trafficMirrorFilterId>"
                f"<networkInterfaceId>{s['eni']}</networkInterfaceId><ownerId>111122223333</ownerId>{length}"
                f"<sessionNumber>{s['number']}</sessionNumber><virtualNetworkId>{s['vni']}</virtualNetworkId>"
                f"<description>{xml_text(s['description'])}</description>{self.tags_xml(s['tags'])}")

    def do_DescribeTrafficMirrorSessions(self, form):
        fields = {"traffic-mirror-target-id": "target", "network-interface-id": "eni",
                  "traffic-mirror-session-id": "id", "traffic-mirror-filter-id": "filter"}
        filters = self.filters_of(form)
        for name, _ in filters:
            if name not in fields:
                return self.error(400, "InvalidParameterValue", f"The filter '{name}' is invalid")
        items = [s for s in self.sessions.values() if all(self.matches(s[fields[n]], v) for n, v in filters)]
        return self.page(form, items, "trafficMirrorSessionSet", self.session_xml, "DescribeTrafficMirrorSessions")

    def do_DescribeInstances(self, form):
        filters = self.filters_of(form)
        for name, _ in filters:
            if name != "instance-id":
                return self.error(400, "InvalidParameterValue", f"The filter '{name}' is invalid")
        items = [i for i in sorted(self.instances) if all(self.matches(i, v) for _, v in filters)]
        render = lambda i: (f"<reservationId>r-{i[2:]}</reservationId><instancesSet><item><instanceId>{i}</instanceId>"
                            f"<instanceType>{self.instances[i]}</instanceType></item></instancesSet>")
        return self.page(form, items, "reservationSet", render, "DescribeInstances")

    def describe_ids(self, form, known, param, set_name, id_name, not_found, action):
        ids = [v for k, v in sorted(form.items()) if k.startswith(param + ".")]
        for i in ids:
            if i not in known:
                return self.error(400, not_found, f"The {id_name} '{i}' does not exist.")
        inner = f"<{set_name}>" + "".join(f"<item><{id_name}>{i}</{id_name}></item>" for i in ids) + f"</{set_name}>"
        return self.answer(action, inner)

    def do_DescribeTrafficMirrorTargets(self, form):
        return self.describe_ids(form, self.targets, "TrafficMirrorTargetId", "trafficMirrorTargetSet",
                                 "trafficMirrorTargetId", "InvalidTrafficMirrorTargetId.NotFound",
                                 "DescribeTrafficMirrorTargets")

    def do_DescribeTrafficMirrorFilters(self, form):
        return self.describe_ids(form, self.filters, "TrafficMirrorFilterId", "trafficMirrorFilterSet",
                                 "trafficMirrorFilterId", "InvalidTrafficMirrorFilterId.NotFound",
                                 "DescribeTrafficMirrorFilters")

    def do_CreateTrafficMirrorSession(self, form):
        params = {k: v for k, v in form.items() if k not in ("Action", "Version", "ClientToken")}
        token = form.get("ClientToken")
        if token is not None and token in self.tokens:
            earlier, sid = self.tokens[token]
            if earlier != params:
                return self.error(400, "IdempotentParameterMismatch",
                                  "The request uses the same client token as a previous, but non-identical request.")
            s = self.sessions.get(sid) or self.deleted[sid]
            return self.answer("CreateTrafficMirrorSession",
                               f"<trafficMirrorSession>{self.session_xml(s)}</trafficMirrorSession>"
                               f"<clientToken>{xml_text(token)}</clientToken>")
        eni = self.enis.get(form.get("NetworkInterfaceId"))
        if eni is None:
            return self.error(400, "InvalidNetworkInterfaceID.NotFound",
                              f"The networkInterface ID '{form.get('NetworkInterfaceId')}' does not exist")
        if form.get("TrafficMirrorTargetId") not in self.targets:
            return self.error(400, "InvalidTrafficMirrorTargetId.NotFound", "The target does not exist.")
        if form.get("TrafficMirrorFilterId") not in self.filters:
            return self.error(400, "InvalidTrafficMirrorFilterId.NotFound", "The filter does not exist.")
        number = int(form.get("SessionNumber", "0"))
        if not 1 <= number <= 32766:
            return self.error(400, "InvalidParameterValue", "SessionNumber must be between 1 and 32766")
        on = self.sessions_on_locked(eni["id"])
        if len(on) >= 3:
            return self.error(400, "TrafficMirrorSessionsPerInterfaceLimitExceeded",
                              "The allowed number of Traffic Mirror sessions for the specified network interface has been exceeded.")
        if any(s["number"] == number for s in on):
            return self.error(400, "InvalidParameterValue", f"Session number {number} is in use on {eni['id']}")
        if len(self.sessions) >= self.session_quota:
            return self.error(400, "TrafficMirrorSessionLimitExceeded", "The session quota has been reached.")
        tags = {}
        for n in range(1, 51):
            key = form.get(f"TagSpecification.1.Tag.{n}.Key")
            if key is None:
                break
            tags[key] = form.get(f"TagSpecification.1.Tag.{n}.Value", "")
        if tags and form.get("TagSpecification.1.ResourceType") != "traffic-mirror-session":
            return self.error(400, "InvalidParameterValue", "TagSpecification's ResourceType must be traffic-mirror-session")
        sid = self.new_id("tms")
        s = {"id": sid, "eni": eni["id"], "target": form["TrafficMirrorTargetId"], "filter": form["TrafficMirrorFilterId"],
             "number": number, "vni": int(form.get("VirtualNetworkId", "0")),
             "packet_length": int(form["PacketLength"]) if "PacketLength" in form else None,
             "description": form.get("Description", ""), "tags": tags}
        self.sessions[sid] = s
        if token is not None:
            self.tokens[token] = (params, sid)
        return self.answer("CreateTrafficMirrorSession",
                           f"<trafficMirrorSession>{self.session_xml(s)}</trafficMirrorSession>"
                           f"<clientToken>{xml_text(token or '')}</clientToken>")

    def sessions_on_locked(self, eni):
        return [s for s in self.sessions.values() if s["eni"] == eni]

    def do_DeleteTrafficMirrorSession(self, form):
        sid = form.get("TrafficMirrorSessionId")
        if sid not in self.sessions:
            return self.error(400, "InvalidTrafficMirrorSessionId.NotFound", f"The session '{sid}' does not exist.")
        self.deleted[sid] = self.sessions.pop(sid)
        return self.answer("DeleteTrafficMirrorSession", f"<trafficMirrorSessionId>{sid}</trafficMirrorSessionId>")


class Ssm(StandIn):
    """Systems Manager's GetParameter over the JSON 1.1 protocol (X-Amz-Target:
    AmazonSSM.GetParameter): `parameters` maps names to values; an unknown
    name is 400 ParameterNotFound, as in AWS. Signatures are recomputed with
    botocore, as Ec2's are."""

    def __init__(self, key_id, secret, region):
        self.key_id, self.secret, self.region = key_id, secret, region
        self.parameters = {}
        self.bad_signatures = []
        super().__init__()

    @staticmethod
    def error(status, code, message):
        body = json.dumps({"__type": code, "message": message}).encode()
        return status, [("Content-Type", "application/x-amz-json-1.1")], body

    def handle(self, r):
        problem = query_signature_problem(r, "ssm", self.key_id, self.secret, self.region, ("x-amz-target", "content-type"))
        if problem:
            self.bad_signatures.append(problem)
            return self.error(400, "InvalidSignatureException", "The request signature we calculated does not match")
        if r.header("X-Amz-Target") != "AmazonSSM.GetParameter" or \
                r.header("Content-Type") != "application/x-amz-json-1.1":
            return self.error(400, "UnknownOperationException", "not GetParameter over JSON 1.1")
        name = json.loads(r.body)["Name"]
        if name not in self.parameters:
            return self.error(400, "ParameterNotFound", f"Parameter {name} not found.")
        answer = {"Parameter": {"Name": name, "Type": "String", "Value": self.parameters[name], "Version": 1,
                                "ARN": f"arn:aws:ssm:{self.region}:111122223333:parameter{name}"}}
        return 200, [("Content-Type", "application/x-amz-json-1.1")], json.dumps(answer).encode()


CW_UNITS = {"Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes", "Terabytes",
            "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count", "Bytes/Second",
            "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second", "Bits/Second",
            "Kilobits/Second", "Megabits/Second", "Gigabits/Second", "Terabits/Second", "Count/Second", "None"}


class CloudWatch(StandIn):
    """CloudWatch's Query API (Version 2010-08-01) for PutMetricData, checked
    as AWS documents it: a form POST signed for the service "monitoring"
    (recomputed with botocore; a mismatch is 403 SignatureDoesNotMatch), a
    Namespace not starting with AWS/, MetricData.member.N numbered from 1
    without gaps, at most 1000 of them, each with a MetricName, a finite
    Value, a known Unit, an ISO 8601 Timestamp and at most 30 dimensions
    (Dimensions.member.M.Name/Value, both non-empty); any other parameter is
    refused (400 InvalidParameterCombination). Accepted data land in `data`
    as dicts (namespace, name, value, unit, timestamp, dimensions).
    `fault(request, attempt)` may return (status, code) to answer that error
    instead; `attempt` counts every request from 1."""

    def __init__(self, key_id, secret, region, fault=None):
        self.key_id, self.secret, self.region = key_id, secret, region
        self.fault = fault or (lambda request, attempt: None)
        self.data = []
        self.bad_signatures = []
        self.attempt = 0
        super().__init__()

    @staticmethod
    def error(status, code, message):
        body = (f'<ErrorResponse xmlns="http://monitoring.amazonaws.com/doc/2010-08-01/"><Error><Type>Sender</Type>'
                f'<Code>{code}</Code><Message>{xml_text(message)}</Message></Error>'
                f'<RequestId>cw-0001</RequestId></ErrorResponse>')
        return status, [("Content-Type", "text/xml")], body.encode()

    @staticmethod
    def form(r):
        return dict(urllib.parse.parse_qsl(r.body.decode(), keep_blank_values=True, strict_parsing=True))

    def signature_error(self, r):
        problem = query_signature_problem(r, "monitoring", self.key_id, self.secret, self.region,
                                          ("host", "x-amz-date", "content-type"))
        if problem:
            self.bad_signatures.append(problem)
            return self.error(403, "SignatureDoesNotMatch", "The request signature we calculated does not match")
        return None

    def shape_error(self, form):
        """The data of a well-formed PutMetricData, or a string saying what is wrong."""
        import math
        import re
        if form.get("Action") != "PutMetricData" or form.get("Version") != "2010-08-01":
            return f"not PutMetricData 2010-08-01: {form.get('Action')} {form.get('Version')}"
        ns = form.get("Namespace", "")
        if not re.fullmatch(r"[A-Za-z0-9.\-_/#:]{1,255}", ns) or ns.startswith("AWS/"):
            return f"bad Namespace {ns!r}"
        seen = {"Action", "Version", "Namespace"}
        data = []
        for n in range(1, 1002):
            prefix = f"MetricData.member.{n}."
            if prefix + "MetricName" not in form:
                break
            if n > 1000:
                return "more than 1000 MetricData members"
            item = {"namespace": ns, "name": form[prefix + "MetricName"], "dimensions": {}}
            seen.add(prefix + "MetricName")
            try:
                item["value"] = float(form[prefix + "Value"])
            except (KeyError, ValueError):
                return f"member {n}: no numeric Value"
            if not math.isfinite(item["value"]):
                return f"member {n}: Value not finite"
            seen.add(prefix + "Value")
            item["unit"] = form.get(prefix + "Unit", "None")
            if item["unit"] not in CW_UNITS:
                return f"member {n}: unknown Unit {item['unit']!r}"
            seen.add(prefix + "Unit")
            item["timestamp"] = form.get(prefix + "Timestamp")
            if item["timestamp"] is not None:
                if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", item["timestamp"]):
                    return f"member {n}: Timestamp {item['timestamp']!r} is not ISO 8601 UTC"
                seen.add(prefix + "Timestamp")
            for m in range(1, 32):
                dim = f"{prefix}Dimensions.member.{m}."
                if dim + "Name" not in form:
                    break
                if m > 30:
                    return f"member {n}: more than 30 dimensions"
                name, value = form[dim + "Name"], form.get(dim + "Value", "")
                if not name or not value or name in item["dimensions"]:
                    return f"member {n}: dimension {m} empty or repeated"
                item["dimensions"][name] = value
                seen.update({dim + "Name", dim + "Value"})
            data.append(item)
        if not data:
            return "no MetricData"
        unknown = set(form) - seen
        if unknown:
            return f"parameters PutMetricData does not take: {sorted(unknown)}"
        return data

    def handle(self, r):
        self.attempt += 1
        injected = self.fault(r, self.attempt)
        if injected:
            return self.error(injected[0], injected[1], "injected by the test")
        refused = self.signature_error(r)
        if refused:
            return refused
        if r.method != "POST" or not (r.header("Content-Type") or "").startswith("application/x-www-form-urlencoded"):
            return self.error(400, "InvalidAction", "not a form POST")
        try:
            data = self.shape_error(self.form(r))
        except ValueError as e:
            data = f"malformed form: {e}"
        if isinstance(data, str):
            return self.error(400, "InvalidParameterCombination", data)
        self.data.extend(data)
        body = ('<PutMetricDataResponse xmlns="http://monitoring.amazonaws.com/doc/2010-08-01/">'
                '<ResponseMetadata><RequestId>cw-ok</RequestId></ResponseMetadata></PutMetricDataResponse>')
        return 200, [("Content-Type", "text/xml")], body.encode()


def xml_text(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def query_signature_problem(r, service, key_id, secret, region, required):
    """None when the request carries a SigV4 Authorization for `service`,
    `key_id` and `region`, signing the `required` headers (and the session
    token when one came), whose signature botocore computes too; else what is wrong."""
    import re
    m = re.match(rf"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{{8}})/([^/]+)/{service}/aws4_request, "
                 r"SignedHeaders=([a-z0-9;_-]+), Signature=([0-9a-f]{64})$", r.header("Authorization") or "")
    try:
        assert m, f"Authorization {r.header('Authorization')!r}"
        got_key, day, got_region, signed, signature = m.groups()
        assert got_key == key_id and got_region == region, (got_key, got_region)
        assert (r.header("x-amz-date") or "").startswith(day), r.header("x-amz-date")
        signed = signed.split(";")
        for name in required:
            assert name in signed, signed
        token = r.header("x-amz-security-token")
        if token is not None:
            assert "x-amz-security-token" in signed, signed
        check_botocore_signature(r, signature, signed, key_id, secret, token, region, service)
        return None
    except AssertionError as e:
        return str(e)


def check_botocore_signature(r, signature, signed, key_id, secret, token, region, service):
    """botocore's SigV4 over what arrived (the headers named `signed`, the
    body, the path as sent) gives `signature`: S3's flavour for "s3", the
    Query APIs' otherwise."""
    from botocore.auth import S3SigV4Auth, SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    headers = {name: r.header(name) for name in signed}
    request = AWSRequest(method=r.method, url=f"http://{r.header('Host')}{r.path}", headers=headers, data=r.body)
    request.context["timestamp"] = r.header("x-amz-date")
    auth = (S3SigV4Auth if service == "s3" else SigV4Auth)(Credentials(key_id, secret, token), service, region)
    canonical = auth.canonical_request(request)
    expected = auth.signature(auth.string_to_sign(request, canonical), request)
    assert signature == expected, f"{r}: signature {signature} != botocore's {expected}\n{canonical}"


def clean_env(**extra):
    """The environment without any AWS setting of the machine's, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({k: v for k, v in extra.items() if v is not None})
    return env


def driver(args, env, timeout=120):
    """Runs cloud_driver; returns (exit code, the JSON lines it printed)."""
    p = subprocess.run([DRIVER] + args, env=env, capture_output=True, text=True, timeout=timeout)
    lines = [json.loads(line) for line in p.stdout.splitlines() if line.strip()]
    if p.stderr.strip():
        print(p.stderr.strip())
    return p.returncode, lines


def aws(endpoint, *args, env=None):
    """The real aws CLI against `endpoint`, as S3RVER; returns stdout."""
    e = clean_env(AWS_ACCESS_KEY_ID=S3RVER_KEY, AWS_SECRET_ACCESS_KEY=S3RVER_SECRET, AWS_DEFAULT_REGION="us-east-1",
                  AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null", AWS_EC2_METADATA_DISABLED="true")
    if os.environ.get("AWS_CA_BUNDLE"):
        e["AWS_CA_BUNDLE"] = os.environ["AWS_CA_BUNDLE"]
    e.update(env or {})
    p = subprocess.run(["aws", "--endpoint-url", endpoint, "--output", "json"] + list(args), env=e,
                       capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        raise AssertionError(f"aws {' '.join(args)} failed ({p.returncode}): {p.stderr.strip()}")
    return p.stdout
