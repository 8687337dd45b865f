"""mirrortap-find --serve's page (GET /) in a real headless browser: Debian's chromium driven
through chromedriver's W3C WebDriver HTTP API with Python's stdlib only. What the page shows is
compared with the API's JSON for the same query, and what it downloads with the bytes the command
line writes. The server and the browser use 127.0.0.1 only. Skipped (77) without chromium or
chromedriver (./dev installs them)."""
import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from urllib.parse import urlencode

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from test_find import Fleet, pcap_records, rfc3339, scratch, small_tree  # noqa: E402
from test_serve import TOKEN, Server, cli_bytes, query_string, tokens_file  # noqa: E402

SKIP = 77
# Polls are bounded by a count, not a clock: each waits POLL_PAUSE between looks.
POLL_TIMES = 600
POLL_PAUSE = 0.05


def browser_binaries():
    chromium = shutil.which("chromium")
    driver = shutil.which("chromedriver")
    if not chromium or not driver:
        print("skipped: chromium and chromedriver are needed (apt-get install chromium chromium-driver)")
        raise SystemExit(SKIP)
    return chromium, driver


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def poll(what, check):
    """check()'s first true value, looked for at most POLL_TIMES times."""
    for _ in range(POLL_TIMES):
        got = check()
        if got:
            return got
        time.sleep(POLL_PAUSE)
    raise AssertionError(f"never happened: {what}")


class Browser:
    """One chromedriver and one headless chromium session; downloads go to self.downloads."""

    def __init__(self):
        chromium, driver = browser_binaries()
        self.downloads = scratch("mirrortap-page-downloads-")
        self.port = free_port()
        self.driver = subprocess.Popen([driver, f"--port={self.port}"], stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL)
        self.base = f"http://127.0.0.1:{self.port}"
        poll("chromedriver answers", self._ready)
        options = {
            "binary": chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     f"--user-data-dir={scratch('mirrortap-page-profile-')}"],
            "prefs": {"download.default_directory": self.downloads, "download.prompt_for_download": False},
        }
        value = self._call("POST", "/session",
                           {"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": options}}})
        self.session = f"/session/{value['sessionId']}"
        # Headless chromium saves downloads only when told where (the pref alone is not always heeded).
        self._call("POST", self.session + "/chromium/send_command",
                   {"cmd": "Browser.setDownloadBehavior", "params": {"behavior": "allow",
                                                                     "downloadPath": self.downloads}})

    def _ready(self):
        try:
            return self._call("GET", "/status").get("ready")
        except (urllib.error.URLError, ConnectionError):
            return False

    def _call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=120) as res:
                return json.loads(res.read())["value"]
        except urllib.error.HTTPError as e:
            raise AssertionError(f"WebDriver {method} {path}: {e.code} {e.read()[:500]!r}") from None

    def open(self, url):
        self._call("POST", self.session + "/url", {"url": url})

    def run(self, script, *args):
        return self._call("POST", self.session + "/execute/sync", {"script": script, "args": list(args)})

    def element(self, css):
        value = self._call("POST", self.session + "/element", {"using": "css selector", "value": css})
        return next(iter(value.values()))

    def click(self, css):
        self._call("POST", self.session + f"/element/{self.element(css)}/click", {})

    def type(self, css, text):
        e = self.element(css)
        self._call("POST", self.session + f"/element/{e}/clear", {})
        self._call("POST", self.session + f"/element/{e}/value", {"text": text})

    def value(self, css):
        return self.run("return document.querySelector(arguments[0]).value", css)

    def text(self, css):
        return self.run("return document.querySelector(arguments[0]).textContent", css)

    def settled(self):
        """The page's state once its last request has ended: idle or error."""
        return poll("the page's request ends",
                    lambda: self.run("const s = document.body.dataset.state; return s === 'busy' ? null : s"))

    def sessions(self):
        """The session checkboxes: name -> checked."""
        return dict(self.run("return [...document.querySelectorAll('#sessions input')]"
                             ".map(e => [e.value, e.checked])"))

    def rows(self):
        return self.run("return [...document.querySelectorAll('#flows tbody tr')]"
                        ".map(r => [...r.cells].map(c => c.textContent))")

    def close(self):
        try:
            self._call("DELETE", self.session)
        finally:
            self.driver.terminate()
            self.driver.wait(timeout=30)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def api(server, path, token=TOKEN):
    req = urllib.request.Request(server.url(path), headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=120) as res:
        return json.loads(res.read())


def row_of(flow):
    """A flow of /api/v1/flows as the page's table shows it."""
    def text(v):
        return "" if v is None else str(v)
    return [flow["session"], flow["collector"], flow["src"], text(flow["src_port"]), flow["dst"],
            text(flow["dst_port"]), text(flow["protocol"]), str(flow["packets"]), str(flow["bytes"]),
            rfc3339(flow["first_ns"]), rfc3339(flow["last_ns"]), flow["match"]]


def grafana_time(ns):
    """${__from:date:iso}: milliseconds and Z, as the dashboard's links carry it."""
    return rfc3339(ns)[:23] + "Z"


def sign_in(browser, server, token=TOKEN):
    browser.open(server.url("/"))
    browser.type("#token", token)
    browser.click("#load")
    return browser.settled()


def download(browser, button, suffix):
    before = set(os.listdir(browser.downloads))
    browser.click(button)
    assert browser.settled() == "idle", browser.text("#error")

    def saved():
        new = [f for f in set(os.listdir(browser.downloads)) - before if f.endswith(suffix)]
        return new and not glob.glob(os.path.join(browser.downloads, "*.crdownload")) and new
    name = poll(f"a {suffix} file in the downloads", saved)[0]
    with open(os.path.join(browser.downloads, name), "rb") as f:
        return name, f.read()


# ---- tests --------------------------------------------------------------------

def the_page_loads_and_lists_the_sessions():
    """GET / without a token: the self-contained page and its headers; with the token typed in, the
    sessions of /api/v1/sessions as checkboxes."""
    with Fleet() as fleet, Server("--from", fleet.dirs[0], "--from", fleet.dirs[1],
                                          "--serve-tokens", tokens_file()) as server:
        with urllib.request.urlopen(server.url("/"), timeout=60) as res:
            html = res.read().decode()
            headers = res.headers
        assert headers["Content-Type"] == "text/html; charset=utf-8", headers
        csp = headers["Content-Security-Policy"]
        for part in ("default-src 'none'", "connect-src 'self'", "frame-ancestors 'none'", "script-src 'sha256-",
                     "style-src 'unsafe-inline'"):
            assert part in csp, csp
        assert "unsafe-inline" not in csp.split("script-src")[1].split(";")[0], csp
        assert headers["X-Content-Type-Options"] == "nosniff" and headers["Referrer-Policy"] == "no-referrer"
        # Nothing loads from elsewhere, and data never goes in as markup.
        assert "http://" not in html and "https://" not in html and " src=" not in html, "an external asset"
        assert "innerHTML" not in html and "outerHTML" not in html

        with Browser() as browser:
            assert sign_in(browser, server) == "idle", browser.text("#error")
            listed = api(server, "/api/v1/sessions")["sessions"]
            assert browser.sessions() == {s["name"]: False for s in listed} == {"db": False, "web": False}
            # The inline script ran under the policy: no CSP violation stopped it (the list came from it),
            # and the token stays in the tab, not the URL.
            assert browser.run("return location.href") == server.url("/")
            assert browser.run("return sessionStorage.getItem('mirrortap-find-token')") == TOKEN
        assert '"GET /" 200 ' in server.log(), server.log()


def a_query_shows_the_flows_of_the_api():
    """Session, window and filter picked on the page: the table is exactly /api/v1/flows's answer for the
    same query, and its flows are the conversations tshark finds in the command line's pcap of it."""
    with Fleet() as fleet, Server("--from", fleet.dirs[0], "--from", fleet.dirs[1],
                                  "--serve-tokens", tokens_file()) as server, Browser() as browser:
        a, b = fleet.marks
        assert sign_in(browser, server) == "idle", browser.text("#error")
        browser.click("#sessions input[value=db]")
        browser.type("#since", rfc3339(a))
        browser.type("#until", rfc3339(b))
        browser.type("#filter", "port 5432")
        browser.click("#show")
        assert browser.settled() == "idle", browser.text("#error")
        doc = api(server, "/api/v1/flows?" + query_string(["db"], a, b, "port 5432", limit=100))
        want = [row_of(f) for f in doc["flows"]]
        assert len(want) == 12 and doc["complete"], doc  # 6 clients x 2 directions
        assert browser.rows() == want, (browser.rows(), want)
        assert browser.text("#status").startswith("12 of 12 matching flows"), browser.text("#status")
        assert browser.text("#notes") == "" and browser.text("#error") == ""
        path = os.path.join(scratch(), "cli.pcap")
        with open(path, "wb") as f:
            f.write(cli_bytes(fleet.dirs, ["db"], a, b, "port 5432"))
        # Every flow sends in every round, so each of the window's flows has packets in it, and no other.
        t = subprocess.run(["tshark", "-r", path, "-T", "fields", "-e", "ip.src", "-e", "tcp.srcport", "-e", "ip.dst",
                            "-e", "tcp.dstport"], capture_output=True, text=True, timeout=60)
        assert t.returncode == 0, t.stderr
        seen = {tuple(line.split("\t")) for line in t.stdout.splitlines()}
        assert seen == {(r[2], r[3], r[4], r[5]) for r in browser.rows()}, seen
        # Each flow's packets are counted over the files holding the window: at least those in it.
        assert sum(int(r[7]) for r in browser.rows()) >= len(pcap_records(path)) > 0


def downloads_equal_the_cli():
    """Download pcap and Download pcapng: the saved files equal byte for byte what mirrortap-find writes
    for the same query, named after the session and the window's start."""
    with Fleet() as fleet, Server("--from", fleet.dirs[0], "--from", fleet.dirs[1],
                                  "--serve-tokens", tokens_file()) as server, Browser() as browser:
        a, b = fleet.marks
        assert sign_in(browser, server) == "idle", browser.text("#error")
        browser.click("#sessions input[value=db]")
        browser.click("#sessions input[value=web]")
        browser.type("#since", rfc3339(a))
        browser.type("#until", rfc3339(b))
        browser.type("#filter", "host 10.0.3.2")
        for button, fmt in (("#pcap", "pcap"), ("#pcapng", "pcapng")):
            name, got = download(browser, button, "." + fmt)
            want = cli_bytes(fleet.dirs, ["db", "web"], a, b, "host 10.0.3.2", fmt=fmt)
            assert got == want, f"{fmt}: {len(got)} bytes from the page, {len(want)} from the CLI"
            assert name == f"mirrortap-db+web-{rfc3339(a).replace(':', '-')}.{fmt}", name
            assert browser.text("#status") == f"saved {name} ({len(got)} bytes)", browser.text("#status")


def grafana_links_prefill_the_form():
    """The dashboard's link, ?session=<name>&since=<ISO ms Z>&until=<ISO ms Z>: the form is filled from it,
    and its query (times with milliseconds) shows the API's flows for that window."""
    with Fleet() as fleet, Server("--from", fleet.dirs[0], "--from", fleet.dirs[1],
                                  "--serve-tokens", tokens_file()) as server, Browser() as browser:
        a, b = fleet.marks
        since, until = grafana_time(a), grafana_time(b)
        assert since.endswith("Z") and len(since) == len("2026-12-07T10:00:00.000Z"), since
        assert sign_in(browser, server) == "idle", browser.text("#error")  # the token, kept for the tab
        browser.open(server.url("/?" + urlencode([("session", "web"), ("since", since), ("until", until)])))
        assert browser.settled() == "idle", browser.text("#error")
        assert (browser.value("#since"), browser.value("#until"), browser.value("#filter")) == (since, until, "")
        assert browser.sessions() == {"db": False, "web": True}, browser.sessions()
        browser.click("#show")
        assert browser.settled() == "idle", browser.text("#error")
        doc = api(server, "/api/v1/flows?" + urlencode([("session", "web"), ("since", since), ("until", until)]))
        assert doc["flows"] and browser.rows() == [row_of(f) for f in doc["flows"]], doc
        assert {r[0] for r in browser.rows()} == {"web"}
        # Both forms of a list: repeated and comma separated.
        browser.open(server.url("/?session=db,web&filter=udp"))
        assert browser.settled() == "idle" and browser.sessions() == {"db": True, "web": True}
        assert browser.value("#filter") == "udp"


def a_wrong_token_shows_401():
    """A wrong token: the page says the API's 401 and its JSON error; a filter libpcap refuses, its 400."""
    root, _ = small_tree()
    with Server("--from", root, "--serve-tokens", tokens_file()) as server, Browser() as browser:
        assert sign_in(browser, server, token="not-the-token") == "error"
        assert browser.text("#error") == "401 Unauthorized: unknown token", browser.text("#error")
        browser.click("#show")
        assert browser.settled() == "error" and browser.text("#error") == "401 Unauthorized: unknown token"
        assert browser.rows() == []
        assert sign_in(browser, server) == "idle" and browser.text("#error") == ""
        browser.type("#filter", "port nonsense")
        browser.click("#pcap")
        assert browser.settled() == "error"
        assert browser.text("#error").startswith("400 Bad Request: libpcap refuses the filter 'port nonsense'"), \
            browser.text("#error")
        assert os.listdir(browser.downloads) == []


def problems_are_shown():
    """A capture without its index and cut short: the flows say they are incomplete (complete:false), and
    the pcap download, which the server cuts, says it did not complete and saves nothing."""
    root, path = small_tree(index=False)
    os.truncate(path, os.path.getsize(path) - 30)
    with Server("--from", root, "--serve-tokens", tokens_file()) as server, Browser() as browser:
        assert sign_in(browser, server) == "idle", browser.text("#error")
        browser.click("#show")
        assert browser.settled() == "idle", browser.text("#error")
        doc = api(server, "/api/v1/flows")
        assert not doc["complete"] and doc["unindexed_files"] == 1 and doc["flows"] == [], doc
        assert browser.rows() == [] and browser.text("#status").startswith("0 of 0 matching flows")
        assert browser.text("#notes").startswith("Incomplete: 1 file without a usable index"), browser.text("#notes")
        browser.click("#pcap")
        assert browser.settled() == "error"
        assert browser.text("#error").startswith("the download did not complete"), browser.text("#error")
        assert os.listdir(browser.downloads) == []
        assert "cut after 19 packets" in server.log(), server.log()


def names_are_shown_as_text():
    """A session whose name is markup (a directory may be named anything): listed, tabled and used in the
    file name as text, never as an element; the download still the CLI's bytes."""
    name = "x<img src=y onerror=alert(1)>"
    root, _ = small_tree(session=name)
    with Server("--from", root, "--serve-tokens", tokens_file()) as server, Browser() as browser:
        assert sign_in(browser, server) == "idle", browser.text("#error")
        assert browser.sessions() == {name: False}
        browser.run("document.querySelector('#sessions input').click()")
        browser.click("#show")
        assert browser.settled() == "idle", browser.text("#error")
        rows = browser.rows()
        assert len(rows) == 20 and {r[0] for r in rows} == {name}, rows
        assert browser.run("return document.querySelectorAll('img').length") == 0
        saved, got = download(browser, "#pcap", ".pcap")
        assert saved == "mirrortap-x-img-src-y-onerror-alert-1---all.pcap", saved
        assert got == cli_bytes([root], [name])


if __name__ == "__main__":
    browser_binaries()  # skipped before any collector starts
    globals()[sys.argv[1]]()
