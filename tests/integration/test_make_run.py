"""Acceptance: `make run` (scripts/run.sh) serves every value of the three
sample files through the AP interface within 60 s of start, exact, at the
right UTC instant, over HTTPS verified against the CA make run made (named in
endpoints.env); the billing file's customer number, name and address arrive
as tokens of the right masking mode that the demo utility's key (named in
endpoints.env) opens to the file's values, while no byte of the platform's
database, the gateway's queue, the broker's store or any log holds one of
them in clear; and Ctrl-C stops everything it started."""

import json
import base64
import urllib.request
import os
import signal
import subprocess
import sys
import tempfile
import time
import types

sys.path.insert(0, os.path.dirname(__file__))
import harness as h  # noqa: E402


def main():
    var = tempfile.mkdtemp(prefix="suido-run-")
    env = dict(os.environ, SUIDO_VAR=var, SUIDO_BUILD=h.BUILD, SUIDO_RUN_QUIET="1",
               SUIDO_MQTT_PORT=str(h.free_port()), SUIDO_HTTP_PORT=str(h.free_port()),
               SUIDO_FTP_PORT=str(h.free_port()), SUIDO_FTP_PASV=str(h.free_port_range(10)))
    expected = h.expected_from_samples()
    n_points = sum(len(e["values"]) for e in expected.values())
    assert n_points == 48 * 5 + 48 + 10 * 4 + 10 * 3, n_points
    personal = sorted({str(v) for e in expected.values() for v in e["values"].values()
                       if isinstance(v, h.Masked)})
    assert "山田 太郎" in personal and "100200300" in personal, personal
    # spot check the independent reading itself: local midnight JST is 15:00Z
    assert expected[("配水池", "配水池水位(m)")]["values"]["2026-11-19T15:00:00Z"] == 4.5

    t0 = time.time()
    run = subprocess.Popen(["bash", os.path.join(h.SOURCE, "scripts", "run.sh")], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        envfile = os.path.join(var, "run", "endpoints.env")
        assert h.wait_until(lambda: os.path.exists(envfile), 30), run.stdout.read1().decode()
        time.sleep(0.2)
        endpoints = dict(l.strip().split("=", 1) for l in open(envfile) if "=" in l)
        for k in ("SUIDO_API_URL", "SUIDO_API_CA", "SUIDO_UTILITY", "SUIDO_SPOOL_DIR",
                  "SUIDO_MASK_KEY", "SUIDO_OIDC_ISSUER", "SUIDO_DEMO_CLIENT_ID",
                  "SUIDO_DEMO_CLIENT_SECRET", "SUIDO_DEMO_USER", "SUIDO_DEMO_PASSWORD",
                  "SUIDO_DEMO_TOTP_SECRET"):
            assert endpoints.get(k), k
        # static tokens are gone (issue 5)
        assert "SUIDO_API_TOKEN" not in endpoints, endpoints
        # the AP interface is HTTPS, its certificate from make run's own CA
        assert endpoints["SUIDO_API_URL"].startswith("https://127.0.0.1:"), endpoints
        # the demo application's token from the OpenID provider
        issuer = endpoints["SUIDO_OIDC_ISSUER"]
        with urllib.request.urlopen(issuer + "/.well-known/openid-configuration",
                                    context=h.tls_context(endpoints["SUIDO_API_CA"])) as f:
            assert json.loads(f.read())["issuer"] == issuer
        req = urllib.request.Request(issuer + "/oidc/token", data=b"grant_type=client_credentials")
        req.add_header("Authorization", "Basic " + base64.b64encode(
            ("%s:%s" % (endpoints["SUIDO_DEMO_CLIENT_ID"],
                        endpoints["SUIDO_DEMO_CLIENT_SECRET"])).encode()).decode())
        with urllib.request.urlopen(req, context=h.tls_context(endpoints["SUIDO_API_CA"])) as f:
            token = json.loads(f.read())["access_token"]
        api = h.Api(endpoints["SUIDO_API_URL"], token, cafile=endpoints["SUIDO_API_CA"])
        util = endpoints["SUIDO_UTILITY"]

        diffs = ["not polled yet"]
        while time.time() - t0 < 60:
            diffs = h.compare(expected, api.snapshot(util), endpoints["SUIDO_MASK_KEY"])
            if not diffs:
                break
            time.sleep(0.5)
        elapsed = time.time() - t0
        assert not diffs, "after %.1f s: %d differences, e.g. %s" % (elapsed, len(diffs), diffs[:5])
        print("all %d points of %d items served exactly after %.1f s" % (n_points, len(expected), elapsed))
        # without a token the AP interface is closed
        st, _ = api.get("/utilities/%s/items" % util, token="")
        assert st == 401, st
        # the demo user signs in through the real sign-in page with the password
        # and TOTP secret of endpoints.env (make run already changed the
        # one-time password); a code of the step make run used would be a
        # replay, so wait for the next step
        made = os.path.getmtime(envfile)
        while int(time.time()) // 30 <= int(made) // 30:
            time.sleep(0.5)
        ns = types.SimpleNamespace(pki={"ca": endpoints["SUIDO_API_CA"]}, base_url=issuer)
        ns.oidc_token = types.MethodType(h.Stack.oidc_token, ns)
        tok = h.Stack.sign_in(ns, endpoints["SUIDO_DEMO_CLIENT_ID"],
                              endpoints["SUIDO_DEMO_CLIENT_SECRET"],
                              endpoints["SUIDO_DEMO_REDIRECT_URI"], endpoints["SUIDO_DEMO_USER"],
                              endpoints["SUIDO_DEMO_PASSWORD"],
                              totp_secret=endpoints["SUIDO_DEMO_TOTP_SECRET"],
                              scope="openid profile ap.read")
        st, body = api.get("/utilities/%s/items" % util, token=tok["access_token"])
        assert st == 200 and body["items"], (st, body)
        print("demo user %s signed in (password + TOTP) and read %d items" %
              (endpoints["SUIDO_DEMO_USER"], len(body["items"])))
        # `suido app client-config` (the vendor's configuration, keycloak.json's
        # role) against the real platform: a new secret that works, the old one
        # refused at once
        cfgfile = os.path.join(var, "run", "demo-app-new.json")
        r = subprocess.run([h.SUIDO, "app", "client-config", "demo-app", "--out", cfgfile],
                           env=dict(os.environ, **{k: endpoints[k] for k in
                                                   ("SUIDO_ADMIN_URL", "SUIDO_ADMIN_TOKEN",
                                                    "SUIDO_API_CA")}),
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        conf = json.load(open(cfgfile))
        assert conf["issuer"] == issuer and conf["client_id"] == "demo-app", conf
        assert oct(os.stat(cfgfile).st_mode & 0o777) == "0o600", oct(os.stat(cfgfile).st_mode)
        st, _ = h.Stack.oidc_token(ns, "demo-app", conf["client_secret"])
        assert st == 200, st
        st, _ = h.Stack.oidc_token(ns, "demo-app", endpoints["SUIDO_DEMO_CLIENT_SECRET"])
        assert st == 401, st
        print("suido app client-config: a new secret that works; the old one refused")
        if os.getuid() == 0:
            # FTP intake (root only: chroot, PAM): the demo account delivers a
            # sample again and fetches its receipt over FTP: a duplicate
            for k in ("SUIDO_FTP_URL", "SUIDO_FTP_USER", "SUIDO_FTP_PASSWORD"):
                assert endpoints.get(k), k
            url, auth = endpoints["SUIDO_FTP_URL"], "%s:%s" % (
                endpoints["SUIDO_FTP_USER"], endpoints["SUIDO_FTP_PASSWORD"])
            assert url.startswith("ftp://127.0.0.1:"), url
            sample = sorted(os.listdir(h.SAMPLES))[0]
            r = subprocess.run(["curl", "-sS", "--max-time", "20", "--user", auth, "-T",
                                os.path.join(h.SAMPLES, sample), url + "again.csv"],
                               capture_output=True)
            assert r.returncode == 0, r.stderr

            def ftp_receipt():
                r = subprocess.run(["curl", "-sS", "--max-time", "20", "--user", auth,
                                    url + "receipts/again.csv.receipt.json"], capture_output=True)
                return r.returncode == 0 and json.loads(r.stdout)
            rec = h.wait_until(ftp_receipt, 20)
            assert rec and rec["status"] == "duplicate", rec
            print("FTP intake: a sample delivered again over FTP, its receipt (duplicate) "
                  "fetched over FTP")
    finally:
        os.killpg(run.pid, signal.SIGINT)
        out = run.communicate(timeout=30)[0].decode(errors="replace")
    assert "run: stopped" in out, out[-2000:]
    # the clear personal values exist only in the utility's own file (the
    # spool and done/ of the gateway): nowhere else under var/, in UTF-8 or CP932
    needles = [(p, enc, p.encode(enc)) for p in personal for enc in ("utf-8", "cp932")]
    scanned = 0
    for root, _, files in os.walk(var):
        rel = os.path.relpath(root, var)
        if rel.startswith(os.path.join("gateway", "done")) or \
                rel.startswith(os.path.join("gateway", "spool")):
            continue
        for name in files:
            data = open(os.path.join(root, name), "rb").read()
            scanned += len(data)
            for p, enc, b in needles:
                assert b not in data, "%r (%s) in clear in %s" % (p, enc, os.path.join(rel, name))
    assert scanned > 100000, scanned
    print("%d personal values: none in clear in %d bytes of databases, queue, broker store "
          "and logs" % (len(personal), scanned))
    reports = h.sanitizer_reports(os.path.join(var, "log"))
    assert not reports, "sanitizer reports:\n" + "\n".join(reports)
    # nothing it started is left running
    left = subprocess.run(["pgrep", "-f", var], capture_output=True, text=True).stdout.strip()
    assert not left, "processes left running: " + left
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
