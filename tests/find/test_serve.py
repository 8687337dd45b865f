"""mirrortap-find --serve, the retrieval API, on loopback with real clients: curl
downloads, tcpdump and tshark read what it downloaded, and every answer is
compared with what the command line gives for the same query (the pcap byte
for byte). The captures are two real collectors' (test_find.Fleet) or
written here (test_find.small_tree). The server is always bound to 127.0.0.1."""
import hashlib
import json
import os
import socket
import subprocess
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from test_find import (FIND, Fleet, pcap_records, rfc3339, run_find, scratch, small_tree,  # noqa: E402
                       udp4_frame, write_pcap, T0_NS)

TOKEN = "s3cret-token-of-alice"
OTHER_TOKEN = "token-of-bob"


def tokens_file(entries=(("alice", TOKEN), ("bob", OTHER_TOKEN)), mode=0o600):
    """A tokens file as docs/find.md says to make it: NAME and the SHA-256 of the token (printf %s TOKEN | sha256sum)."""
    d = scratch("mirrortap-serve-")
    path = os.path.join(d, "tokens")
    with open(path, "w") as f:
        f.write("# clients of the retrieval API\n")
        for name, token in entries:
            digest = subprocess.run(f"printf %s '{token}' | sha256sum", shell=True, capture_output=True, text=True,
                                    check=True).stdout.split()[0]
            assert digest == hashlib.sha256(token.encode()).hexdigest()
            f.write(f"{name} {digest}\n")
    os.chmod(path, mode)
    return path


class Server:
    """mirrortap-find --serve on 127.0.0.1 and a port the kernel picks; its standard error kept."""

    def __init__(self, *args, env=None):
        self.proc = subprocess.Popen([FIND, "--serve", "127.0.0.1:0"] + list(args), stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True, env=env)
        self.lines = []
        self.port = None
        self.scheme = "http"
        # The first lines say where it listens (or why it will not); the rest is read on a thread.
        for line in self.proc.stderr:
            self.lines.append(line)
            if "serving on 127.0.0.1:" in line:
                self.port = int(line.split("serving on 127.0.0.1:")[1].split()[0])
                self.scheme = "https" if "(https," in line else "http"
                break
        assert self.port, f"the server did not start: {''.join(self.lines)}"
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stderr:
            self.lines.append(line)

    def url(self, path):
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"

    def log(self):
        return "".join(self.lines)

    def stop(self):
        self.proc.terminate()
        rc = self.proc.wait(timeout=30)
        self.reader.join(timeout=30)
        return rc

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.stop()


def curl(url, token=TOKEN, out=None, extra=()):
    """(HTTP status, curl's exit status, body bytes, headers text) with curl -N as an analyst runs it."""
    d = scratch("mirrortap-serve-curl-")
    body = out or os.path.join(d, "body")
    headers = os.path.join(d, "headers")
    args = ["curl", "-sS", "-N", "-o", body, "-D", headers, "-w", "%{http_code}", "--max-time", "120"]
    if token is not None:
        args += ["-H", f"Authorization: Bearer {token}"]
    p = subprocess.run(args + list(extra) + [url], capture_output=True, text=True, timeout=180)
    # A connection that failed leaves no files.
    data = open(body, "rb").read() if os.path.exists(body) else b""
    head = open(headers).read() if os.path.exists(headers) else ""
    return int(p.stdout or 0), p.returncode, data, head


def query_string(sessions=(), since=None, until=None, expression=None, **more):
    from urllib.parse import urlencode
    params = [("session", s) for s in sessions]
    if since is not None:
        params.append(("since", rfc3339(since)))
    if until is not None:
        params.append(("until", rfc3339(until)))
    if expression:
        params.append(("filter", expression))
    params += list(more.items())
    return urlencode(params)


def cli_bytes(sources, sessions=(), since=None, until=None, expression=None, fmt="pcap", extra=(), env=None):
    args = [a for s in sources for a in ("--from", s)] + [a for s in sessions for a in ("--session", s)]
    if since is not None:
        args += ["--since", rfc3339(since)]
    if until is not None:
        args += ["--until", rfc3339(until)]
    path = os.path.join(scratch(), "cli.pcap")
    run_find(*args, *extra, "-F", fmt, "-w", path, *([expression] if expression else []), env=env)
    with open(path, "rb") as f:
        return f.read()


def tcpdump_count(path):
    p = subprocess.run(["tcpdump", "-nn", "-r", path], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return len(p.stdout.splitlines())


def error_of(body):
    doc = json.loads(body)
    assert set(doc) == {"error"}, doc
    return doc["error"]


# ---- tests --------------------------------------------------------------------

def api_answers_equal_the_cli():
    """Sessions, flows and pcap over two real collectors' directories: the pcap byte for byte what
    mirrortap-find writes for the same query, in both formats; flows what the indexes hold."""
    with Fleet() as fleet, Server("--from", fleet.dirs[0], "--from", fleet.dirs[1],
                                  "--serve-tokens", tokens_file()) as server:
        status, rc, body, _ = curl(server.url("/api/v1/sessions"))
        assert status == 200 and rc == 0, body
        sessions = json.loads(body)["sessions"]
        assert [s["name"] for s in sessions] == ["db", "web"], sessions
        assert all(sorted(s["sources"]) == sorted(fleet.dirs) for s in sessions), sessions

        a, b = fleet.marks
        queries = [dict(expression="host 10.0.3.2"), dict(expression="port 5432", sessions=["db"]),
                   dict(expression="udp"), dict(expression=None), dict(expression="port 443", since=a, until=b),
                   dict(expression="tcp[tcpflags] & tcp-syn != 0", sessions=["web", "db"])]
        for q in queries:
            for fmt in ("pcap", "pcapng"):
                want = cli_bytes(fleet.dirs, fmt=fmt, **q)
                out = os.path.join(scratch(), "api." + fmt)
                status, rc, got, head = curl(server.url("/api/v1/pcap?" + query_string(format=fmt, **q)), out=out)
                assert status == 200 and rc == 0, (q, status, rc, server.log())
                assert "transfer-encoding: chunked" in head.lower(), head
                assert got == want, f"{q} {fmt}: {len(got)} bytes from the API, {len(want)} from the CLI"
                if fmt == "pcap":
                    assert tcpdump_count(out) == len(pcap_records(out)) > 0 or q["expression"] == "", q
        # tshark reads the pcapng download with each packet's interface.
        out = os.path.join(scratch(), "api.pcapng")
        curl(server.url("/api/v1/pcap?" + query_string(expression="port 5432", format="pcapng")), out=out)
        t = subprocess.run(["tshark", "-r", out, "-T", "fields", "-e", "frame.interface_name"], capture_output=True,
                           text=True, timeout=60)
        assert t.returncode == 0 and set(t.stdout.split()) == {"db@collector-0", "db@collector-1"}, t.stdout

        # Flows: every indexed flow of port 5432, summed over files, largest first; the packets they
        # count are the packets the pcap answer holds (the key decides port 5432 exactly).
        status, rc, body, _ = curl(server.url("/api/v1/flows?" + query_string(expression="port 5432")))
        assert status == 200, body
        doc = json.loads(body)
        flows = doc["flows"]
        assert doc["complete"] and doc["unindexed_files"] == 0 and doc["problems"] == 0, doc
        assert len(flows) == doc["matching_flows"] == 12, len(flows)  # 6 clients x 2 directions (one on each collector)
        assert all(f["match"] == "yes" and 5432 in (f["src_port"], f["dst_port"]) for f in flows), flows
        sizes = [f["bytes"] for f in flows]
        assert sizes == sorted(sizes, reverse=True), sizes
        pcap_path = os.path.join(scratch(), "5432.pcap")
        with open(pcap_path, "wb") as f:
            f.write(cli_bytes(fleet.dirs, expression="port 5432"))
        assert sum(f["packets"] for f in flows) == len(pcap_records(pcap_path))
        status, _, body, _ = curl(server.url("/api/v1/flows?" + query_string(expression="port 5432", limit=5)))
        top = json.loads(body)["flows"]
        assert top == flows[:5] and json.loads(body)["matching_flows"] == 12
        # Only the window's flows: none ends before since.
        status, _, body, _ = curl(server.url("/api/v1/flows?" + query_string(since=b)))
        assert status == 200 and all(f["last_ns"] >= b for f in json.loads(body)["flows"])

        # Every request logged with who, what, status and bytes.
        log = server.log()
        assert '#1 alice "GET /api/v1/sessions" 200 ' in log, log
        assert "/api/v1/pcap?filter=host+10.0.3.2&format=pcapng\" 200 " in log, log
        assert server.stop() == 0


def s3_sources_answer_as_the_cli():
    """The central setup: the API over the fleet's uploads in s3rver (and a directory beside a bucket),
    its pcap byte for byte the CLI's over the same sources."""
    from servers import BUCKET, S3rver
    from test_find import fleet_in_s3
    with Fleet() as fleet, S3rver() as s3:
        env = dict(fleet_in_s3(fleet, s3), AWS_ENDPOINT_URL_S3=s3.endpoint)
        a, b = fleet.marks
        for sources in ([f"s3://{BUCKET}/fleet/a"], [fleet.dirs[0], f"s3://{BUCKET}/fleet/b"]):
            args = [x for src in sources for x in ("--from", src)]
            with Server(*args, "--serve-tokens", tokens_file(), env=env) as server:
                status, _, body, _ = curl(server.url("/api/v1/sessions"))
                assert status == 200, body
                found = json.loads(body)["sessions"]
                assert [x["name"] for x in found] == ["db", "web"] and \
                    all(len(x["sources"]) == len(sources) for x in found), found
                for q in (dict(expression="host 10.0.3.2"), dict(expression="port 443", sessions=["web"], since=a,
                                                                 until=b)):
                    for fmt in ("pcap", "pcapng"):
                        status, rc, got, _ = curl(server.url("/api/v1/pcap?" + query_string(format=fmt, **q)))
                        assert status == 200 and rc == 0, server.log()
                        want = cli_bytes(sources, fmt=fmt, env=env, **q)
                        assert got == want and len(want) > 100, f"{sources} {q} {fmt}: {len(got)} != {len(want)}"
                status, _, body, _ = curl(server.url("/api/v1/flows?" + query_string(expression="port 5432")))
                doc = json.loads(body)
                assert status == 200 and doc["complete"] and doc["matching_flows"] == 12, doc
                status, _, body, _ = curl(server.url("/api/v1/pcap?session=nope"))
                assert status == 404 and "unknown session 'nope' (sessions: db, web)" in error_of(body)
                assert server.stop() == 0


def curl_into_a_live_capture():
    """The analyst's line: curl -N piped into a live capture from standard input (tshark -i -, what
    wireshark -k -i - reads), in both formats: every packet arrives, as tcpdump counts them."""
    root, _ = small_tree(n=200)
    with Server("--from", root, "--serve-tokens", tokens_file()) as server:
        for fmt in ("pcap", "pcapng"):
            out = subprocess.run(f"curl -sSN -H 'Authorization: Bearer {TOKEN}' '{server.url('/api/v1/pcap?format=' + fmt)}'"
                                 f" | tshark -i - -T fields -e frame.len", shell=True, capture_output=True, text=True,
                                 timeout=120)
            assert out.returncode == 0, out.stderr
            assert out.stdout.split() == ["82"] * 200, (fmt, out.stdout[:200], out.stderr)


def tokens_are_required():
    root, _ = small_tree()
    tokens = tokens_file()
    with Server("--from", root, "--serve-tokens", tokens) as server:
        for token in (None, "wrong", TOKEN + "x", ""):
            status, _, body, head = curl(server.url("/api/v1/sessions"), token=token)
            assert status == 401, (token, status, body)
            assert 'www-authenticate: bearer realm="mirrortap-find"' in head.lower(), head
            assert "token" in error_of(body)
        # Another scheme is no token either.
        status, _, _, _ = curl(server.url("/api/v1/pcap"), token=None, extra=["-u", f"alice:{TOKEN}"])
        assert status == 401
        status, _, body, _ = curl(server.url("/api/v1/sessions"), token=OTHER_TOKEN)
        assert status == 200 and json.loads(body)["sessions"][0]["name"] == "web"
        # A health check needs no token and tells nothing.
        status, _, body, _ = curl(server.url("/healthz"), token=None)
        assert status == 200 and body == b"ok\n"
        log = server.log()
        assert '- "GET /api/v1/sessions" 401 ' in log and 'bob "GET /api/v1/sessions" 200 ' in log, log
        assert TOKEN not in log and OTHER_TOKEN not in log, "a token reached the log"
    # A tokens file others can change, or none at all, and the server does not start.
    for mode, message in ((0o620, "is writable by its group"), (0o602, "is writable by anyone")):
        p = run_find("--serve", "127.0.0.1:0", "--from", root, "--serve-tokens", tokens_file(mode=mode), check=False)
        assert p.returncode == 2 and message.encode() in p.stderr and b"serving on" not in p.stderr, p.stderr
    bad = tokens_file()
    with open(bad, "a") as f:
        f.write(f"carol {TOKEN}\n")  # the token itself, not its hash
    p = run_find("--serve", "127.0.0.1:0", "--from", root, "--serve-tokens", bad, check=False)
    assert p.returncode == 2 and b"expected NAME SHA256-HEX" in p.stderr, p.stderr
    # A client named twice, and a file of comments only: refused, not served to nobody.
    for entries, message in (((("alice", TOKEN), ("alice", OTHER_TOKEN)), b"client 'alice' is named twice"),
                             ((), b"no clients")):
        p = run_find("--serve", "127.0.0.1:0", "--from", root, "--serve-tokens", tokens_file(entries), check=False)
        assert p.returncode == 2 and message in p.stderr and b"serving on" not in p.stderr, p.stderr
    p = run_find("--serve", "127.0.0.1:0", "--from", root, check=False)
    assert p.returncode == 2 and b"--serve needs --serve-tokens FILE" in p.stderr, p.stderr


def no_auth_only_on_loopback():
    """--serve-no-auth is refused for any address but loopback, before anything is bound."""
    root, _ = small_tree()
    for address in ("0.0.0.0:0", "[::]:0", "10.255.255.1:0"):
        p = run_find("--serve", address, "--serve-no-auth", "--from", root, check=False, timeout=30)
        assert p.returncode == 2, p.stderr
        assert b"--serve-no-auth only on a loopback address" in p.stderr and b"serving on" not in p.stderr, p.stderr
    with Server("--from", root, "--serve-no-auth") as server:
        status, _, body, _ = curl(server.url("/api/v1/pcap"), token=None)
        assert status == 200 and body == cli_bytes([root])
        assert 'anonymous "GET /api/v1/pcap" 200 ' in server.log(), server.log()


def limits_answer_4xx():
    root, path = small_tree(n=200)
    with Server("--from", root, "--serve-tokens", tokens_file(), "--serve-max-bytes", "2K") as server:
        # Each refusal is a status and a JSON body saying why.
        cases = [
            ("/api/v1/pcap", 413, "(this server's limit)"),
            ("/api/v1/pcap?filter=udp+port+4001", 200, None),  # a narrow query stays under the limit
            ("/api/v1/pcap?session=nope", 404, "unknown session 'nope' (sessions: web)"),
            ("/api/v1/pcap?filter=no+such+thing", 400, "libpcap refuses the filter"),
            ("/api/v1/pcap?sesion=web", 400, "unknown parameter 'sesion'"),
            ("/api/v1/pcap?format=xml", 400, "bad format"),
            ("/api/v1/pcap?filter=udp&filter=tcp", 400, "parameter 'filter' given twice"),
            ("/api/v1/pcap?since=yesterday", 400, "bad since"),
            ("/api/v1/flows?limit=0", 400, "bad limit"),
            ("/api/v1/nothing", 404, "no such endpoint"),
        ]
        for target, want, message in cases:
            status, rc, body, _ = curl(server.url(target))
            assert status == want, (target, status, body)
            if message:
                assert message in error_of(body), (target, body)
        status, _, body, head = curl(server.url("/api/v1/pcap"), extra=["-X", "POST"])
        assert status == 405 and "allow: get" in head.lower(), head
        # Headers past 8 KiB.
        status, _, _, _ = curl(server.url("/api/v1/pcap"), extra=["-H", "X-Big: " + "a" * 9000])
        assert status == 431
        assert '"GET /api/v1/pcap" 413 ' in server.log(), server.log()
        # Heads no client library sends, on a socket of our own: each is a 400 with its reason.
        auth = f"Authorization: Bearer {TOKEN}\r\n"
        for head, message in (
                ("GET /api/v1/sessions HTTP/1.1\r\nHost: x\r\n" + auth + auth, "Authorization given twice"),
                ("GET /api/v1/sessions HTTP/9.9\r\nHost: x\r\n" + auth, "not an HTTP/1 request"),
                ("GET /api/v1/sessions\r\nHost: x\r\n" + auth, "not an HTTP/1 request"),
                ("GET /api/v1/sessions HTTP/1.1\r\nHost x\r\n" + auth, "not an HTTP/1 request")):
            with socket.create_connection(("127.0.0.1", server.port), timeout=30) as c:
                c.sendall((head + "\r\n").encode())
                answer = b""
                while chunk := c.recv(65536):
                    answer += chunk
            status_line, _, rest = answer.partition(b"\r\n")
            assert status_line.startswith(b"HTTP/1.1 400 "), (head, answer)
            assert message in error_of(rest.partition(b"\r\n\r\n")[2]), (head, answer)
        # The server is whole after them.
        status, _, body, _ = curl(server.url("/api/v1/sessions"))
        assert status == 200, (status, body)


def idle_connections_do_not_lock_out_health_checks():
    """70 connections that never send a request (more than the 64 served at once): a health check and a
    query are still answered, the longest-waiting idle connection closed to make room."""
    root, _ = small_tree()
    with Server("--from", root, "--serve-tokens", tokens_file()) as server:
        idle = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(70)]
        status, _, body, _ = curl(server.url("/healthz"), token=None)
        assert status == 200 and body == b"ok\n"
        status, _, body, _ = curl(server.url("/api/v1/pcap"))
        assert status == 200 and body == cli_bytes([root])
        # The oldest idle connection was closed by the server: it reads the end of the stream.
        idle[0].settimeout(30)
        assert idle[0].recv(1) == b""
        for s in idle:
            s.close()
        assert server.stop() == 0


def big_tree():
    """One session, a pcap of 16 MiB: more than the socket buffers between a server and a client that stops reading."""
    root = scratch()
    os.makedirs(os.path.join(root, "web"))
    path = os.path.join(root, "web", "web-20261201T100000Z-000001.pcap")
    frame = udp4_frame("10.0.3.1", "10.0.3.2", 4000, 53, bytes(1400))
    write_pcap(path, [(T0_NS + i * 1000, frame) for i in range(12000)])
    return root


def stalled_client(server):
    """A client that asks for the whole pcap, reads the answer's first bytes (so its query runs) and then
    reads no more; its receive buffer kept small so that the server's writes soon wait on it."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", server.port))
    s.sendall(f"GET /api/v1/pcap HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\r\n".encode())
    first = s.recv(64)
    assert first.startswith(b"HTTP/1.1 200 OK"), first
    return s


def a_client_that_stops_reading_does_not_stall_another():
    root = big_tree()
    with Server("--from", root, "--serve-tokens", tokens_file(), "--serve-max-queries", "2") as server:
        stuck = stalled_client(server)
        second = stalled_client(server)
        # Both query slots held by clients that do not read: a third query is told to come back, and
        # health checks are answered.
        status, _, body, head = curl(server.url("/api/v1/sessions"))
        assert status == 429 and "retry-after: 1" in head.lower() and "queries at once" in error_of(body), body
        status, _, body, _ = curl(server.url("/healthz"), token=None)
        assert status == 200 and body == b"ok\n"
        # One of them goes away: its query ends at its next write and frees its slot.
        second.close()
        for _ in range(600):  # bounded: each try is a request
            status, _, body, _ = curl(server.url("/api/v1/sessions"))
            if status == 200:
                break
        assert status == 200, body
        # While the other still reads nothing, another client gets its whole answer, byte for byte the CLI's.
        out = os.path.join(scratch(), "other.pcap")
        status, rc, got, _ = curl(server.url("/api/v1/pcap?filter=udp"), token=OTHER_TOKEN, out=out)
        assert status == 200 and rc == 0 and got == cli_bytes([root], expression="udp"), (status, rc, len(got))
        assert tcpdump_count(out) == 12000
        stuck.close()
        assert server.stop() == 0
        assert 'bob "GET /api/v1/pcap?filter=udp" 200 ' in server.log(), server.log()


def the_time_limit_frees_a_stalled_query():
    """--serve-max-seconds bounds a query however its client reads: with the only query slot held by a
    client that reads nothing, the slot comes free once the limit passes (no wall-clock threshold here:
    the test only waits, boundedly, for it to happen) and the log says why the stream was cut."""
    root = big_tree()
    with Server("--from", root, "--serve-tokens", tokens_file(), "--serve-max-queries", "1",
                "--serve-max-seconds", "1") as server:
        stuck = stalled_client(server)
        status, _, body, _ = curl(server.url("/api/v1/sessions"))
        assert status == 429, body
        for _ in range(3000):  # bounded: each try is a request
            status, _, body, _ = curl(server.url("/api/v1/sessions"))
            if status != 429:
                break
        assert status == 200, body
        stuck.close()
        assert server.stop() == 0
        assert "the query ran past its time limit while the client was not reading" in server.log(), server.log()


def certificate(name="127.0.0.1"):
    """A self-signed certificate for 127.0.0.1 and its key, made by the openssl command, the key 0600."""
    d = scratch("mirrortap-serve-tls-")
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", key, "-out", cert, "-days", "2", "-subj", f"/CN={name}",
                    "-addext", f"subjectAltName=IP:{name}"], check=True, capture_output=True, timeout=60)
    os.chmod(key, 0o600)
    return cert, key


def tls_serves_the_same_bytes():
    """--serve-tls-cert/--serve-tls-key: HTTPS that curl verifies against the certificate; a 17 MB pcap
    (the server's writes wait on the client) byte for byte the CLI's; plain HTTP and an unverified
    certificate get nothing."""
    root = big_tree()
    cert, key = certificate()
    with Server("--from", root, "--serve-tokens", tokens_file(), "--serve-tls-cert", cert, "--serve-tls-key", key) \
            as server:
        assert server.scheme == "https", server.log()
        status, rc, got, head = curl(server.url("/api/v1/pcap"), extra=["--cacert", cert])
        assert status == 200 and rc == 0 and got == cli_bytes([root]), (status, rc, len(got))
        status, _, body, _ = curl(server.url("/api/v1/sessions"), token="wrong", extra=["--cacert", cert])
        assert status == 401, body
        status, rc, _, _ = curl(server.url("/api/v1/sessions"))  # the certificate is not trusted
        assert rc == 60 and status == 0, rc
        status, rc, _, _ = curl(f"http://127.0.0.1:{server.port}/api/v1/sessions")
        assert rc != 0 and status == 0, rc
        status, _, body, _ = curl(server.url("/healthz"), token=None, extra=["--cacert", cert])
        assert status == 200 and body == b"ok\n"
        assert server.stop() == 0
    other_cert, _ = certificate()
    for args, message in ((["--serve-tls-cert", cert], b"--serve-tls-cert and --serve-tls-key go together"),
                          (["--serve-tls-cert", other_cert, "--serve-tls-key", key], b"key values mismatch")):
        p = run_find("--serve", "127.0.0.1:0", "--from", root, "--serve-tokens", tokens_file(), *args, check=False)
        assert p.returncode == 2 and message in p.stderr and b"serving on" not in p.stderr, p.stderr


def problems_cut_the_stream():
    """A capture that cannot be read whole: the stream ends without its last chunk (curl fails, exit 18)
    unless partial_ok=true, as the CLI exits 1 unless --partial-ok."""
    root, path = small_tree(index=False)
    os.truncate(path, os.path.getsize(path) - 30)
    with Server("--from", root, "--serve-tokens", tokens_file()) as server:
        status, rc, got, _ = curl(server.url("/api/v1/pcap"))
        assert status == 200 and rc == 18, (status, rc)
        status, rc, got, _ = curl(server.url("/api/v1/pcap?partial_ok=true"))
        assert status == 200 and rc == 0 and got == cli_bytes([root], extra=["--partial-ok"])
        assert "the file ends inside a record" in server.log() and "cut after 19 packets" in server.log(), \
            server.log()


if __name__ == "__main__":
    globals()[sys.argv[1]]()
