#!/usr/bin/env python3
"""Check the bundled Grafana dashboard and Prometheus files against the metric contract.

Static (no --collector): the dashboard JSON and the Prometheus YAML are well formed, every metric
and label their PromQL queries is in the contract table of docs/interfaces.md, every contract
metric has a panel, and promtool (Debian's `prometheus` package) accepts the rules and the
config and passes the rule unit tests beside this script.

Live (--collector BIN): start the real collector on loopback, send VXLAN datagrams (good ones on
two VNIs and malformed ones), scrape /metrics with curl, and check that every metric and label
the dashboard and the rules query is really exported.

The names come from parsing the files; nothing here keeps its own list of metrics.
Needs python3-yaml for the YAML files (PyYAML) and curl for the live part.
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SKIP = 77  # ctest SKIP_RETURN_CODE

DASHBOARD = "deploy/grafana/mirrortap.json"
RULES = "deploy/prometheus/mirrortap-rules.yml"
PROM_CONFIG = "deploy/prometheus/prometheus.yml"
CONTRACT = "docs/interfaces.md"
RULE_TESTS = "tests/metrics_deploy/mirrortap-rules.test.yml"
TERRAFORM_VARIABLES = "deploy/terraform/modules/mirrortap/variables.tf"

HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
# Labels Prometheus itself puts on every scraped series, and the bucket label of histograms.
SCRAPE_LABELS = {"instance", "job"}
BUCKET_LABEL = "le"


class Failures:
    def __init__(self):
        self.items = []

    def add(self, where, what):
        self.items.append(f"{where}: {what}")

    def check(self, ok, where, what):
        if not ok:
            self.add(where, what)
        return ok


def load_yaml(path):
    try:
        import yaml
    except ImportError:
        sys.exit(f"{path}: cannot parse YAML: PyYAML is missing (Debian: apt-get install python3-yaml)")
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


# ----------------------------------------------------------------------------- PromQL scanning

class Query:
    """Metric names and label names one PromQL expression refers to."""

    def __init__(self, where, expr):
        self.where = where
        self.expr = expr
        self.metrics = set()    # mirrortap_* series names
        self.recorded = set()   # level:metric:operation names (recording rules)
        self.labels = set()     # label names in matchers and in by/without/on/ignoring/group_*
        self.matchers = []      # (metric or "", label, op, value)
        self._scan()

    def _scan(self):
        s = self.expr
        # Grafana's label_values(selector, label): the label is a label reference.
        for m in re.finditer(r"label_values\(\s*(.*?)\s*,\s*([A-Za-z_]\w*)\s*\)", s):
            self.labels.add(m.group(2))
        strings = []

        def keep_string(m):
            strings.append(m.group(0))
            return f'"\x00{len(strings) - 1}\x00"'

        s = re.sub(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`', keep_string, s)
        s = re.sub(r"\[[^\]]*\]", "[]", s)          # range and subquery durations
        s = re.sub(r"\$\{?\w+\}?", "0", s)           # Grafana variables outside strings

        def unquote(token):
            i = int(token.strip('"\x00'))
            return strings[i][1:-1]

        for m in re.finditer(r"(?<![\w:.])([A-Za-z_:][\w:]*)?\s*\{([^}]*)\}", s):
            metric = m.group(1) or ""
            for lm in re.finditer(r'([A-Za-z_]\w*)\s*(=~|!~|!=|=)\s*("\x00\d+\x00")', m.group(2)):
                self.labels.add(lm.group(1))
                self.matchers.append((metric, lm.group(1), lm.group(2), unquote(lm.group(3))))
        for m in re.finditer(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)", s):
            self.labels.update(x.strip() for x in m.group(1).split(",") if x.strip())
        without_braces = re.sub(r"\{[^}]*\}", "{}", s)
        without_groupings = re.sub(
            r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", without_braces)
        for m in re.finditer(r"(?<![\w:.])([A-Za-z_:][\w:]*)", without_groupings):
            name = m.group(1)
            if ":" in name:
                if "mirrortap" in name:
                    self.recorded.add(name)
            elif name.startswith("mirrortap_"):
                self.metrics.add(name)


def dashboard_queries(dash):
    """Every PromQL expression in panel targets (rows' nested panels too) and variable queries."""
    queries = []

    def walk(node, where):
        if isinstance(node, dict):
            title = node.get("title")
            if isinstance(title, str) and "type" in node:
                where = f"panel '{title}'"
            for key, value in node.items():
                if key == "expr" and isinstance(value, str):
                    queries.append(Query(f"{DASHBOARD} {where} ({node.get('refId', '?')})", value))
                else:
                    walk(value, where)
        elif isinstance(node, list):
            for item in node:
                walk(item, where)

    walk(dash.get("panels", []), "dashboard")
    for var in dash.get("templating", {}).get("list", []):
        if var.get("type") == "query":
            q = var.get("query")
            q = q.get("query") if isinstance(q, dict) else q
            queries.append(Query(f"{DASHBOARD} variable '{var.get('name')}'", q or ""))
    return queries


def rule_queries(rules):
    out = []
    for group in rules.get("groups") or []:
        for rule in group.get("rules") or []:
            name = rule.get("alert") or rule.get("record")
            out.append(Query(f"{RULES} {group.get('name')}/{name}", str(rule.get("expr", ""))))
    return out


# ----------------------------------------------------------------------------- the contract

def read_contract(path):
    """{metric: (type, set of label names)} from the metrics table of docs/interfaces.md."""
    contract = {}
    in_metrics = False
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            in_metrics = "metrics" in line.lower()
            continue
        if not in_metrics:
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not re.fullmatch(r"mirrortap_\w+", cells[0]):
            continue
        mtype = cells[1].split()[0]
        labels = re.sub(r"\([^)]*\)", "", cells[2])
        contract[cells[0]] = (mtype, {x.strip() for x in labels.split(",") if x.strip()})
    return contract


def family_of(name, types):
    """The metric family a series name belongs to, given {family: type}."""
    if name in types:
        return name
    for suffix in HISTOGRAM_SUFFIXES:
        base = name[: -len(suffix)]
        if name.endswith(suffix) and types.get(base) in ("histogram", "summary"):
            return base
    return None


# ----------------------------------------------------------------------------- static checks

def check_packet_links(panels, variables, fail):
    """Issue 22: from a spike to its packets. Every panel that draws a series per session links
    each series to mirrortap-find --serve's page with that session and the panel's time range, and
    every such panel links the whole range; where the page answers is a dashboard variable."""
    where = DASHBOARD
    base = variables.get("packets_url", {})
    fail.check(base.get("type") == "textbox" and base.get("query", "").startswith("http"),
               where, "needs a textbox variable 'packets_url' (where mirrortap-find --serve answers)")
    window = "since=${__from:date:iso}&until=${__to:date:iso}"
    # A series per session: its legend names the session.
    per_session = [p for p in panels if p.get("type") != "row" and any(
        "{{session}}" in t.get("legendFormat", "") for t in p.get("targets", []))]
    fail.check(per_session, where, "no panel draws a series per session")
    for p in per_session:
        pw = f"{where} panel '{p.get('title')}'"
        series = [l.get("url", "") for l in p.get("fieldConfig", {}).get("defaults", {}).get("links", [])]
        fail.check(any(u.startswith("${packets_url}/?") and "session=${__field.labels.session:percentencode}" in u
                       and window in u for u in series),
                   pw, "each session's series must link to ${packets_url}/?session=...&" + window)
        whole = [l.get("url", "") for l in p.get("links", [])]
        fail.check(any(u.startswith("${packets_url}/?") and window in u for u in whole),
                   pw, "the panel must link the packets of its whole time range")


def check_dashboard(dash, fail):
    where = DASHBOARD
    fail.check(isinstance(dash.get("schemaVersion"), int) and dash["schemaVersion"] >= 36,
               where, "schemaVersion must be 36 or later")
    fail.check(dash.get("uid") and dash.get("title"), where, "needs a uid and a title")
    variables = {v.get("name"): v for v in dash.get("templating", {}).get("list", [])}
    ds = variables.get("datasource", {})
    fail.check(ds.get("type") == "datasource" and ds.get("query") == "prometheus",
               where, "needs a 'datasource' variable of type datasource, query prometheus")
    inst = variables.get("instance", {})
    q = inst.get("query")
    q = q.get("query") if isinstance(q, dict) else q
    fail.check(inst.get("type") == "query" and inst.get("multi") and inst.get("includeAll")
               and re.fullmatch(r"label_values\(\s*mirrortap_build_info\s*,\s*instance\s*\)", q or ""),
               where, "needs a multi/all 'instance' variable from label_values(mirrortap_build_info, instance)")
    fail.check(inst.get("datasource", {}).get("uid") in ("${datasource}", "$datasource"),
               where, "the instance variable must query the chosen ${datasource}")

    top = dash.get("panels", [])
    flat = []
    for p in top:
        flat.append(p)
        flat.extend(p.get("panels", []) if p.get("type") == "row" else [])
    ids = [p.get("id") for p in flat]
    fail.check(len(ids) == len(set(ids)) and None not in ids, where, f"panel ids must be unique: {ids}")
    for p in flat:
        pw = f"{where} panel '{p.get('title')}'"
        gp = p.get("gridPos", {})
        fail.check(all(isinstance(gp.get(k), int) for k in "xywh") and gp["w"] >= 1
                   and gp["x"] >= 0 and gp["x"] + gp["w"] <= 24, pw, f"bad gridPos {gp}")
        fail.check(p.get("datasource", {}).get("uid") in ("${datasource}", "$datasource"),
                   pw, "datasource must be the ${datasource} variable, so the dashboard imports as is")
        if p.get("type") == "row":
            if not p.get("collapsed"):
                fail.check(not p.get("panels"), pw, "an expanded row keeps its panels after it, not inside")
            continue
        targets = p.get("targets") or []
        fail.check(targets, pw, "has no queries")
        refs = [t.get("refId") for t in targets]
        fail.check(len(refs) == len(set(refs)) and None not in refs, pw, f"refIds must be unique: {refs}")
        for t in targets:
            fail.check(t.get("expr", "").strip(), pw, f"query {t.get('refId')} is empty")
            fail.check(t.get("datasource", {}).get("uid") in ("${datasource}", "$datasource", None),
                       pw, f"query {t.get('refId')} must use the ${{datasource}} variable")
    # Panels of the top level must not overlap (Grafana would silently move them).
    cells = {}
    for p in top:
        gp = p.get("gridPos", {})
        if not all(isinstance(gp.get(k), int) for k in "xywh"):
            continue
        for x in range(gp["x"], gp["x"] + gp["w"]):
            for y in range(gp["y"], gp["y"] + gp["h"]):
                other = cells.setdefault((x, y), p.get("title"))
                if other != p.get("title"):
                    fail.add(where, f"panels '{other}' and '{p.get('title')}' overlap at x={x} y={y}")
                    break
            else:
                continue
            break

    check_packet_links(flat, variables, fail)

    repeated = [i for i, p in enumerate(top) if p.get("type") == "row" and p.get("repeat") == "instance"]
    if fail.check(repeated, where, "needs a row repeated per instance (repeat: instance)"):
        i = repeated[0]
        row = top[i]
        members = row.get("panels") if row.get("collapsed") else []
        if not row.get("collapsed"):
            for p in top[i + 1:]:
                if p.get("type") == "row":
                    break
                members.append(p)
        fail.check(members, where, "the per-instance row has no panels")
        for p in members:
            exprs = [t.get("expr", "") for t in p.get("targets", [])]
            fail.check(exprs and all("$instance" in e for e in exprs), f"{where} panel '{p.get('title')}'",
                       "panels of the per-instance row must select instance=~\"$instance\"")


def check_rules(rules, fail):
    groups = rules.get("groups") if isinstance(rules, dict) else None
    if not fail.check(isinstance(groups, list) and groups, RULES, "needs a non-empty 'groups' list"):
        return
    names = [g.get("name") for g in groups]
    fail.check(len(names) == len(set(names)) and None not in names, RULES, f"group names must be unique: {names}")
    alerts = 0
    for g in groups:
        for r in g.get("rules") or []:
            kind = [k for k in ("alert", "record") if k in r]
            rw = f"{RULES} {g.get('name')}/{r.get('alert') or r.get('record')}"
            if not fail.check(len(kind) == 1, rw, "a rule has exactly one of alert/record"):
                continue
            fail.check(str(r.get("expr", "")).strip(), rw, "empty expr")
            if "for" in r:
                fail.check(re.fullmatch(r"(\d+(ms|s|m|h|d|w|y))+", str(r["for"])), rw, f"bad 'for': {r['for']}")
            if kind == ["record"]:
                fail.check(re.fullmatch(r"[a-zA-Z_:][\w:]*", r["record"]) and ":" in r["record"], rw,
                           "recording rule names follow level:metric:operations")
                continue
            alerts += 1
            labels = r.get("labels") or {}
            fail.check(labels.get("severity") in ("critical", "warning", "info"), rw,
                       "needs a severity label (critical, warning or info)")
            ann = r.get("annotations") or {}
            for key in ("summary", "description"):
                fail.check(str(ann.get(key, "")).strip(), rw, f"needs a {key} annotation")
    fail.check(alerts, RULES, "has no alerts")


def duration_seconds(text):
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
    return sum(int(n) * units[u] for n, u in re.findall(r"(\d+)(ms|s|m|h|d|w|y)", str(text)))


def check_target_down_waits_out_grace(rules, variables_tf, fail):
    """A collector cannot be scraped while it boots; the autoscaling group gives it the
    health-check grace period for that. MirrortapTargetDown must not fire sooner."""
    m = re.search(r'variable "health_check_grace_seconds"\s*{[^}]*?default\s*=\s*(\d+)', variables_tf, re.S)
    if not fail.check(m, TERRAFORM_VARIABLES, "no default for health_check_grace_seconds"):
        return
    grace = int(m.group(1))
    alerts = [r for g in rules.get("groups") or [] for r in g.get("rules") or [] if r.get("alert") == "MirrortapTargetDown"]
    if fail.check(len(alerts) == 1, RULES, "needs one MirrortapTargetDown alert"):
        waits = duration_seconds(alerts[0].get("for", "0s"))
        fail.check(waits >= grace, f"{RULES} MirrortapTargetDown",
                   f"for: {alerts[0].get('for')} ({waits} s) is shorter than the group's health-check grace period "
                   f"({grace} s, {TERRAFORM_VARIABLES}): it fires while a new collector boots")


def check_prom_config(cfg, fail, rules_path):
    where = PROM_CONFIG
    rule_files = cfg.get("rule_files") or []
    fail.check(any((Path(rules_path).parent / f).resolve() == Path(rules_path).resolve() for f in rule_files),
               where, f"rule_files must load {Path(rules_path).name}")
    jobs = cfg.get("scrape_configs") or []
    ec2 = [j for j in jobs if j.get("ec2_sd_configs")]
    if fail.check(ec2, where, "needs an ec2_sd_configs example"):
        job = ec2[0]
        sd = job["ec2_sd_configs"][0]
        fail.check(any(str(f.get("name", "")).startswith("tag:") for f in sd.get("filters") or []),
                   where, "the EC2 example filters instances by a tag")
        relabels = job.get("relabel_configs") or []
        fail.check(any(r.get("target_label") == "__address__" and ":9478" in str(r.get("replacement", ""))
                       for r in relabels) or sd.get("port") == 9478,
                   where, "the EC2 example scrapes the metrics port 9478 by default")
        fail.check(any("__meta_ec2_instance_id" in (r.get("source_labels") or [])
                       and not str(r.get("target_label", "")).startswith("__") for r in relabels),
                   where, "the EC2 example keeps the instance id as a label")
    fail.check(any(t.startswith(("127.0.0.1:", "localhost:", "[::1]:"))
                   for j in jobs for sc in j.get("static_configs") or [] for t in sc.get("targets") or []),
               where, "needs a static loopback example")
    return jobs


def target_labels(jobs):
    """Labels the scrape config adds to every series, on top of instance and job."""
    out = set(SCRAPE_LABELS)
    for j in jobs:
        for r in j.get("relabel_configs") or []:
            t = r.get("target_label")
            if t and not t.startswith("__"):
                out.add(t)
        for sc in j.get("static_configs") or []:
            out.update((sc.get("labels") or {}).keys())
    return out


def check_names_against_contract(queries, contract, extra_labels, recorded_defined, fail):
    types = {m: t for m, (t, _) in contract.items()}
    for q in queries:
        fam_labels = set()
        for name in sorted(q.metrics):
            fam = family_of(name, types)
            if not fail.check(fam, q.where, f"{name} is not in the metric contract ({CONTRACT})"):
                continue
            if name != fam:
                fam_labels.add(BUCKET_LABEL)
            elif types[fam] in ("histogram", "summary"):
                fail.add(q.where, f"{name} is a {types[fam]}: query its _bucket/_sum/_count series")
            fam_labels |= contract[fam][1]
        for name in sorted(q.recorded):
            fail.check(name in recorded_defined, q.where, f"{name} is not a recording rule in {RULES}")
        if q.recorded:
            continue  # recorded series carry whatever labels their rule keeps
        unknown = q.labels - fam_labels - extra_labels
        fail.check(not unknown, q.where, f"label(s) {sorted(unknown)} are on none of {sorted(q.metrics)}")


def check_job_matchers(queries, jobs, fail):
    """An alert on up{job=~"..."} must cover every job of the bundled scrape config."""
    names = [j.get("job_name") for j in jobs]
    for q in queries:
        for metric, label, op, value in q.matchers:
            if metric == "up" and label == "job" and op in ("=", "=~"):
                pattern = re.escape(value) if op == "=" else value
                missing = [n for n in names if not re.fullmatch(pattern, n or "")]
                fail.check(not missing, q.where, f'up{{job{op}"{value}"}} misses scrape job(s) {missing}')


# ----------------------------------------------------------------------------- promtool

def find_promtool(work_dir):
    """promtool from PATH, or from Debian's prometheus package unpacked into the build tree.

    Unpacking (apt-get download + dpkg-deb) rather than installing keeps the test from starting
    a Prometheus server on the machine, which the package's postinst would do."""
    found = shutil.which("promtool")
    if found:
        return found, "PATH"
    cache = Path(work_dir) / "promtool-deb"
    unpacked = cache / "usr" / "bin" / "promtool"
    if unpacked.exists():
        return str(unpacked), "unpacked Debian package (cached)"
    if not (shutil.which("apt-cache") and shutil.which("apt-get") and shutil.which("dpkg-deb")):
        return None, "no promtool and no apt to fetch Debian's prometheus package"
    policy = subprocess.run(["apt-cache", "policy", "prometheus"], capture_output=True, text=True)
    m = re.search(r"Candidate:\s*(\S+)", policy.stdout)
    if not m or m.group(1) == "(none)":
        return None, "Debian's prometheus package is not available to apt"
    cache.mkdir(parents=True, exist_ok=True)
    for old in cache.glob("prometheus_*.deb"):
        old.unlink()
    try:
        subprocess.run(["apt-get", "download", "-q", "prometheus"], cwd=cache, check=True,
                       capture_output=True, text=True, timeout=240)
        deb = next(cache.glob("prometheus_*.deb"))
        tar = subprocess.run(f"dpkg-deb --fsys-tarfile '{deb}' | tar -x -C '{cache}' ./usr/bin/promtool",
                             shell=True, capture_output=True, text=True, timeout=120)
        deb.unlink()
        if tar.returncode != 0 or not unpacked.exists():
            return None, f"could not unpack promtool: {tar.stderr.strip()}"
    except (subprocess.SubprocessError, StopIteration) as e:
        err = getattr(e, "stderr", "") or str(e)
        return None, f"could not download Debian's prometheus package: {err.strip()}"
    return str(unpacked), f"Debian prometheus {m.group(1)}, unpacked into {cache}"


def run_promtool(promtool, fail, source_dir):
    for args in (["check", "rules", RULES], ["check", "config", PROM_CONFIG], ["test", "rules", RULE_TESTS]):
        r = subprocess.run([promtool, *args], cwd=source_dir, capture_output=True, text=True, timeout=120)
        out = (r.stdout + r.stderr).strip()
        print(f"$ promtool {' '.join(args)}\n{out}\n")
        fail.check(r.returncode == 0, f"promtool {' '.join(args)}", f"exit {r.returncode}")


# ----------------------------------------------------------------------------- live collector

def free_port(kind):
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def inner_frame(src_last, dst_last, sport, dport):
    """60-byte Ethernet/IPv4/UDP frame (18 bytes of payload); checksums left zero."""
    payload = b"mirrortap-metrics!"
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0,
                     bytes([10, 0, 0, src_last]), bytes([10, 0, 0, dst_last]))
    eth = bytes.fromhex("020000000002" "020000000001") + struct.pack("!H", 0x0800)
    frame = eth + ip + udp
    assert len(frame) == 60
    return frame


def vxlan(vni, frame, flags=0x08):
    return bytes([flags, 0, 0, 0]) + vni.to_bytes(3, "big") + b"\x00" + frame


def parse_exposition(text):
    """({family: type}, {series name: set of label names})."""
    types, series = {}, {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            parts = line.split()
            if len(parts) >= 4:
                types[parts[2]] = parts[3]
        elif line and not line.startswith("#"):
            m = re.match(r"([A-Za-z_:][\w:]*)(\{(.*)\})?\s", line)
            if m:
                labels = set(re.findall(r'([A-Za-z_]\w*)="(?:\\.|[^"\\])*"', m.group(3) or ""))
                series.setdefault(m.group(1), set()).update(labels)
    return types, series


def curl(url):
    r = subprocess.run(["curl", "-sS", "--max-time", "5", "-o", "-", "-w", "\n%{http_code}", url],
                       capture_output=True, text=True)
    if r.returncode != 0:
        return None, r.stderr.strip()
    body, _, code = r.stdout.rpartition("\n")
    return int(code), body


def sample_value(text, name):
    total = None
    for line in text.splitlines():
        if re.match(re.escape(name) + r"(\{|\s)", line):
            total = (total or 0) + float(line.rsplit(None, 1)[-1])
    return total


# Metrics a collector exports only with a feature switched on: (name prefix, the flag that says
# the collector has the feature, config that switches it on with {port} a closed loopback port).
# The live check turns each feature on when the collector offers it; a collector built before the
# feature existed cannot export its metrics, and they are left out of the check, with a note.
# Uploads go to a store that refuses connections: the series exist, nothing is stored.
FEATURE_METRICS = [
    ("mirrortap_upload_", "--upload", """upload:
  url: s3://mirrortap-metrics-check/live
  endpoint: http://127.0.0.1:{port}
  region: us-east-1
  drain_seconds: 1
"""),
]
# Metrics another program serves (mirrortap-sessions' coverage): never on a collector's /metrics.
OTHER_PROGRAMS = ["mirrortap_coverage_"]
# Never IMDS (169.254.169.254 is outside loopback): the collector id and region come from here.
FEATURE_ENV = {"AWS_ACCESS_KEY_ID": "AKIDMIRRORTAPCHECK", "AWS_SECRET_ACCESS_KEY": "not-a-secret",
               "AWS_EC2_METADATA_DISABLED": "true"}


def scrape_live(collector, fail):
    """Returns (exposition, prefixes of metrics this collector cannot export) or (None, ...)."""
    help_text = subprocess.run([collector, "--help"], capture_output=True, text=True, timeout=10)
    help_text = help_text.stdout + help_text.stderr
    if "--metrics-listen" not in help_text:
        print(f"{collector} --help does not offer --metrics-listen yet: nothing to scrape")
        sys.exit(SKIP)
    features = [(prefix, conf) for prefix, flag, conf in FEATURE_METRICS if flag in help_text]
    absent = [prefix for prefix, flag, _ in FEATURE_METRICS if flag not in help_text] + OTHER_PROGRAMS
    for prefix, flag, _ in FEATURE_METRICS:
        if flag not in help_text:
            print(f"note: {collector} has no {flag} yet: {prefix}* metrics are not checked live")
    if not shutil.which("curl"):
        sys.exit("curl is missing (Debian: apt-get install curl)")
    udp_port, http_port = free_port(socket.SOCK_DGRAM), free_port(socket.SOCK_STREAM)
    base = f"http://127.0.0.1:{http_port}"
    with tempfile.TemporaryDirectory(prefix="mirrortap-metrics-") as tmp:
        log = open(Path(tmp) / "collector.log", "w+")
        cmd = [collector, "--listen", f"127.0.0.1:{udp_port}", "--metrics-listen", f"127.0.0.1:{http_port}",
               "--pcap-dir", str(Path(tmp) / "pcap"), "--workers", "1"]
        if os.geteuid() == 0:
            cmd.append("--allow-root")  # the collector refuses root unless told
        (Path(tmp) / "pcap").mkdir()
        if features:
            conf = Path(tmp) / "features.yaml"
            conf.write_text("".join(c.format(port=free_port(socket.SOCK_STREAM)) for _, c in features))
            cmd += ["--config", str(conf)]
        print("$", " ".join(cmd))
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env={**{k: v for k, v in os.environ.items() if not k.startswith("AWS_")}, **FEATURE_ENV})
        try:
            code, body = None, ""
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and proc.poll() is None:
                code, body = curl(base + "/metrics")
                if code == 200:
                    break
                time.sleep(0.1)
            if code != 200:
                log.seek(0)
                fail.add("collector", f"/metrics did not answer 200 ({code}: {body}); exit={proc.poll()}\n"
                         + log.read())
                return None, absent
            # Good datagrams on two sessions, and one of each malformed kind, so that the
            # labelled series (session/vni, reason) exist.
            datagrams = [vxlan(100, inner_frame(1, 2, 40000 + i, 53)) for i in range(5)]
            datagrams += [vxlan(200, inner_frame(3, 4, 41000 + i, 443)) for i in range(3)]
            datagrams += [
                b"\x08\x00\x00\x00",                                     # shorter than the VXLAN header
                vxlan(300, inner_frame(5, 6, 42000, 80), flags=0x00),     # I flag clear: no VNI
                vxlan(301, inner_frame(5, 6, 42001, 80)[:10]),            # inner frame under 14 bytes
            ]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                for d in datagrams:
                    s.sendto(d, ("127.0.0.1", udp_port))
            received = None
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                code, body = curl(base + "/metrics")
                received = sample_value(body, "mirrortap_received_packets_total") if code == 200 else None
                if received is not None and received >= len(datagrams):
                    break
                time.sleep(0.2)
            fail.check(received == len(datagrams), "collector",
                       f"mirrortap_received_packets_total is {received}, sent {len(datagrams)}")
            time.sleep(1.2)  # let sinks drain so buffered/written series settle
            code, body = curl(base + "/metrics")
            if not fail.check(code == 200, "collector", f"/metrics answered {code}: {body}"):
                return None, absent
            return body, absent
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                fail.add("collector", "did not exit within 10 s of SIGTERM")
            log.seek(0)
            out = log.read().strip()
            if out:
                print("collector output:\n" + out[-3000:])
            log.close()


def check_names_live(queries, exposition, extra_labels, contract, absent, fail):
    types, series = parse_exposition(exposition)
    for q in queries:
        seen_labels, complete = set(), True
        for name in sorted(q.metrics):
            if name.startswith(tuple(absent)):
                complete = False
                continue
            fam = family_of(name, types)
            if name in series:
                seen_labels |= series[name]
            elif fam and fam != name and types.get(fam) == "histogram":
                fail.add(q.where, f"{name}: the histogram {fam} is declared but has no {name} series")
                complete = False
            elif fam:
                fail.add(q.where, f"{name} is declared on /metrics but has no series after traffic")
                complete = False
            else:
                fail.add(q.where, f"{name} is not on the live /metrics")
                complete = False
        if complete and not q.recorded:
            unknown = q.labels - seen_labels - extra_labels
            fail.check(not unknown, q.where,
                       f"label(s) {sorted(unknown)} are on none of the live series of {sorted(q.metrics)}")
    missing = sorted(m for m in contract if not family_of(m, types) and m not in series)
    if missing:
        print("note: contract metrics missing from the live /metrics: " + ", ".join(missing))


# ----------------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--source-dir", required=True, help="repository root")
    ap.add_argument("--work-dir", required=True, help="scratch directory in the build tree")
    ap.add_argument("--collector", help="mirrortap-collector binary: run the live check")
    args = ap.parse_args()
    src = Path(args.source_dir)
    fail = Failures()

    with open(src / DASHBOARD, encoding="utf-8") as f:
        dash = json.load(f)
    rules = load_yaml(src / RULES)
    prom = load_yaml(src / PROM_CONFIG)
    queries = dashboard_queries(dash) + rule_queries(rules)
    recorded = {r.get("record") for g in rules.get("groups") or [] for r in g.get("rules") or [] if r.get("record")}
    jobs = prom.get("scrape_configs") or []
    extra_labels = target_labels(jobs)
    contract = read_contract(src / CONTRACT)
    referenced = set().union(*(q.metrics for q in queries))
    print(f"{len(queries)} PromQL queries reference {len(referenced)} series names: {', '.join(sorted(referenced))}")

    if args.collector:
        exposition, absent = scrape_live(args.collector, fail)
        if exposition is not None:
            check_names_live(queries, exposition, extra_labels, contract, absent, fail)
    else:
        fail.check(contract, CONTRACT, "no metrics table found")
        check_dashboard(dash, fail)
        check_rules(rules, fail)
        check_target_down_waits_out_grace(rules, (src / TERRAFORM_VARIABLES).read_text(encoding="utf-8"), fail)
        check_prom_config(prom, fail, src / RULES)
        check_names_against_contract(queries, contract, extra_labels, recorded, fail)
        check_job_matchers(queries, jobs, fail)
        dash_metrics = {family_of(n, {m: t for m, (t, _) in contract.items()})
                        for q in queries if q.where.startswith(DASHBOARD) for n in q.metrics}
        for m in sorted(set(contract) - dash_metrics):
            fail.add(DASHBOARD, f"contract metric {m} has no panel")
        promtool, how = find_promtool(args.work_dir)
        if promtool:
            print(f"promtool: {promtool} ({how})")
            run_promtool(promtool, fail, src)
        else:
            print(f"promtool unavailable ({how}): structural checks only")

    if fail.items:
        print(f"\n{len(fail.items)} problem(s):")
        for item in fail.items:
            print("  " + item)
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
