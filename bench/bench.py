"""The benchmarks of `make bench` (run by scripts/bench.sh, which owns the
temporary directory). Starts its own mosquitto, suido-platform and
suido-gateway on free loopback ports, the way scripts/run.sh does, drives
them with the C helpers bench/bench_*.c, and prints one line per figure:

    bench NAME: VALUE UNIT ratio=R

as the last lines (R = ours / reference measured in the same run, higher is
better; signin and bearer follow theirs with one indented detail line: the
Argon2id parameters, the two times). docs/benchmarks.md describes each figure.

Environment (all optional; the defaults are what docs/benchmarks.md reports):
  BENCH_MSGS           ingest_plain messages (1000)
  BENCH_POINTS_PER_MSG points per message (1000)
  BENCH_ITEMS          items per message (10)
  BENCH_WINDOW         un-acked messages in flight (64, the gateway's default)
  BENCH_INGEST_ROUNDS  ingest_plain rounds, each on a fresh stack with its own
                       reference run; medians reported (5)
  BENCH_QUERY_ROUNDS   timed rounds of query_range, median reported (5)
  BENCH_GW_FILES       gateway_ingest CSV files (20)
  BENCH_GW_ROWS        rows per file (5000; 5 values a row)
  BENCH_GW_ROUNDS      gateway_ingest rounds, median reported (5)
  BENCH_OPEN_ROUNDS    open_json rounds, each one openssl speed run and one of ours (3)
  BENCH_SEALED_MSGS    ingest_sealed messages (BENCH_MSGS, 1000); points per
                       message, items and window as ingest_plain
  BENCH_SEALED_ROUNDS  ingest_sealed rounds, each one openssl speed run and one
                       fresh sealed stack; medians reported (3)
  BENCH_CSV_ROWS       gateway_csv rows of its one wide CSV file (1000000; 10 values a row)
  BENCH_CSV_REF_ROUNDS gateway_csv reference runs (sqlite3 .import), median used (3)
  BENCH_SIGNIN_SECONDS seconds of each signin phase, reference and sign-ins (2)
  BENCH_SIGNIN_ROUNDS  signin rounds, each one reference phase then one of
                       sign-ins; medians reported (5)
  BENCH_SIGNIN_THREADS threads of both signin phases (2: the machine's cores)
  BENCH_BEARER_SECONDS seconds of each bearer phase per round, token checks and
                       requests, alternating in 25 ms slices (1)
  BENCH_BEARER_ROUNDS  bearer rounds; medians reported (7)
  BENCH_GATEWAY_SEND   extra [send] lines for the benchmark gateways, ';'-separated
                       (e.g. "window = 64"); none by default
  BENCH_ONLY           comma list of ingest,query,gateway,open,sealed,csv,signin,bearer
                       to run a subset
  BENCH_BROKER_NODELAY=0   leave "set_tcp_nodelay true" out of the broker's
                       config (make run and the tests ship it on)
  BENCH_CLIENT_NODELAY=0   no TCP_NODELAY on bench_ingest's connection (the
                       gateway sets it, so the default is on)
Analysis aids (not for reported figures):
  BENCH_PLATFORM_WRAPPER, BENCH_GATEWAY_WRAPPER   a command to run the program
                       under, e.g. "valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.%p"
"""

import argparse
import base64
import ctypes
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
import traceback
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
SQLITE3 = shutil.which("sqlite3") or "/usr/bin/sqlite3"

PLATFORM_RSS_BUDGET_MIB = 64.0
GATEWAY_RSS_BUDGET_MIB = 16.0

# The measured day of query_range (bench_gen.h: BENCH_BASE_MS).
DAY_FROM, DAY_TO = "2026-11-19T15:00:00Z", "2026-11-20T15:00:00Z"
DAY_FROM_MS, DAY_TO_MS = 1795100400000, 1795186800000

HAISUICHI_HEADER = "日時,配水池水位(m),流入流量(m3/h),流出流量(m3/h),残留塩素(mg/L),濁度(度)"


def env_int(name, default):
    v = os.environ.get(name, "")
    return int(v) if v.strip() else default


def info(msg):
    print("  " + msg, flush=True)


class BenchError(Exception):
    pass


def wrapper(name):
    """An analysis aid: e.g. BENCH_PLATFORM_WRAPPER="valgrind --tool=callgrind"
    runs the platform under that command (the figures are then meaningless)."""
    return os.environ.get(name, "").split()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent():
    # PR_SET_PDEATHSIG: a child never outlives this script, even on SIGKILL.
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)
    except OSError:
        pass


def cpu_seconds(pid):
    """User + system CPU time of a process so far."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def vmhwm_mib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    raise BenchError("no VmHWM for pid %d" % pid)


class Stack:
    """mosquitto + suido-platform (+ suido-gateway) under one directory."""

    def __init__(self, build, base, utility, gateways, pki=None):
        self.build, self.dir, self.utility = build, base, utility
        self.gateways = gateways
        self.pki = pki  # make_pki(): the gateways are then "format = json" (ingest_sealed)
        self.mqtt_port, self.http_port = free_port(), free_port()
        # the operator's admin token; self.token, the AP access token of the
        # bench's application, comes from the platform's OpenID provider once
        # the platform serves (provision)
        self.admin_token = secrets.token_hex(32)
        self.token = None
        self.procs = {}
        self.db = os.path.join(base, "platform", "platform.db")
        self.spool = os.path.join(base, "gateway", "spool")
        for d in ("mosquitto", "platform", "gateway/spool", "log", "run"):
            os.makedirs(os.path.join(base, d), exist_ok=True)

    def _write(self, name, text):
        path = os.path.join(self.dir, "run", name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def _start(self, name, argv):
        log = open(os.path.join(self.dir, "log", name + ".log"), "ab")
        # Own process group, so stop() also reaches a wrapper's children.
        self.procs[name] = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent,
                                            process_group=0)
        log.close()

    def log(self, name, tail=3000):
        try:
            with open(os.path.join(self.dir, "log", name + ".log"), errors="replace") as f:
                return f.read()[-tail:]
        except OSError:
            return ""

    def pid(self, name):
        return self.procs[name].pid

    def check_alive(self):
        for name, p in self.procs.items():
            if p.poll() is not None:
                raise BenchError("%s exited with %s; log:\n%s" % (name, p.returncode, self.log(name)))

    def start_broker(self):
        # As scripts/run.sh configures it: loopback, persistent sessions on disk.
        conf = self._write("mosquitto.conf", f"""listener {self.mqtt_port} 127.0.0.1
allow_anonymous true
persistence true
persistence_location {self.dir}/mosquitto/
autosave_interval 1
max_queued_messages 100000
max_inflight_messages 0
log_dest file {self.dir}/log/mosquitto.file.log
""" + ("set_tcp_nodelay true\n" if os.environ.get("BENCH_BROKER_NODELAY", "1") != "0" else ""))
        self._start("mosquitto", [MOSQUITTO, "-c", conf])
        end = time.time() + 20
        while time.time() < end:
            self.check_alive()
            try:
                with socket.create_connection(("127.0.0.1", self.mqtt_port), timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        raise BenchError("mosquitto did not listen on %d" % self.mqtt_port)

    def start_platform(self):
        sha = hashlib.sha256(self.admin_token.encode()).hexdigest()
        # ingest_plain and gateway_ingest measure the plaintext path (issue 2's
        # figures): the gateways are configured "format = plain" on both sides.
        # ingest_sealed (a Stack with pki) registers them "format = json" with
        # their data-protection certificates, as scripts/run.sh does.
        if self.pki is None:
            gws = "".join("[gateway %s]\nutility = %s\nformat = plain\n" % (g, self.utility)
                          for g in self.gateways)
            security = ""
        else:
            gws = "".join("[gateway %s]\nutility = %s\nformat = json\ncertificate = %s\n"
                          % (g, self.utility, self.pki["gw"][g][1]) for g in self.gateways)
            security = "[security]\nkey = %s\nca = %s\ncrl = %s\n" % (
                self.pki["platform_key"], self.pki["ca"], self.pki["crl"])
        conf = self._write("platform.conf", f"""[platform]
database = {self.db}
timezone = Asia/Tokyo
[http]
listen = 127.0.0.1
port = {self.http_port}
[mqtt]
host = 127.0.0.1
port = {self.mqtt_port}
{security}[utility {self.utility}]
name = ベンチ市水道局
[admin]
api_token_sha256 = {sha}
[oidc]
access_ttl_s = 86400
{gws}""")
        self._start("platform", wrapper("BENCH_PLATFORM_WRAPPER") +
                    [os.path.join(self.build, "suido-platform"), "-c", conf])
        end = time.time() + 30
        while time.time() < end:
            self.check_alive()
            try:
                if self.metrics().get("mqtt_connected") == 1:
                    if self.token is None:
                        self.provision()
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise BenchError("platform not serving / not connected; log:\n" + self.log("platform"))

    def provision(self):
        """A vendor, its application granted the utility, and the
        application's access token (client credentials) in self.token."""
        base = "http://127.0.0.1:%d" % self.http_port

        def admin(method, path, body):
            req = urllib.request.Request(base + "/admin/v1" + path, method=method,
                                         data=json.dumps(body).encode())
            req.add_header("Authorization", "Bearer " + self.admin_token)
            req.add_header("Content-Type", "application/json")
            with urllib.request.urlopen(req, timeout=10) as r:
                return json.loads(r.read() or b"null")
        admin("POST", "/tenants", {"id": "bench-vendor", "kind": "vendor", "name": "bench"})
        admin("POST", "/links", {"utility": self.utility, "vendor": "bench-vendor"})
        app = admin("POST", "/applications", {"id": "bench-app", "vendor": "bench-vendor",
                                              "name": "bench", "redirect_uris": []})
        admin("PUT", "/utilities/%s/grants/bench-app" % self.utility, {"scope": {"all": True}})
        req = urllib.request.Request(base + "/oidc/token", data=b"grant_type=client_credentials")
        req.add_header("Authorization", "Basic " + base64.b64encode(
            ("bench-app:" + app["client_secret"]).encode()).decode())
        with urllib.request.urlopen(req, timeout=10) as r:
            self.token = json.loads(r.read())["access_token"]

    def start_gateway(self, gateway, gateway_conf=""):
        # the demo mapping masks the billing layout's personal columns
        mask_key = os.path.join(self.dir, "mask.key")
        if not os.path.exists(mask_key):
            subprocess.run([os.path.join(self.build, "suido"), "mask-key", "new", "--out",
                            mask_key], check=True, stdout=subprocess.DEVNULL)
        conf = self._write("gateway.conf", f"""[gateway]
id = {gateway}
utility = {self.utility}
timezone = Asia/Tokyo
state_dir = {self.dir}/gateway
spool_dir = {self.spool}
mapping = {ROOT}/etc/mapping-demo.conf
{gateway_conf}[send]
start = immediately
{os.environ.get("BENCH_GATEWAY_SEND", "").replace(";", chr(10))}
[security]
format = plain
mask_key = {mask_key}
[mqtt]
host = 127.0.0.1
port = {self.mqtt_port}
""")
        self._start("gateway", wrapper("BENCH_GATEWAY_WRAPPER") +
                    [os.path.join(self.build, "suido-gateway"), "-c", conf])
        end = time.time() + 30
        while time.time() < end:
            self.check_alive()
            if "connected to" in self.log("gateway", 100000):
                return
            time.sleep(0.05)
        raise BenchError("gateway did not connect; log:\n" + self.log("gateway"))

    def metrics(self):
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.http_port, timeout=5) as r:
            text = r.read().decode()
        out = {}
        for line in text.splitlines():
            if line.startswith("suido_platform_"):
                k, v = line.split()[:2]
                out[k[len("suido_platform_"):]] = float(v)
        return out

    def stop(self):
        for name in ("gateway", "platform", "mosquitto"):
            p = self.procs.get(name)
            if not p:
                continue
            try:  # the whole group: a wrapper's child too
                os.killpg(p.pid, signal.SIGTERM)
            except OSError:
                pass
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            end = time.time() + 5
            while True:
                try:
                    os.killpg(p.pid, 0)
                except OSError:
                    break  # the group is empty
                if time.time() > end:
                    try:
                        os.killpg(p.pid, signal.SIGKILL)
                    except OSError:
                        pass
                    break
                time.sleep(0.05)


def run_kv(argv, timeout):
    """Runs a helper and returns its key=value stdout lines as a dict."""
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise BenchError("%s failed (%d):\n%s%s" % (os.path.basename(argv[0]), r.returncode,
                                                     r.stdout[-2000:], r.stderr[-2000:]))
    return dict(line.split("=", 1) for line in r.stdout.split() if "=" in line)


# ---------------------------------------------------------------- ingest_plain

def ingest_round(build, base, n_msgs, per_msg, n_items, window):
    """One ingest_plain measurement on a fresh stack, then its reference.
    Returns (ours points/s, reference points/s, platform VmHWM MiB, batch)."""
    st = Stack(build, base, "bench", ["bench-gw"])
    try:
        st.start_broker()
        st.start_platform()
        os.sync()  # start each measurement with no writeback pending
        m0 = st.metrics()
        c0 = [cpu_seconds(st.pid(n)) for n in ("platform", "mosquitto")]
        out = run_kv([os.path.join(build, "bench_ingest"), "127.0.0.1", str(st.mqtt_port), "bench",
                      "bench-gw", str(n_msgs), str(per_msg), str(n_items), str(window)], timeout=600)
        cpu = [cpu_seconds(st.pid(n)) - c for n, c in zip(("platform", "mosquitto"), c0)]
        m1 = st.metrics()
        hwm = vmhwm_mib(st.pid("platform"))
        st.check_alive()
    finally:
        st.stop()
    points = int(out["points"])
    secs = float(out["seconds"])
    # The warm-up message (n_items points, one commit) came after m0.
    d_points = m1["points_stored_total"] - m0["points_stored_total"] - n_items
    d_commits = m1["db_commits_total"] - m0["db_commits_total"] - 1
    if d_points != points:
        raise BenchError("platform stored %d points, expected %d" % (d_points, points))
    batch = max(1, round(d_points / max(1, d_commits)))
    os.sync()
    ref = run_kv([os.path.join(build, "bench_sqlref"), os.path.join(base, "reference.db"),
                  str(n_msgs), str(per_msg), str(n_items), str(batch)], timeout=600)
    info("ingest_plain: %.3f s = %.0f points/s, %d commits (avg %d points = %.1f msgs), CPU "
         "platform %.2f s, mosquitto %.2f s; reference %.3f s = %.0f points/s (%.3f s in COMMIT, "
         "%.3f s CPU); platform VmHWM %.1f MiB"
         % (secs, points / secs, d_commits, batch, batch / per_msg, cpu[0], cpu[1],
            float(ref["seconds"]), float(ref["points_per_s"]), float(ref["commit_seconds"]),
            float(ref["cpu_seconds"]), hwm))
    shutil.rmtree(base, ignore_errors=True)
    return points / secs, float(ref["points_per_s"]), hwm, batch


def bench_ingest(build, tmp, res):
    n_msgs = env_int("BENCH_MSGS", 1000)
    per_msg = env_int("BENCH_POINTS_PER_MSG", 1000)
    n_items = env_int("BENCH_ITEMS", 10)
    window = env_int("BENCH_WINDOW", 64)
    rounds = env_int("BENCH_INGEST_ROUNDS", 5)
    info("ingest_plain: %d rounds of %d msgs x %d points (%d items), window %d"
         % (rounds, n_msgs, per_msg, n_items, window))
    runs = [ingest_round(build, os.path.join(tmp, "ingest%d" % k), n_msgs, per_msg, n_items, window)
            for k in range(rounds)]
    ours = statistics.median(r[0] for r in runs)
    ref = statistics.median(r[1] for r in runs)
    hwm = max(r[2] for r in runs)
    info("ingest_plain: median %.0f points/s, reference (plain batched SQLite insert) median "
         "%.0f points/s; peak platform VmHWM %.1f MiB" % (ours, ref, hwm))
    res["ingest_plain"] = (ours, ref)
    res["rss_platform"] = hwm
    res["ingest_ref_rate"] = ref


# ---------------------------------------------------------------- query_range

def bench_query(build, tmp, res):
    rounds = env_int("BENCH_QUERY_ROUNDS", 5)
    n_items = 100
    base = os.path.join(tmp, "query")
    st = Stack(build, base, "bench", ["bench-gw"])
    # The reference reads the same rows from plain tables, one row per point
    # (the platform keeps them in blocks: lib/store_blocks.h).
    ref_db = os.path.join(base, "reference.db")
    run_kv([os.path.join(build, "bench_query"), "populate", st.db, "bench", "bench-gw",
            str(n_items), ref_db], timeout=300)
    sql = ("SELECT strftime('%%Y-%%m-%%dT%%H:%%M:%%SZ', p.t / 1000, 'unixepoch') AS t, p.v AS v"
           " FROM utilities u JOIN items i ON i.utility_key = u.utility_key"
           " JOIN points p ON p.item_key = i.item_key"
           " WHERE u.id = 'bench' AND p.t >= %d AND p.t < %d ORDER BY i.id, p.t"
           % (DAY_FROM_MS, DAY_TO_MS))
    expected = n_items * 1440
    ours, ref = [], []
    try:
        st.start_broker()
        st.start_platform()
        # Reference warm-up, checked: the same rows, in the same form.
        r = subprocess.run([SQLITE3, "-json", ref_db, sql], capture_output=True, timeout=120)
        if r.returncode != 0:
            raise BenchError("sqlite3: " + r.stderr.decode(errors="replace"))
        rows = json.loads(r.stdout)
        if len(rows) != expected or rows[0] != {"t": DAY_FROM, "v": 0}:
            raise BenchError("sqlite3 reference query: %d rows, first %r" % (len(rows), rows[:1]))
        base_url = "http://127.0.0.1:%d" % st.http_port
        for _ in range(rounds):
            # Pass 0 checks every answer (and opens the connection and the
            # worker stores); pass 1 is the timed one, on the kept-alive connection.
            out = subprocess.run([os.path.join(build, "bench_query"), "fetch", base_url, st.token,
                                  "bench", str(n_items), DAY_FROM, DAY_TO, "2"],
                                 capture_output=True, text=True, timeout=300)
            if out.returncode != 0:
                raise BenchError("bench_query fetch failed:\n" + out.stderr[-2000:])
            passes = [dict(kv.split("=", 1) for kv in line.split()) for line in out.stdout.splitlines()]
            if int(passes[0]["points"]) != expected:
                raise BenchError("AP interface returned %s points, expected %d" % (passes[0]["points"], expected))
            if int(passes[1]["connects"]) != 0:
                raise BenchError("the AP interface did not keep the connection alive")
            ours.append(float(passes[1]["seconds"]))
            t0 = time.perf_counter()
            r = subprocess.run([SQLITE3, "-json", ref_db, sql], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, timeout=120)
            ref.append(time.perf_counter() - t0)
            if r.returncode != 0:
                raise BenchError("sqlite3: " + r.stderr.decode(errors="replace"))
        bytes_json = int(passes[1]["bytes"])
        st.check_alive()
    finally:
        st.stop()
    o, f = statistics.median(ours), statistics.median(ref)
    info("query_range: %d items x 1440 points, %d requests on one keep-alive connection, "
         "%.1f MB of JSON; median of %d rounds: %.3f s (all: %s)"
         % (n_items, n_items, bytes_json / 1e6, rounds, o, " ".join("%.3f" % x for x in ours)))
    info("query_range reference: sqlite3 -json, one SELECT of the same rows: median %.3f s (all: %s)"
         % (f, " ".join("%.3f" % x for x in ref)))
    res["query_range"] = (expected / o, expected / f)


# ------------------------------------------------------------------ open_json

def bench_open_json(build, res):
    """jose_open (decrypt + verify) of a sealed 100-record JSON profile per
    second of CPU time on one core, against `openssl speed rsa2048` private-key
    operations per second of CPU user time (its divisor unless -elapsed),
    interleaved round by round so both see the same machine."""
    rounds = env_int("BENCH_OPEN_ROUNDS", 3)
    ours, ref, wall = [], [], []
    for _ in range(rounds):
        r = subprocess.run(["openssl", "speed", "-seconds", "3", "rsa2048"],
                           capture_output=True, text=True, timeout=120)
        m = re.search(r"^rsa\s+2048 bits\s+\S+\s+\S+\s+([\d.]+)\s+([\d.]+)", r.stdout, re.M)
        if r.returncode != 0 or not m:
            raise BenchError("openssl speed rsa2048 gave no figure:\n" + r.stdout[-1000:] + r.stderr[-1000:])
        ref.append(float(m.group(1)))
        kv = run_kv([os.path.join(build, "bench_jose"), "3"], timeout=120)
        ours.append(float(kv["per_s"]))
        wall.append(float(kv["opens"]) / float(kv.get("wall_seconds", kv["seconds"])))
    o, f = statistics.median(ours), statistics.median(ref)
    info("open_json: jose_open of a %s-byte JWE (100 records) on one core: median %.0f/s of CPU "
         "time (all: %s; per wall-clock second: %s)"
         % (kv["token_bytes"], o, " ".join("%.0f" % x for x in ours),
            " ".join("%.0f" % x for x in wall)))
    info("open_json reference: openssl speed rsa2048 sign/s: median %.0f (all: %s)"
         % (f, " ".join("%.0f" % x for x in ref)))
    res["open_json"] = (o, f)


# ------------------------------------------------------------- gateway_ingest

def make_csv(path, file_no, rows):
    """A CP932 haisuichi file (etc/mapping-demo.conf) of `rows` 1-minute rows,
    CRLF like the sample; file_no shifts the times so no two files overlap."""
    lines = [HAISUICHI_HEADER]
    t0 = 1795100400 + file_no * rows * 60  # 2026-11-19T15:00Z = 2026/11/20 0:00 JST
    for r in range(rows):
        lt = time.gmtime(t0 + r * 60 + 9 * 3600)  # JST wall clock
        k = file_no * rows + r
        lines.append("%d/%02d/%02d %d:%02d,%.2f,%.1f,%.1f,%.2f,%.3f" % (
            lt.tm_year, lt.tm_mon, lt.tm_mday, lt.tm_hour, lt.tm_min,
            3.5 + (k % 200) / 100.0, 400 + (k * 7 % 500) / 10.0, 230 + (k * 11 % 400) / 10.0,
            0.3 + (k % 30) / 100.0, 0.04 + (k % 40) / 1000.0))
    with open(path, "wb") as f:
        f.write(("\r\n".join(lines) + "\r\n").encode("cp932"))


def gateway_round(build, base, n_files, rows):
    """One gateway_ingest measurement on a fresh stack.
    Returns (points/s, gateway VmHWM MiB)."""
    expected = n_files * rows * 5
    staging = os.path.join(base, "staging")
    os.makedirs(staging)
    for i in range(n_files):
        make_csv(os.path.join(staging, "haisuichi_%03d.csv" % i), i, rows)
    st = Stack(build, base, "bench", ["bench-gw1"])
    try:
        st.start_broker()
        st.start_platform()
        st.start_gateway("bench-gw1")
        queue_db = os.path.join(base, "gateway", "queue.db")
        os.sync()
        m0 = st.metrics()
        names = ("gateway", "platform", "mosquitto")
        c0 = [cpu_seconds(st.pid(n)) for n in names]
        t0 = time.perf_counter()
        for name in sorted(os.listdir(staging)):
            os.rename(os.path.join(staging, name), os.path.join(st.spool, name))
        # Done when the platform has committed every point (its acks go out
        # right after the commit) and the gateway has recorded every ack.
        deadline = time.time() + 240
        while True:
            stored = st.metrics()["points_stored_total"] - m0["points_stored_total"]
            if stored >= expected:
                break
            if time.time() > deadline:
                raise BenchError("gateway_ingest: only %d of %d points stored; gateway log:\n%s"
                                 % (stored, expected, st.log("gateway")))
            st.check_alive()
            time.sleep(0.02)
        q = sqlite3.connect(queue_db, timeout=10)
        while True:
            unacked, files = q.execute("SELECT (SELECT count(*) FROM messages WHERE acked IS NULL),"
                                       " (SELECT count(*) FROM files)").fetchone()
            if unacked == 0 and files == n_files:
                break
            if time.time() > deadline:
                raise BenchError("gateway_ingest: %d messages never acked" % unacked)
            time.sleep(0.01)
        secs = time.perf_counter() - t0
        cpu = [cpu_seconds(st.pid(n)) - c for n, c in zip(names, c0)]
        n_msgs = q.execute("SELECT count(*) FROM messages").fetchone()[0]
        q.close()
        hwm = vmhwm_mib(st.pid("gateway"))
        plat_hwm = vmhwm_mib(st.pid("platform"))
        m1 = st.metrics()
        st.check_alive()
    finally:
        st.stop()
    if stored != expected:
        raise BenchError("gateway_ingest: platform stored %d points, expected %d" % (stored, expected))
    info("gateway_ingest: %.3f s = %.0f points/s, %d messages, %d platform commits; CPU gateway "
         "%.2f s, platform %.2f s, mosquitto %.2f s; VmHWM gateway %.1f MiB, platform %.1f MiB"
         % (secs, expected / secs, n_msgs, m1["db_commits_total"] - m0["db_commits_total"],
            cpu[0], cpu[1], cpu[2], hwm, plat_hwm))
    shutil.rmtree(base, ignore_errors=True)
    return expected / secs, hwm


def bench_gateway(build, tmp, res):
    n_files = env_int("BENCH_GW_FILES", 20)
    rows = env_int("BENCH_GW_ROWS", 5000)
    rounds = env_int("BENCH_GW_ROUNDS", 5)
    info("gateway_ingest: %d rounds of %d CP932 files x %d rows x 5 values = %d points"
         % (rounds, n_files, rows, n_files * rows * 5))
    runs = [gateway_round(build, os.path.join(tmp, "gateway%d" % k), n_files, rows)
            for k in range(rounds)]
    res["gateway_ingest"] = statistics.median(r[0] for r in runs)
    res["rss_gateway"] = max(r[1] for r in runs)
    info("gateway_ingest: median %.0f points/s; peak gateway VmHWM %.1f MiB"
         % (res["gateway_ingest"], res["rss_gateway"]))


# ---------------------------------------------------------------- gateway_csv

# The haisuichi layout of etc/mapping-demo.conf ("values = *") with ten value
# columns: every one becomes an item.
WIDE_HEADER = ("日時,配水池水位(m),流入流量(m3/h),流出流量(m3/h),残留塩素(mg/L),濁度(度),"
               "色度(度),水温(℃),pH(-),電気伝導率(mS/m),配水圧力(MPa)")


def make_wide_csv(path, rows):
    """A CP932, CRLF haisuichi file of `rows` distinct 1-minute rows from
    2024/01/01 0:00 JST, ten values a row. Returns its size in bytes."""
    t0 = 1704034800  # 2023-12-31T15:00Z = 2024/01/01 0:00 JST
    with open(path, "wb") as f:
        f.write((WIDE_HEADER + "\r\n").encode("cp932"))
        chunk = []
        for k in range(rows):
            lt = time.gmtime(t0 + k * 60 + 9 * 3600)  # JST wall clock
            chunk.append("%d/%02d/%02d %d:%02d,%.2f,%.1f,%.1f,%.2f,%.3f,%.1f,%.1f,%.2f,%.1f,%.3f\r\n" % (
                lt.tm_year, lt.tm_mon, lt.tm_mday, lt.tm_hour, lt.tm_min,
                3.5 + (k % 200) / 100.0, 400 + (k * 7 % 500) / 10.0, 230 + (k * 11 % 400) / 10.0,
                0.3 + (k % 30) / 100.0, 0.04 + (k % 40) / 1000.0, 0.5 + (k % 20) / 10.0,
                12 + (k % 100) / 10.0, 7.0 + (k % 50) / 100.0, 20 + (k % 90) / 10.0,
                0.3 + (k % 300) / 1000.0))
            if len(chunk) == 10000:
                f.write("".join(chunk).encode("ascii"))
                chunk = []
        f.write("".join(chunk).encode("ascii"))
    return os.path.getsize(path)


def sqlite_import_seconds(csv_path, db_path, rows):
    """The reference: the sqlite3 shell importing the file into a plain table
    of a fresh on-disk database (`.mode csv`, `.import FILE t`: the header row
    names the columns, every row one INSERT, one transaction), process start
    included. Checks the row count."""
    if os.path.exists(db_path):
        os.unlink(db_path)
    os.sync()
    t0 = time.perf_counter()
    r = subprocess.run([SQLITE3, db_path], input=".mode csv\n.import %s t\n" % csv_path,
                       capture_output=True, text=True, timeout=600)
    secs = time.perf_counter() - t0
    if r.returncode != 0 or r.stderr.strip():
        raise BenchError("sqlite3 .import failed:\n" + r.stdout[-1000:] + r.stderr[-1000:])
    n = subprocess.run([SQLITE3, db_path, "SELECT count(*) FROM t"], capture_output=True,
                       text=True, timeout=60).stdout.strip()
    if n != str(rows):
        raise BenchError("sqlite3 .import: %s rows in t, expected %d" % (n, rows))
    os.unlink(db_path)
    return secs


def bench_gateway_csv(build, tmp, res):
    """One wide CSV file of BENCH_CSV_ROWS rows (10 values each) from its
    rename into the spool until the platform has stored every point and the
    gateway has recorded every ack, in rows/s, against the sqlite3 shell's
    .import of the same file (median of BENCH_CSV_REF_ROUNDS, same run)."""
    rows = env_int("BENCH_CSV_ROWS", 1000000)
    ref_rounds = env_int("BENCH_CSV_REF_ROUNDS", 3)
    n_values = len(WIDE_HEADER.split(",")) - 1
    expected = rows * n_values
    base = os.path.join(tmp, "csv")
    staging = os.path.join(base, "staging")
    os.makedirs(staging)
    name = "haisuichi_wide.csv"
    csv_path = os.path.join(staging, name)
    size = make_wide_csv(csv_path, rows)
    info("gateway_csv: one CP932 file of %d rows x %d values = %d points, %.1f MB"
         % (rows, n_values, expected, size / 1e6))
    refs = [sqlite_import_seconds(csv_path, os.path.join(base, "reference.db"), rows)]
    st = Stack(build, base, "bench", ["bench-gw1"])
    try:
        st.start_broker()
        st.start_platform()
        # the file is larger than the default max_file_bytes (64 MiB)
        st.start_gateway("bench-gw1", "max_file_bytes = %d\n" % max(64 << 20, 2 * size))
        queue_db = os.path.join(base, "gateway", "queue.db")
        receipt = os.path.join(base, "gateway", "receipts", name + ".receipt.json")
        os.sync()
        m0 = st.metrics()
        names = ("gateway", "platform", "mosquitto")
        c0 = [cpu_seconds(st.pid(n)) for n in names]
        t0 = time.perf_counter()
        os.rename(csv_path, os.path.join(st.spool, name))
        deadline = time.time() + 1800
        t_intake = t_first = None
        c_intake = None
        while True:
            now = time.perf_counter()
            if t_intake is None and os.path.exists(receipt):
                t_intake = now
                c_intake = [cpu_seconds(st.pid(n)) - c for n, c in zip(names, c0)]
            stored = st.metrics()["points_stored_total"] - m0["points_stored_total"]
            if t_first is None and stored > 0:
                t_first = now
            if stored >= expected:
                break
            if time.time() > deadline:
                raise BenchError("gateway_csv: only %d of %d points stored; gateway log:\n%s"
                                 % (stored, expected, st.log("gateway")))
            st.check_alive()
            time.sleep(0.05)
        t_stored = time.perf_counter()
        q = sqlite3.connect(queue_db, timeout=30)
        while True:
            unacked, files = q.execute("SELECT (SELECT count(*) FROM messages WHERE acked IS NULL),"
                                       " (SELECT count(*) FROM files)").fetchone()
            if unacked == 0 and files == 1:
                break
            if time.time() > deadline:
                raise BenchError("gateway_csv: %d messages never acked" % unacked)
            time.sleep(0.01)
        secs = time.perf_counter() - t0
        cpu = [cpu_seconds(st.pid(n)) - c for n, c in zip(names, c0)]
        n_msgs = q.execute("SELECT count(*) FROM messages").fetchone()[0]
        q.close()
        hwm = vmhwm_mib(st.pid("gateway"))
        plat_hwm = vmhwm_mib(st.pid("platform"))
        m1 = st.metrics()
        glog = st.log("gateway", 1 << 20)
        st.check_alive()
    finally:
        st.stop()
    if stored != expected:
        raise BenchError("gateway_csv: platform stored %d points, expected %d" % (stored, expected))
    with open(receipt) as f:
        rc = json.load(f)
    if rc.get("accepted_rows") != rows or rc.get("points") != expected:
        raise BenchError("gateway_csv: receipt %r" % {k: rc.get(k) for k in
                                                      ("status", "accepted_rows", "points")})
    for _ in range(ref_rounds - 1):
        refs.append(sqlite_import_seconds(os.path.join(base, "gateway", "done", name),
                                          os.path.join(base, "reference.db"), rows))
    ref = statistics.median(refs)
    t_intake = t_intake if t_intake is not None else t_stored
    t_first = t_first if t_first is not None else t_stored
    info("gateway_csv: %.2f s = %.0f rows/s = %.0f points/s, %d messages, %d platform commits, "
         "%d gateway (re)connects; CPU gateway %.2f s, platform %.2f s, mosquitto %.2f s; "
         "VmHWM gateway %.1f MiB, platform %.1f MiB"
         % (secs, rows / secs, expected / secs, n_msgs,
            m1["db_commits_total"] - m0["db_commits_total"], glog.count("INFO link: connected"),
            cpu[0], cpu[1], cpu[2], hwm, plat_hwm))
    info("gateway_csv phases: receipt written (intake committed) at %.2f s (CPU so far: gateway "
         "%.2f s, platform %.2f s); first point stored at %.2f s; all stored at %.2f s; all acked "
         "at %.2f s" % (t_intake - t0, c_intake[0] if c_intake else float("nan"),
                         c_intake[1] if c_intake else float("nan"), t_first - t0, t_stored - t0,
                         secs))
    info("gateway_csv reference: sqlite3 .import of the same file: %s s, median %.2f s = %.0f rows/s"
         % (" ".join("%.2f" % x for x in refs), ref, rows / ref))
    shutil.rmtree(base, ignore_errors=True)
    res["gateway_csv"] = (rows / secs, rows / ref)
    res["rss_gateway_csv"] = hwm


# -------------------------------------------------------------- ingest_sealed

def make_pki(build, directory, gateways):
    """Keys the way an operator makes them (tests/integration/harness.py
    make_pki), in the bench's temp dir, never checked-in files: a CA
    (`suido ca init`), the platform's data-protection certificate and one per
    gateway (`suido ca issue`), and a CRL (`suido ca crl`)."""
    ca, pki = os.path.join(directory, "ca"), os.path.join(directory, "pki")
    os.makedirs(pki, exist_ok=True)

    def suido(*args):
        r = subprocess.run([os.path.join(build, "suido"), "ca", *args], capture_output=True,
                           text=True, timeout=120)
        if r.returncode != 0:
            raise BenchError("suido ca %s failed:\n%s%s" % (" ".join(args), r.stdout, r.stderr))

    suido("init", "--dir", ca, "--cn", "suido bench root")
    out = {"ca": os.path.join(ca, "ca.crt"), "crl": os.path.join(pki, "crl.pem"), "gw": {}}
    prefix = os.path.join(pki, "platform-dp")
    suido("issue", "--dir", ca, "--profile", "platform", "--use", "data-protection",
          "--cn", "suido bench platform", "--out", prefix)
    out["platform_key"], out["platform_cert"] = prefix + ".key", prefix + ".crt"
    for gw in gateways:
        prefix = os.path.join(pki, gw)
        suido("issue", "--dir", ca, "--profile", "gateway", "--use", "data-protection",
              "--cn", gw, "--out", prefix)
        out["gw"][gw] = (prefix + ".key", prefix + ".crt")
    suido("crl", "--dir", ca, "--out", out["crl"])
    return out


def openssl_rsa2048_sign_per_s(seconds=3):
    """`openssl speed rsa2048`: RSA-2048 private-key operations (sign) per second."""
    r = subprocess.run(["openssl", "speed", "-seconds", str(seconds), "rsa2048"],
                       capture_output=True, text=True, timeout=120)
    m = re.search(r"^rsa\s+2048 bits\s+\S+\s+\S+\s+([\d.]+)\s+([\d.]+)", r.stdout, re.M)
    if r.returncode != 0 or not m:
        raise BenchError("openssl speed rsa2048 gave no figure:\n" + r.stdout[-1000:] + r.stderr[-1000:])
    return float(m.group(1))


def sealed_round(build, base, pki, n_msgs, per_msg, n_items, window):
    """One ingest_sealed measurement on a fresh stack whose gateway is
    "format = json". Returns (messages/s, platform CPU seconds per message)."""
    gw = "bench-gw"
    st = Stack(build, base, "bench", [gw], pki=pki)
    try:
        st.start_broker()
        st.start_platform()
        os.sync()  # start each measurement with no writeback pending
        m0 = st.metrics()
        # bench_ingest seals every message before its clock starts; the
        # platform's CPU is read around the whole bench_ingest run, during
        # which the platform does nothing but store the warm-up and the run.
        c0 = [cpu_seconds(st.pid(n)) for n in ("platform", "mosquitto")]
        out = run_kv([os.path.join(build, "bench_ingest"), "--seal", pki["gw"][gw][0],
                      pki["platform_cert"], "127.0.0.1", str(st.mqtt_port), "bench", gw,
                      str(n_msgs), str(per_msg), str(n_items), str(window)], timeout=600)
        cpu = [cpu_seconds(st.pid(n)) - c for n, c in zip(("platform", "mosquitto"), c0)]
        m1 = st.metrics()
        st.check_alive()
    finally:
        st.stop()
    if out.get("sealed") != "1" or int(out["failed"]) != 0:
        raise BenchError("bench_ingest did not seal, or not every ack was stored: %r" % out)
    points = int(out["points"])
    secs = float(out["seconds"])
    d_points = m1["points_stored_total"] - m0["points_stored_total"] - n_items  # minus warm-up
    d_commits = m1["db_commits_total"] - m0["db_commits_total"] - 1
    if d_points != points:
        raise BenchError("ingest_sealed: platform stored %d points, expected %d" % (d_points, points))
    # The warm-up (one sealed message of n_items points) is inside the CPU
    # window: count it as one more message.
    cpu_per_msg = cpu[0] / (n_msgs + 1)
    info("ingest_sealed: %.3f s = %.0f msgs/s = %.0f points/s, %d commits; tokens %.1f KB "
         "(plaintext %.1f KB), sealed beforehand in %.2f s; CPU platform %.2f s = %.3f ms/msg, "
         "mosquitto %.2f s"
         % (secs, n_msgs / secs, points / secs, d_commits, int(out["bytes"]) / n_msgs / 1e3,
            int(out["plain_bytes"]) / n_msgs / 1e3, float(out["seal_seconds"]), cpu[0],
            cpu_per_msg * 1e3, cpu[1]))
    shutil.rmtree(base, ignore_errors=True)
    return n_msgs / secs, cpu_per_msg


def bench_sealed(build, tmp, res):
    """Sealed ingest through the broker into SQLite, as ingest_plain but with
    every message a jose_seal token and the gateway "format = json". Ratio:
    one RSA-2048 private operation (openssl speed, same run) over the
    platform's CPU seconds per message."""
    n_msgs = env_int("BENCH_SEALED_MSGS", env_int("BENCH_MSGS", 1000))
    per_msg = env_int("BENCH_POINTS_PER_MSG", 1000)
    n_items = env_int("BENCH_ITEMS", 10)
    window = env_int("BENCH_WINDOW", 64)
    rounds = env_int("BENCH_SEALED_ROUNDS", 3)
    info("ingest_sealed: %d rounds of %d sealed msgs x %d points (%d items), window %d"
         % (rounds, n_msgs, per_msg, n_items, window))
    pki = make_pki(build, os.path.join(tmp, "sealed-pki"), ["bench-gw"])
    rates, cpus, ref = [], [], []
    for k in range(rounds):
        ref.append(openssl_rsa2048_sign_per_s())
        r = sealed_round(build, os.path.join(tmp, "sealed%d" % k), pki, n_msgs, per_msg,
                         n_items, window)
        rates.append(r[0])
        cpus.append(r[1])
    rate, cpu, sign = statistics.median(rates), statistics.median(cpus), statistics.median(ref)
    info("ingest_sealed: median %.0f msgs/s, platform CPU median %.3f ms/msg (all: %s)"
         % (rate, cpu * 1e3, " ".join("%.3f" % (c * 1e3) for c in cpus)))
    info("ingest_sealed reference: openssl speed rsa2048 sign/s: median %.0f = %.3f ms per "
         "private operation (all: %s)" % (sign, 1e3 / sign, " ".join("%.0f" % x for x in ref)))
    res["ingest_sealed"] = (rate, rate * per_msg, (1.0 / sign) / cpu)


# --------------------------------------------------------------------- signin

def bench_signin(build, tmp, res):
    """Password sign-ins per second through the OpenID provider's
    authorization endpoint (GET the form, POST login ID + password, 303 with
    a code), in-process on BENCH_SIGNIN_THREADS threads with one user and one
    source address each, against libsodium's crypto_pwhash (Argon2id, the
    same parameters) on as many threads, alternating in the same process."""
    seconds = env_int("BENCH_SIGNIN_SECONDS", 2)
    rounds = env_int("BENCH_SIGNIN_ROUNDS", 5)
    threads = env_int("BENCH_SIGNIN_THREADS", 2)
    base = os.path.join(tmp, "signin")
    os.makedirs(base)
    kv = run_kv([os.path.join(build, "bench_signin"), base, str(seconds), str(threads),
                 str(rounds)], timeout=120 + 4 * seconds * rounds)
    params = ("Argon2id v1.3, opslimit %s (passes), memlimit %s MiB, parallelism %s; %s threads"
              % (kv["opslimit"], kv["memlimit_mib"], kv["parallelism"], kv["threads"]))
    info("signin: %d rounds of %d s reference then %d s sign-ins; %s" % (rounds, seconds, seconds,
                                                                          params))
    info("signin: GET + POST /oidc/authorize: median %.1f sign-ins/s (rounds: %s); %.3f ms per GET, "
         "%.1f ms per POST per thread; CPU %.1f ms per sign-in"
         % (float(kv["signins_per_s"]), kv["signins"], float(kv["get_ms"]), float(kv["post_ms"]),
            float(kv["signin_cpu_ms"])))
    info("signin reference: crypto_pwhash Argon2id: median %.1f hashes/s (rounds: %s); CPU %.1f ms "
         "per hash; per-round ratios %s" % (float(kv["hashes_per_s"]), kv["hashes"],
                                            float(kv["hash_cpu_ms"]), kv["ratios"]))
    shutil.rmtree(base, ignore_errors=True)
    res["signin"] = (float(kv["signins_per_s"]), float(kv["ratio"]), params)


# --------------------------------------------------------------------- bearer

def bench_bearer(build, tmp, res):
    """oidc_check_access_token of a provider-issued access token, in-process,
    as a fraction of a minimal authorized AP request (GET .../items of a
    utility without items) over loopback HTTP on one keep-alive connection."""
    seconds = env_int("BENCH_BEARER_SECONDS", 1)
    rounds = env_int("BENCH_BEARER_ROUNDS", 7)
    base = os.path.join(tmp, "bearer")
    os.makedirs(base)
    kv = run_kv([os.path.join(build, "bench_bearer"), base, str(seconds), str(rounds)],
                timeout=120 + 3 * seconds * rounds)
    if int(kv["connects"]) != 0:
        raise BenchError("bearer: the AP interface did not keep the connection alive")
    check, req, frac = float(kv["check_us"]), float(kv["request_us"]), float(kv["fraction"])
    info("bearer: oidc_check_access_token (%s-byte RS256 token): median %.1f us per check "
         "(%s checks)" % (kv["token_bytes"], check, kv["checks"]))
    info("bearer: GET /ap/v1/utilities/bench/items (empty), one keep-alive connection: median "
         "%.1f us per request (%s requests)" % (req, kv["requests"]))
    info("bearer: token check / request = %.3f (per round: %s)" % (frac, kv["fractions"]))
    info("bearer: in CPU time (client and server are one process): %.1f us per check, %.1f us per "
         "request, fraction %.3f" % (float(kv["check_cpu_us"]), float(kv["request_cpu_us"]),
                                     float(kv["cpu_fraction"])))
    shutil.rmtree(base, ignore_errors=True)
    res["bearer"] = (frac, check, req)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--tmp", required=True)
    a = ap.parse_args()
    build = os.path.abspath(a.build)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    only = set(filter(None, os.environ.get(
        "BENCH_ONLY", "ingest,query,gateway,open,sealed,csv,signin,bearer").split(",")))
    res = {}
    t_start = time.time()
    print("suido bench: build %s, %s" % (build, time.strftime("%Y-%m-%d %H:%M:%S %Z")), flush=True)
    try:
        if "ingest" in only:
            bench_ingest(build, a.tmp, res)
        if "query" in only:
            bench_query(build, a.tmp, res)
        if "gateway" in only:
            bench_gateway(build, a.tmp, res)
        if "open" in only:
            bench_open_json(build, res)
        if "sealed" in only:
            bench_sealed(build, a.tmp, res)
        if "csv" in only:
            bench_gateway_csv(build, a.tmp, res)
        if "signin" in only:
            bench_signin(build, a.tmp, res)
        if "bearer" in only:
            bench_bearer(build, a.tmp, res)
    except (BenchError, subprocess.TimeoutExpired) as e:
        print("bench: FAILED: %s" % e, file=sys.stderr, flush=True)
        return 1
    except (KeyError, ValueError, IndexError, OSError) as e:
        # e.g. a helper from an older build printing other keys: rebuild.
        traceback.print_exc()
        print("bench: FAILED: %r (is %s up to date?)" % (e, build), file=sys.stderr, flush=True)
        return 1
    info("total %.0f s" % (time.time() - t_start))
    lines = []
    if "ingest_plain" in res:
        ours, ref = res["ingest_plain"]
        lines.append("bench ingest_plain: %.0f points/s ratio=%.2f" % (ours, ours / ref))
    if "query_range" in res:
        ours, ref = res["query_range"]
        lines.append("bench query_range: %.0f points/s ratio=%.2f" % (ours, ours / ref))
    if "rss_platform" in res:
        v = res["rss_platform"]
        lines.append("bench rss_platform: %.1f MiB ratio=%.2f" % (v, PLATFORM_RSS_BUDGET_MIB / v))
    if "rss_gateway" in res:
        v = res["rss_gateway"]
        lines.append("bench rss_gateway: %.1f MiB ratio=%.2f" % (v, GATEWAY_RSS_BUDGET_MIB / v))
    if "gateway_ingest" in res and "ingest_ref_rate" in res:
        v = res["gateway_ingest"]
        lines.append("bench gateway_ingest: %.0f points/s ratio=%.2f" % (v, v / res["ingest_ref_rate"]))
    if "open_json" in res:
        ours, ref = res["open_json"]
        lines.append("bench open_json: %.0f opens/s ratio=%.2f" % (ours, ours / ref))
    if "ingest_sealed" in res:
        msgs, points, ratio = res["ingest_sealed"]
        lines.append("bench ingest_sealed: %.0f messages/s ratio=%.2f" % (msgs, ratio))
        lines.append("bench ingest_sealed_points: %.0f points/s ratio=%.2f" % (points, ratio))
    if "gateway_csv" in res:
        ours, ref = res["gateway_csv"]
        lines.append("bench gateway_csv: %.0f rows/s ratio=%.2f" % (ours, ours / ref))
    if "rss_gateway_csv" in res:
        v = res["rss_gateway_csv"]
        lines.append("bench rss_gateway_csv: %.1f MiB ratio=%.2f" % (v, GATEWAY_RSS_BUDGET_MIB / v))
    if "signin" in res:
        rate, ratio, params = res["signin"]
        lines.append("bench signin: %.1f signins/s ratio=%.2f" % (rate, ratio))
        lines.append("  signin parameters: " + params)
    if "bearer" in res:
        frac, check, req = res["bearer"]
        # The figure is the share of a request's time (lower is better); its
        # ratio is the inverse, requests' time per check, so higher is better.
        lines.append("bench bearer: %.1f %% ratio=%.2f" % (100 * frac, 1 / frac))
        lines.append("  bearer times: %.1f us per token check, %.1f us per minimal request"
                     % (check, req))
    print("\n".join(lines), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
