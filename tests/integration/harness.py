"""Shared helpers of the integration tests: real programs and real servers
(mosquitto, suido-platform, suido-gateway) started on loopback under a
temporary directory, an AP interface client, and an independent reading of
the sample CSV files (Python's own csv, codecs and zoneinfo: not our C code),
so the tests compare suido against a second implementation."""

import csv
import datetime as dt
import io
import json
import os
import pwd
import secrets
import base64
import hashlib
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from zoneinfo import ZoneInfo

SOURCE = os.environ.get("SUIDO_SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
BUILD = os.environ.get("SUIDO_BINARY_DIR", os.path.join(SOURCE, "build"))
SAMPLES = os.environ.get("SUIDO_SAMPLES", os.path.join(SOURCE, "..", "shared", "samples", "csv"))
JST = ZoneInfo("Asia/Tokyo")
MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


SUIDO = os.path.join(BUILD, "suido")


def make_pki(directory, gateways=("demo-gw1",), revoked=(), applications=(), broker_dns=()):
    """Keys the way an operator makes them, never checked-in files: a CA in
    directory/ca (`suido ca init`), the platform's data-protection certificate
    and one per gateway (`suido ca issue`, profiles platform / gateway, use
    data-protection) under directory/pki, the gateways in `revoked` revoked,
    and a CRL (`suido ca crl`); and for MQTT over TLS the broker's server
    certificate (CN and DNS localhost, 127.0.0.1 in its SAN), the platform's
    TLS client certificate (CN suido-platform, its broker user name) and one
    per gateway (CN = gateway id); and for the AP interface over HTTPS the
    platform's TLS server certificate (CN and DNS localhost, 127.0.0.1 in its
    SAN). Returns {"ca", "crl", "platform_key", "platform_cert", "gw": {id:
    (key, cert)}, "broker": (key, cert), "api": (key, cert), "platform_tls":
    (key, cert), "gw_tls": {id: (key, cert)}, "app": {id: (key, cert)}} with
    a data-protection certificate (profile application) per application id.
    broker_dns: more host names in the broker's certificate (--dns each), for
    a gateway that reaches the broker by another name than localhost
    (test_outage: across network namespaces)."""
    ca, pki = os.path.join(directory, "ca"), os.path.join(directory, "pki")
    os.makedirs(pki, exist_ok=True)

    def suido(*args):
        r = subprocess.run([SUIDO, "ca", *args], capture_output=True, text=True)
        assert r.returncode == 0, (args, r.stdout, r.stderr)
        return r.stdout

    suido("init", "--dir", ca, "--cn", "suido test root")
    out = {"ca": os.path.join(ca, "ca.crt"), "crl": os.path.join(pki, "crl.pem"), "gw": {},
           "gw_tls": {}, "app": {}}

    def tls(name, profile, use, cn, *more, revoke=False):
        prefix = os.path.join(pki, name)
        text = suido("issue", "--dir", ca, "--profile", profile, "--use", use, "--cn", cn, *more,
                     "--out", prefix)
        if revoke:
            serial = [l.split("=", 1)[1].strip() for l in text.splitlines() if l.startswith("serial")][0]
            suido("revoke", "--dir", ca, "--serial", serial, "--reason", "keyCompromise")
        return prefix + ".key", prefix + ".crt"

    out["broker"] = tls("broker", "platform", "tls-server", "localhost", "--dns", "localhost",
                        *[a for d in broker_dns for a in ("--dns", d)])
    out["api"] = tls("api-tls", "platform", "tls-server", "localhost", "--dns", "localhost")
    out["platform_tls"] = tls("platform-tls", "platform", "tls-client", "suido-platform")
    prefix = os.path.join(pki, "platform-dp")
    suido("issue", "--dir", ca, "--profile", "platform", "--use", "data-protection",
          "--cn", "suido platform", "--out", prefix)
    out["platform_key"], out["platform_cert"] = prefix + ".key", prefix + ".crt"
    for gw in list(gateways) + [g for g in revoked if g not in gateways]:
        prefix = os.path.join(pki, gw)
        text = suido("issue", "--dir", ca, "--profile", "gateway", "--use", "data-protection",
                     "--cn", gw, "--out", prefix)
        out["gw"][gw] = (prefix + ".key", prefix + ".crt")
        out["gw_tls"][gw] = tls(gw + "-tls", "gateway", "tls-client", gw, revoke=gw in revoked)
        if gw in revoked:
            serial = [l.split("=", 1)[1].strip() for l in text.splitlines() if l.startswith("serial")][0]
            suido("revoke", "--dir", ca, "--serial", serial, "--reason", "keyCompromise")
    for app in applications:
        out["app"][app] = tls(app, "application", "data-protection", app)
    suido("crl", "--dir", ca, "--out", out["crl"])
    return out


def seal(payload, key, to, kid):
    """`suido seal --format json` of payload (bytes or str): the JWE token."""
    if isinstance(payload, str):
        payload = payload.encode()
    r = subprocess.run([SUIDO, "seal", "--format", "json", "--key", key, "--to", to, "--kid", kid],
                       input=payload, capture_output=True)
    assert r.returncode == 0, r.stderr
    return r.stdout


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_port_range(n, lo=20000, hi=60000):
    """A first port p such that p .. p+n-1 are all free on loopback now
    (vsftpd's passive range)."""
    import random
    for _ in range(200):
        base = random.randrange(lo, hi - n)
        socks = []
        try:
            for p in range(base, base + n):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", p))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise AssertionError("no free port range of %d" % n)


def iso_utc(t):
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def unit_of(header):
    for o, c in (("(", ")"), ("（", "）")):
        if header.endswith(c) and o in header:
            return header[header.rindex(o) + 1:-1]
    return ""


# The billing layout's personal columns and how the demo mapping masks them.
MASKED_BILLING = {"お客様番号": "s", "氏名": "r", "住所": "r"}


class Masked(str):
    """An expected value the gateway masks: the clear text (a str), and the
    token mode ("s" deterministic, "r" randomized) it must arrive in."""

    def __new__(cls, clear, mode):
        o = str.__new__(cls, clear)
        o.mode = mode
        return o


def expected_from_samples(samples=SAMPLES):
    """{(facility, name): {"unit": u, "values": {iso_utc: float or Masked}}}
    for the three sample layouts, read with Python's csv module."""
    out = {}

    def put(fac, name, unit, t, v):
        e = out.setdefault((fac, name), {"unit": unit, "values": {}})
        e["values"][iso_utc(t)] = v

    for path in sorted(os.listdir(samples)):
        raw = open(os.path.join(samples, path), "rb").read()
        text = raw[3:].decode("utf-8") if raw.startswith(b"\xef\xbb\xbf") else None
        if text is None:
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                text = raw.decode("cp932")
        rows = list(csv.reader(io.StringIO(text, newline="")))
        header, data = rows[0], [r for r in rows[1:] if r]
        if header[0] == "日時":
            for r in data:
                t = dt.datetime.strptime(r[0], "%Y/%m/%d %H:%M").replace(tzinfo=JST)
                for h, cell in zip(header[1:], r[1:]):
                    put("配水池", h, unit_of(h), t, float(cell))
        elif header[:3] == ["timestamp", "station", "item"]:
            for ts, st, item, val, unit in data:
                put(st, item, unit, dt.datetime.fromisoformat(ts), float(val))
        elif "検針日" in header:
            ix = {h: i for i, h in enumerate(header)}
            for r in data:
                t = dt.datetime.strptime(r[ix["検針日"]], "%Y/%m/%d").replace(tzinfo=JST)
                for h in ("今回指針", "前回指針", "使用水量(m3)", "請求額(円)"):
                    put(r[ix["メーター番号"]], h, unit_of(h), t, float(r[ix[h]].replace(",", "")))
                for h, mode in MASKED_BILLING.items():
                    put(r[ix["メーター番号"]], h, "", t, Masked(r[ix[h]].strip(), mode))
        else:
            raise AssertionError("unknown sample layout: " + path)
    return out


def tls_context(cafile):
    """A client TLS context trusting only cafile, verifying the certificate
    and the host name (Python's defaults: TLS 1.2 or later)."""
    return ssl.create_default_context(cafile=cafile)


class Api:
    """An AP interface client. An https:// base needs cafile (the root the
    platform's certificate must chain to); http:// (stacks without TLS, the
    benchmarks) takes none."""

    def __init__(self, base, token, cafile=None):
        self.base, self.token = base.rstrip("/"), token
        assert base.startswith("https://") == (cafile is not None), (base, cafile)
        self.context = tls_context(cafile) if cafile else None

    def get(self, path, token=None, params=None):
        url = self.base + path
        if params:
            url += "?" + urllib.parse.urlencode(params)
        req = urllib.request.Request(url)
        tok = self.token if token is None else token
        if tok:
            req.add_header("Authorization", "Bearer " + tok)
        try:
            with urllib.request.urlopen(req, timeout=10, context=self.context) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            body = e.read()
            try:
                return e.code, json.loads(body)
            except ValueError:
                return e.code, body

    def all_values(self, utility, item, frm="2000-01-01T00:00:00Z", to="2100-01-01T00:00:00Z"):
        q = "/utilities/%s/items/%s/values" % (utility, urllib.parse.quote(item, safe=""))
        params, out = {"from": frm, "to": to}, []
        while True:
            st, body = self.get(q, params=params)
            assert st == 200, (st, body)
            out += body["values"]
            if not body["next"]:
                return out
            params["cursor"] = body["next"]

    def snapshot(self, utility):
        """{(facility, name): {"unit", "id", "values": {t: v}}} as served."""
        st, body = self.get("/utilities/%s/items" % utility)
        if st != 200:
            return {}
        out = {}
        for it in body["items"]:
            vals = {}
            for p in self.all_values(utility, it["id"]):
                assert p["t"] not in vals, "duplicate instant %s in %s" % (p["t"], it["id"])
                vals[p["t"]] = p["v"]
            out[(it["facility"], it["name"])] = {"unit": it["unit"], "id": it["id"], "values": vals}
        return out


def unmask(tokens, key):
    """{token: clear} by `suido unmask` (one run for all of them)."""
    tokens = sorted(set(tokens))
    if not tokens:
        return {}
    r = subprocess.run([SUIDO, "unmask", "--key", key], input="\n".join(tokens) + "\n",
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return dict(zip(tokens, r.stdout.split("\n")))


def compare(expected, served, mask_key=None):
    """Returns a list of differences (empty when served == expected). A
    Masked expectation must be served as a token of its mode that is not the
    clear text; with mask_key it must also unmask to the clear text."""
    diffs = []
    tokens = [s_v for key, e in expected.items() for t, v in e["values"].items()
              if isinstance(v, Masked) and key in served
              for s_v in [served[key]["values"].get(t)] if isinstance(s_v, str)]
    opened = unmask(tokens, mask_key) if mask_key else {}
    for key, e in expected.items():
        s = served.get(key)
        if s is None:
            diffs.append("missing item %s" % (key,))
            continue
        if s["unit"] != e["unit"]:
            diffs.append("unit of %s: %r != %r" % (key, s["unit"], e["unit"]))
        for t, v in e["values"].items():
            if t not in s["values"]:
                diffs.append("missing %s %s" % (key, t))
            elif isinstance(v, Masked):
                got = s["values"][t]
                if not isinstance(got, str) or not got.startswith("~m1.%s." % v.mode) \
                        or v in got:
                    diffs.append("value %s %s: %r is not a %s-mode token" % (key, t, got, v.mode))
                elif mask_key and opened.get(got) != str(v):
                    diffs.append("value %s %s: unmasks to %r, not %r"
                                 % (key, t, opened.get(got), str(v)))
            elif s["values"][t] != v:
                diffs.append("value %s %s: %r != %r" % (key, t, s["values"][t], v))
        for t in s["values"]:
            if t not in e["values"]:
                diffs.append("unexpected %s %s" % (key, t))
    for key in served:
        if key not in expected:
            diffs.append("unexpected item %s" % (key,))
    return diffs


class Stack:
    """mosquitto + suido-platform + suido-gateway under one temp dir, each
    process startable and killable on its own (for the crash tests)."""

    def __init__(self, utility="demo", gateway="demo-gw1", extra_gateway_conf="", keep=False,
                 other_gateways=(), revoked_gateways=(), applications=None,
                 gateway_platform_conf="",
                 extra_platform_conf="", gateway_format="json", ftp=False,
                 ftp_users=("sender1", "sender2"), ftp_conf="",
                 broker_listen="127.0.0.1", broker_dns=(), gateway_mqtt_host=None,
                 gateway_wrapper=(), provision=True):
        """other_gateways and revoked_gateways are registered on the platform
        too (format json, certificates from the same CA; the revoked ones are
        in the CRL the platform reads) but not started. gateway_format is the
        [security] format of the started gateway, on both sides (json or xml).
        ftp=True also configures vsftpd (scripts/ftp.sh, loopback, one
        account per name in ftp_users with a random password: ftp_passwords)
        and the gateway's [ftp] section (plus the lines in ftp_conf); start()
        starts it first.
        For a gateway elsewhere on the network (test_outage; the defaults
        keep everything on loopback): broker_listen is the address of the
        broker's listener ("" = every address of its network namespace; the
        platform still connects to 127.0.0.1), broker_dns more host names in
        the broker's certificate, gateway_mqtt_host the [mqtt] host of the
        gateway (default: none, i.e. 127.0.0.1), gateway_wrapper an argv
        prefix start_gateway runs the gateway under (e.g. ip netns exec NS).
        provision=False: no provision() once healthy (no application, no
        token; for an external issuer, where the built-in provider is off)."""
        self.dir = tempfile.mkdtemp(prefix="suido-it-")
        self.utility, self.gateway, self.keep = utility, gateway, keep
        self.mqtt_port, self.http_port = free_port(), free_port()
        # The operator's admin token; the AP tokens (self.token for the
        # harness's own application "it-<utility>", app_tokens for the
        # named applications) come from the platform's OpenID provider by
        # client credentials once the platform is up (provision()).
        self.admin_token = secrets.token_hex(32)
        self.token = None
        self.provisioned = not provision
        self.app_secrets = {}
        self.procs = {}
        self.spool = os.path.join(self.dir, "gateway", "spool")
        self.receipts = os.path.join(self.dir, "gateway", "receipts")
        for d in ("mosquitto", "platform", "gateway/spool", "log"):
            os.makedirs(os.path.join(self.dir, d), exist_ok=True)
        # applications: {id: utility}; each gets a bearer token (app_tokens)
        # and a data-protection certificate (pki["app"]); utilities other than
        # the stack's own are registered too
        applications = dict(applications or {})
        self.pki = make_pki(self.dir, [gateway] + list(other_gateways), revoked_gateways,
                            list(applications), broker_dns=broker_dns)
        self.gateway_wrapper = list(gateway_wrapper)
        self.applications = applications
        self.app_tokens = {}
        # the utility's mask key: the demo mapping masks the billing file's
        # customer number, name and address with it
        self.mask_key = os.path.join(self.dir, "gateway", "mask.key")
        subprocess.run([SUIDO, "mask-key", "new", "--out", self.mask_key], check=True,
                       stdout=subprocess.DEVNULL)
        broker_key, broker_crt = self.pki["broker"]
        # Gateways may only use their own topics (their certificate CN is their
        # broker user name); the platform reads every data topic, answers on
        # every ack topic, commands every gateway and reads their health and
        # status. "it-attacker" (test_bad_input) stands for a client
        # that got past the broker's ACLs: the platform must still refuse it.
        self._write("acl", """user suido-platform
topic read suido/v1/+/+/data
topic read suido/v1/+/+/file
topic write suido/v1/+/+/ack
topic write suido/v1/+/+/command
topic write suido/v1/+/+/certificates
topic read suido/v1/+/+/health
topic read suido/v1/+/+/status

user it-attacker
topic readwrite suido/v1/#

pattern write suido/v1/+/%u/data
pattern write suido/v1/+/%u/file
pattern write suido/v1/+/%u/status
pattern write suido/v1/+/%u/health
pattern read suido/v1/+/%u/ack
pattern read suido/v1/+/%u/command
pattern read suido/v1/+/%u/certificates
""")
        # user: started as root, mosquitto would switch to the mosquitto user
        # after loading its configuration, who cannot read the ACL file here
        self._write("mosquitto.conf", f"""user {pwd.getpwuid(os.getuid()).pw_name}
listener {self.mqtt_port}{" " + broker_listen if broker_listen else ""}
cafile {self.pki["ca"]}
certfile {broker_crt}
keyfile {broker_key}
require_certificate true
use_identity_as_username true
crlfile {self.pki["crl"]}
tls_version tlsv1.2
allow_anonymous false
acl_file {self.dir}/acl
persistence true
persistence_location {self.dir}/mosquitto/
autosave_interval 1
max_queued_messages 100000
set_tcp_nodelay true
""")
        more = "".join(f"""[gateway {g}]
utility = {utility}
certificate = {self.pki["gw"][g][1]}
""" for g in list(other_gateways) + list(revoked_gateways))
        for u in sorted(set(applications.values()) - {utility}):
            more += "[utility %s]\n" % u
        for a, u in applications.items():
            more += "[application %s]\ncertificate = %s\n" % (a, self.pki["app"][a][1])
        more += extra_platform_conf
        admin_sha = hashlib.sha256(self.admin_token.encode()).hexdigest()
        if "[admin]" not in extra_platform_conf:
            # it-portal: the first-party client users act on the admin API through
            more += "[admin]\napi_token_sha256 = %s\nclients = it-portal\n" % admin_sha
        self._write("platform.conf", f"""[platform]
database = {self.dir}/platform/platform.db
timezone = Asia/Tokyo
[http]
listen = 127.0.0.1
port = {self.http_port}
certfile = {self.pki["api"][1]}
keyfile = {self.pki["api"][0]}
access_log = {self.dir}/platform/access.log
[mqtt]
port = {self.mqtt_port}
cafile = {self.pki["ca"]}
certfile = {self.pki["platform_tls"][1]}
keyfile = {self.pki["platform_tls"][0]}
[security]
key = {self.pki["platform_key"]}
certificate = {self.pki["platform_cert"]}
ca = {self.pki["ca"]}
crl = {self.pki["crl"]}
[oidc]
access_ttl_s = 86400
[utility {utility}]
[gateway {gateway}]
utility = {utility}
format = {gateway_format}
certificate = {self.pki["gw"][gateway][1]}
{gateway_platform_conf}
{more}""")
        mqtt_host_line = "host = %s\n" % gateway_mqtt_host if gateway_mqtt_host else ""
        self._write("gateway.conf", f"""[gateway]
id = {gateway}
utility = {utility}
state_dir = {self.dir}/gateway
spool_dir = {self.spool}
mapping = {SOURCE}/etc/mapping-demo.conf
{extra_gateway_conf}
[security]
format = {gateway_format}
key = {self.pki["gw"][gateway][0]}
platform_certificate = {self.pki["platform_cert"]}
ca = {self.pki["ca"]}
mask_key = {self.mask_key}
[mqtt]
{mqtt_host_line}port = {self.mqtt_port}
cafile = {self.pki["ca"]}
certfile = {self.pki["gw_tls"][gateway][1]}
keyfile = {self.pki["gw_tls"][gateway][0]}
""")
        self.ftp = ftp
        if ftp:
            self._setup_ftp(ftp_users, ftp_conf)
        # The AP interface speaks HTTPS only, with a certificate of the CA.
        self.base_url = "https://127.0.0.1:%d" % self.http_port
        self.api = Api(self.base_url + "/ap/v1", None, cafile=self.pki["ca"])

    def _setup_ftp(self, users, conf):
        self.ftp_port = free_port()
        self.ftp_pasv = free_port_range(10)
        self.ftp_dir = os.path.join(self.dir, "ftp-server")
        self.ftp_root = os.path.join(self.dir, "ftp")
        self.ftp_passwords = {u: secrets.token_hex(12) for u in users}
        env = dict(os.environ)
        for u, pw in self.ftp_passwords.items():
            env["SUIDO_FTP_PASSWORD_" + u.upper().replace("-", "_")] = pw
        r = subprocess.run(["bash", os.path.join(SOURCE, "scripts", "ftp.sh"), "setup", self.ftp_dir,
                            self.ftp_root, str(self.ftp_port), str(self.ftp_pasv),
                            str(self.ftp_pasv + 9), *users], env=env, capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        with open(os.path.join(self.dir, "gateway.conf"), "a") as f:
            f.write("[ftp]\nroot = %s\ntransfer_log = %s\n%s\n"
                    % (self.ftp_root, os.path.join(self.ftp_dir, "vsftpd.log"), conf))

    def ftp_url(self, user, path="/", password=None):
        """ftp://user:password@127.0.0.1:port/path (the account's own
        password unless one is given)."""
        pw = self.ftp_passwords[user] if password is None else password
        return "ftp://%s:%s@127.0.0.1:%d%s" % (user, pw, self.ftp_port, path)

    def ftp_receipt_path(self, user, name):
        """Where the gateway keeps its own receipt of an FTP upload."""
        return os.path.join(self.receipts, "ftp", user, name + ".receipt.json")

    def start_ftp(self):
        self._start("vsftpd", [shutil.which("vsftpd") or "/usr/sbin/vsftpd", os.path.join(self.ftp_dir, "vsftpd.conf")])
        end = time.time() + 10
        while time.time() < end:
            try:
                with socket.create_connection(("127.0.0.1", self.ftp_port), timeout=1) as c:
                    if c.recv(64).startswith(b"220"):
                        return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("vsftpd did not start; log:\n" + self.log("vsftpd"))

    def urlopen(self, path, timeout=10):
        """GET base_url + path (/healthz, /metrics) over HTTPS, trusting the
        stack's CA; a context manager like urllib.request.urlopen."""
        return urllib.request.urlopen(self.base_url + path, timeout=timeout,
                                      context=self.api.context)

    def client_cert(self, cn):
        """A TLS client certificate of the stack's CA for another MQTT client
        (its broker user name is cn): (key, cert)."""
        prefix = os.path.join(self.dir, "pki", cn + "-tls")
        r = subprocess.run([SUIDO, "ca", "issue", "--dir", os.path.join(self.dir, "ca"),
                            "--profile", "application", "--use", "tls-client", "--cn", cn,
                            "--out", prefix], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        return prefix + ".key", prefix + ".crt"

    def mqtt_client(self, client_id, cert=None):
        """A paho-mqtt client set up for the stack's broker: TLS verifying the
        broker against the CA, with the TLS client certificate cert (key, crt)
        or none. Not connected yet."""
        import paho.mqtt.client as mqtt
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id) \
            if hasattr(mqtt, "CallbackAPIVersion") else mqtt.Client(client_id=client_id)
        if cert:
            c.tls_set(ca_certs=self.pki["ca"], certfile=cert[1], keyfile=cert[0])
        else:
            c.tls_set(ca_certs=self.pki["ca"])
        return c

    def _write(self, name, text):
        with open(os.path.join(self.dir, name), "w") as f:
            f.write(text)

    def _start(self, name, argv):
        log = open(os.path.join(self.dir, "log", name + ".log"), "ab")
        self.procs[name] = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)

    def start_broker(self):
        self._start("mosquitto", [MOSQUITTO, "-c", os.path.join(self.dir, "mosquitto.conf")])

    def start_platform(self):
        self._start("platform", [os.path.join(BUILD, "suido-platform"), "-c", os.path.join(self.dir, "platform.conf")])

    def start_gateway(self):
        self._start("gateway", self.gateway_wrapper +
                    [os.path.join(BUILD, "suido-gateway"), "-c", os.path.join(self.dir, "gateway.conf")])

    def start(self):
        if self.ftp:
            self.start_ftp()
        self.start_broker()
        self.start_platform()
        self.start_gateway()
        self.wait_healthy()

    def wait_healthy(self, timeout=20):
        end = time.time() + timeout
        while time.time() < end:
            try:
                with self.urlopen("/healthz", timeout=2):
                    if not self.provisioned:
                        self.provision()
                    return
            except OSError:
                time.sleep(0.1)
        raise AssertionError("platform not healthy; log:\n" + self.log("platform"))

    def admin(self, method, path, body=None, token=None):
        """(status, JSON answer) of the admin API as the operator (or token)."""
        req = urllib.request.Request(self.base_url + "/admin/v1" + path, method=method,
                                     data=None if body is None else json.dumps(body).encode())
        req.add_header("Authorization", "Bearer " + (token or self.admin_token))
        if body is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=10, context=tls_context(self.pki["ca"])) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                return e.code, json.loads(raw)
            except ValueError:
                return e.code, raw

    def oidc_token(self, client, secret, **form):
        """(status, JSON answer) of the token endpoint, client_secret_basic."""
        form = dict(form) or {"grant_type": "client_credentials"}
        req = urllib.request.Request(self.base_url + "/oidc/token",
                                     data=urllib.parse.urlencode(form).encode())
        basic = base64.b64encode(("%s:%s" % (urllib.parse.quote(client, safe=""),
                                             urllib.parse.quote(secret, safe=""))).encode())
        req.add_header("Authorization", "Basic " + basic.decode())
        try:
            with urllib.request.urlopen(req, timeout=10, context=tls_context(self.pki["ca"])) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def add_app(self, app, utility, scope=None, vendor="it-vendor"):
        """Registers app (of vendor) granted utility with scope (default all);
        returns its client secret."""
        for tid, kind in ((vendor, "vendor"), (utility, "utility")):
            st, body = self.admin("POST", "/tenants", {"id": tid, "kind": kind, "name": tid})
            assert st in (201, 409), (st, body)
        st, body = self.admin("POST", "/links", {"utility": utility, "vendor": vendor})
        assert st in (201, 409), (st, body)
        st, body = self.admin("POST", "/applications", {"id": app, "vendor": vendor, "name": app,
                                                        "redirect_uris": []})
        assert st == 201, (st, body)
        st, g = self.admin("PUT", "/utilities/%s/grants/%s" % (utility, app),
                           {"scope": scope or {"all": True}})
        assert st in (200, 201), (st, g)
        self.app_secrets[app] = body["client_secret"]
        return body["client_secret"]

    def app_token(self, app):
        st, body = self.oidc_token(app, self.app_secrets[app])
        assert st == 200, (st, body)
        return body["access_token"]

    def provision(self):
        """The harness's application it-<utility> (every item of the stack's
        utility) and the named applications, each with a token."""
        self.provisioned = True
        own = "it-" + self.utility
        self.add_app(own, self.utility)
        self.token = self.api.token = self.app_token(own)
        for a, u in self.applications.items():
            self.add_app(a, u)
            self.app_tokens[a] = self.app_token(a)

    def kill(self, name, sig=signal.SIGKILL):
        p = self.procs.get(name)
        if p and p.poll() is None:
            p.send_signal(sig)
            p.wait(timeout=20)

    def alive(self, name):
        p = self.procs.get(name)
        return p is not None and p.poll() is None

    def log(self, name):
        try:
            return open(os.path.join(self.dir, "log", name + ".log"), errors="replace").read()[-4000:]
        except OSError:
            return ""

    def drop(self, name, data):
        """Delivers a file into the spool atomically (write a dot-name, rename)."""
        tmp = os.path.join(self.spool, "." + name + ".part")
        with open(tmp, "wb") as f:
            f.write(data)
        os.rename(tmp, os.path.join(self.spool, name))

    def receipt(self, name, timeout=30):
        path = os.path.join(self.receipts, name + ".receipt.json")
        end = time.time() + timeout
        while time.time() < end:
            if os.path.exists(path):
                return json.load(open(path))
            time.sleep(0.1)
        raise AssertionError("no receipt for %s; gateway log:\n%s" % (name, self.log("gateway")))

    def stop(self):
        for name in ("gateway", "platform", "mosquitto", "vsftpd"):
            self.kill(name, signal.SIGTERM)
        if self.ftp:
            subprocess.run(["bash", os.path.join(SOURCE, "scripts", "ftp.sh"), "teardown",
                            self.ftp_dir], check=False)
        reports = sanitizer_reports(os.path.join(self.dir, "log"))
        if not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)
        assert not reports, "sanitizer reports:\n" + "\n".join(reports)

    def sign_in(self, client, secret, redirect, login, password, new_password=None,
                totp_secret=None, scope="openid"):
        """Signs login in through the real sign-in page, the way a browser
        does (cookies kept, redirects not followed): the authorization
        request with PKCE S256, the login form (password, and the TOTP code
        of totp_secret by `oathtool --totp -b` when given), the password
        change page when the password was a one-time one (new_password, which
        must then be given), the code from the 303's Location, exchanged at
        the token endpoint as client (an application registered with
        redirect). Returns the token endpoint's JSON answer (access_token,
        id_token, refresh_token); an AssertionError says which step failed."""
        import html
        import http.cookiejar
        import re

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args, **kwargs):
                return None

        ctx = tls_context(self.pki["ca"])
        opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=ctx),
                                             urllib.request.HTTPCookieProcessor(
                                                 http.cookiejar.CookieJar()),
                                             NoRedirect())

        def send(url, form=None):
            data = None if form is None else urllib.parse.urlencode(form).encode()
            try:
                with opener.open(url, data=data, timeout=10) as r:
                    return r.status, r.headers, r.read().decode("utf-8", "replace")
            except urllib.error.HTTPError as e:
                return e.code, e.headers, e.read().decode("utf-8", "replace")

        def hidden(page):
            return {html.unescape(n): html.unescape(v) for n, v in re.findall(
                r'<input type="hidden" name="([^"]*)" value="([^"]*)">', page)}

        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()) \
            .rstrip(b"=").decode()
        state = secrets.token_urlsafe(12)
        url = self.base_url + "/oidc/authorize"
        st, hdr, page = send(url + "?" + urllib.parse.urlencode({
            "client_id": client, "redirect_uri": redirect, "response_type": "code",
            "scope": scope, "state": state, "code_challenge": challenge,
            "code_challenge_method": "S256"}))
        assert st == 200 and 'name="csrf"' in page, ("sign-in page", st, page[:2000])
        otp = ""
        if totp_secret:
            r = subprocess.run(["oathtool", "--totp", "-b", totp_secret], capture_output=True,
                               text=True)
            assert r.returncode == 0, ("oathtool", r.stderr)
            otp = r.stdout.strip()
        st, hdr, page = send(url, dict(hidden(page), login_id=login, password=password, otp=otp))
        if st == 200 and 'name="pending"' in page:
            assert new_password, ("a password change is asked for; give new_password", login)
            st, hdr, page = send(url, dict(hidden(page), new_password=new_password,
                                           new_password2=new_password))
        assert st == 303, ("sign-in refused", login, st, page[:2000])
        loc = urllib.parse.urlsplit(hdr["Location"])
        q = urllib.parse.parse_qs(loc.query)
        assert urllib.parse.urlunsplit(loc._replace(query="", fragment="")) == redirect, loc
        assert q.get("state") == [state] and q.get("code"), ("no code in the redirect", loc)
        st, body = self.oidc_token(client, secret, grant_type="authorization_code",
                                   code=q["code"][0], redirect_uri=redirect,
                                   code_verifier=verifier)
        assert st == 200 and body.get("access_token"), ("code exchange", st, body)
        return body


SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


def sanitizer_reports(logdir):
    """Lines of ASan/LSan/UBSan reports in the programs' logs (sanitizer builds)."""
    out = []
    for name in sorted(os.listdir(logdir)) if os.path.isdir(logdir) else []:
        with open(os.path.join(logdir, name), errors="replace") as f:
            lines = f.read().splitlines()
        for i, l in enumerate(lines):
            if any(m in l for m in SANITIZER_MARKS):
                # the report's stack too, so that a failing run says where
                out.append("%s: %s" % (name, "\n  ".join(x.strip() for x in lines[i:i + 40])))
                break
    return out


def wait_until(pred, timeout, step=0.2):
    end = time.time() + timeout
    while time.time() < end:
        r = pred()
        if r:
            return r
        time.sleep(step)
    return pred()
