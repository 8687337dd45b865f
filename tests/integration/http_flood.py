"""Loads on the collector's HTTP port, shared by the integration tests and bench/health_flood.py:
many clients scraping /metrics at once, many that ask for it and never read the answer, and the
load balancer's health check in the middle of them. Loopback only; every loop is bounded and
stops by itself."""
import os
import socket
import subprocess
import threading
import time

REQUEST = b"GET /metrics HTTP/1.1\r\nHost: flood\r\nConnection: close\r\n\r\n"


def sanitized(binary):
    """Whether `binary` runs under AddressSanitizer or ThreadSanitizer: its RSS then follows the
    runtime's quarantine and shadow memory, not our allocations, and is not judged."""
    with open(binary, "rb") as f:
        data = f.read()
    return b"__asan_init" in data or b"__tsan_init" in data


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def health_check(port, path="/healthz", hang_guard_s=10):
    """(HTTP status, seconds) of one check as a load balancer makes it, with curl; status 0 when no
    answer came within `hang_guard_s`, which bounds the run, not the latency asked for."""
    out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{time_total}",
                          "--max-time", str(hang_guard_s), f"http://127.0.0.1:{port}{path}"],
                         capture_output=True, text=True, timeout=hang_guard_s + 10)
    code, seconds = (out.stdout.split() + ["0", "0"])[:2]
    return int(code), float(seconds)


def scrape_once(port, timeout_s=30):
    """One GET /metrics on a fresh connection, read to the end: the page, or a string saying
    why the answer was not a whole 200 page."""
    chunks = []
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as s:
            s.sendall(REQUEST)
            while True:
                b = s.recv(1 << 20)
                if not b:
                    break
                chunks.append(b)
    except OSError as e:
        return f"scrape failed: {e}"
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    if not lines[0].startswith("HTTP/1.1 200"):
        return f"scrape answered {lines[0]!r}"
    length = [int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length:")]
    if length != [len(body)]:
        return f"scrape cut short: {len(body)} bytes of {length}"
    return body


class Scrapers:
    """`count` clients scraping /metrics together every `every_s` seconds (as Prometheus servers
    sharing a scrape interval would; 0: over and over) until the context ends or `max_seconds`
    pass; each scrape on a connection of its own."""

    def __init__(self, port, count, every_s=1.0, max_seconds=120):
        self.port, self.count, self.every_s = port, count, every_s
        self.started = time.monotonic()
        self.deadline = self.started + max_seconds
        self.stopping = threading.Event()
        self.barrier = threading.Barrier(count)
        self.lock = threading.Lock()
        self.pages, self.failures, self.page = 0, [], None
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(count)]

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        for t in self.threads:
            t.join(timeout=60)

    def _run(self):
        try:
            self.barrier.wait(timeout=30)
        except threading.BrokenBarrierError:
            pass
        rounds = 0
        while not self.stopping.is_set() and time.monotonic() < self.deadline:
            page = scrape_once(self.port)
            with self.lock:
                if isinstance(page, bytes):
                    self.pages += 1
                    self.page = page
                else:
                    self.failures.append(page)
            rounds += 1
            # Every client's next round starts at the same moment.
            self.stopping.wait(max(0.0, self.started + rounds * self.every_s - time.monotonic()))


class Background:
    """A daemon thread running self._run() from entering the context until _run returns or, on
    leaving, sees `stopping` set; _run must look at it and end by itself (every loop bounded)."""

    def __init__(self):
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        self.thread.join(timeout=60)


class NonReaders(Background):
    """`count` connections opened at `per_second`, each asking for /metrics (every fourth says
    nothing at all) with a receive buffer of 4 KiB, and never reading; all held open until the
    context ends, so only the server can free what they cost it."""

    def __init__(self, port, count, per_second=500):
        super().__init__()
        self.port, self.count, self.per_second = port, count, per_second
        self.sockets = []
        self.asked = 0
        self.done = threading.Event()

    def __exit__(self, *exc):
        super().__exit__(*exc)
        for s in self.sockets:
            s.close()

    def opening(self):
        return not self.done.is_set()

    def _run(self):
        started = time.monotonic()
        try:
            for i in range(self.count):  # bounded: count connections, or until the context ends
                if self.stopping.is_set():
                    break
                # Paced: the i-th no sooner than i / per_second seconds in.
                ahead = started + i / self.per_second - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                s.settimeout(5)
                self.sockets.append(s)
                try:
                    s.connect(("127.0.0.1", self.port))
                    if i % 4:
                        s.sendall(REQUEST)
                        self.asked += 1
                except OSError:
                    pass  # closed already to make room: that is the server doing its job
        finally:
            self.done.set()
