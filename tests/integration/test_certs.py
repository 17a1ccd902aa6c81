"""Acceptance (issue 4: certificate retrieval; "certificate rotation on the
platform reaches the gateway without restart"), with the real programs:

- At start the platform publishes each gateway's certificate bundle
  (retained, signed); the gateway verifies it against its own root and keeps
  the platform's data-protection certificate, the root, the CRL and the
  application certificates of its utility in state_dir/certs/.
- Rotation: the operator issues a new data-protection certificate and key for
  the platform from the same CA and restarts the platform with the old key as
  previous_key; the gateway, never restarted, takes the new bundle, seals to
  the new certificate and data keeps arriving; with the old key gone from the
  platform entirely, data still arrives (so the gateway really seals to the
  new certificate).
- Forged bundles on the gateway's topic are refused and change nothing: a
  platform certificate from another CA, a bundle not signed by the key of the
  certificate it carries, an older seq, another gateway's bundle."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import harness as h  # noqa: E402

FAILED = []


def check(name, cond, detail=""):
    if cond:
        print("ok   " + name)
    else:
        print("FAIL %s %s" % (name, detail))
        FAILED.append(name)


def ca(*args):
    r = subprocess.run([h.SUIDO, "ca", *args], capture_output=True, text=True)
    assert r.returncode == 0, (args, r.stderr)
    return r.stdout


def sign(payload, key):
    r = subprocess.run([h.SUIDO, "sign", "--format", "json", "--key", key, "--kid", "platform"],
                       input=json.dumps(payload).encode(), capture_output=True)
    assert r.returncode == 0, r.stderr
    return r.stdout


def points(st):
    return sum(len(e["values"]) for e in st.api.snapshot(st.utility).values())


def drop(st, sample, name):
    shutil.copy(os.path.join(h.SAMPLES, sample), os.path.join(st.spool, "." + name))
    os.rename(os.path.join(st.spool, "." + name), os.path.join(st.spool, name))
    st.receipt(name)


def main():
    st = h.Stack(applications={"app-a": "demo"})
    certs = os.path.join(st.dir, "gateway", "certs")
    try:
        st.start()
        st.wait_healthy()
        ok = h.wait_until(lambda: os.path.exists(os.path.join(certs, "bundle.jws")), 20)
        check("the gateway keeps the platform's bundle", ok, (os.listdir(os.path.join(st.dir, "gateway")), [l for l in st.log("gateway").splitlines() if "cert" in l]))
        same = ok and open(os.path.join(certs, "platform-dp.crt")).read() == \
            open(st.pki["platform_cert"]).read()
        check("with the platform's data-protection certificate", same)
        check("and the root, the CRL and the application certificate",
              all(os.path.exists(os.path.join(certs, f))
                  for f in ("ca.crt", "crl.pem", "apps/app-a.crt")), os.listdir(certs) if ok else [])
        drop(st, "haisuichi_2026112x_cp932.csv", "a.csv")
        check("data before the rotation", h.wait_until(lambda: points(st) == 240, 20), points(st))

        # rotation: a new key and certificate from the same CA
        new = os.path.join(st.dir, "pki", "platform-dp-2")
        ca("issue", "--dir", os.path.join(st.dir, "ca"), "--profile", "platform", "--use",
           "data-protection", "--cn", "suido platform 2", "--out", new)
        conf = os.path.join(st.dir, "platform.conf")
        text = open(conf).read()
        rotated = text.replace("key = %s\n" % st.pki["platform_key"],
                               "key = %s.key\nprevious_key = %s\n" % (new, st.pki["platform_key"]))
        rotated = rotated.replace("certificate = %s\n" % st.pki["platform_cert"],
                                  "certificate = %s.crt\n" % new)
        assert rotated != text
        open(conf, "w").write(rotated)
        gw_pid = st.procs["gateway"].pid
        st.kill("platform", signal.SIGTERM)
        st.start_platform()
        st.wait_healthy()
        ok = h.wait_until(lambda: 'sealing for "suido platform 2"' in st.log("gateway"), 20)
        check("the gateway took the rotated certificate without a restart",
              ok and st.procs["gateway"].pid == gw_pid, st.log("gateway")[-1500:])
        drop(st, "pump_station_long_utf8bom.csv", "b.csv")
        check("data after the rotation", h.wait_until(lambda: points(st) == 288, 20), points(st))
        # the old key gone entirely: only the new certificate works
        open(conf, "w").write(rotated.replace("previous_key = %s\n" % st.pki["platform_key"], ""))
        st.kill("platform", signal.SIGTERM)
        st.start_platform()
        st.wait_healthy()
        drop(st, "ryokin_kenshin_202611_cp932.csv", "c.csv")
        check("data with the old key retired", h.wait_until(lambda: points(st) == 358, 30),
              points(st))

        # forged bundles: published by a client that may write anywhere
        kept = open(os.path.join(certs, "bundle.jws")).read()
        other = os.path.join(st.dir, "other-ca")
        ca("init", "--dir", other, "--cn", "not the platform's root")
        ca("issue", "--dir", other, "--profile", "platform", "--use", "data-protection",
           "--cn", "impostor", "--out", os.path.join(other, "imp"))
        base = {"profile": "suido.certificates/1", "utility": st.utility, "gateway": st.gateway,
                "seq": int(time.time() * 1000) * 1000, "issued": "2026-11-22T00:00:00Z",
                "root": open(st.pki["ca"]).read(), "applications": []}
        forged = [
            ("a certificate of another CA",
             sign(dict(base, platform=open(os.path.join(other, "imp.crt")).read()),
                  os.path.join(other, "imp.key")), "platform certificate refused"),
            ("not signed by the key of the certificate it carries",
             sign(dict(base, platform=open(new + ".crt").read()), st.pki["gw"][st.gateway][0]),
             "signature"),
            ("another gateway's bundle",
             sign(dict(base, gateway="demo-gw2", platform=open(new + ".crt").read()),
                  new + ".key"), "another gateway"),
        ]
        c = st.mqtt_client("it-attacker", st.client_cert("it-attacker"))
        c.connect("127.0.0.1", st.mqtt_port)
        c.loop_start()
        try:
            for what, jws, why in forged:
                before = st.log("gateway").count("certificates refused")
                c.publish("suido/v1/%s/%s/certificates" % (st.utility, st.gateway), jws, qos=1)
                ok = h.wait_until(lambda: st.log("gateway").count("certificates refused") > before,
                                  10)
                check("forged bundle refused: " + what,
                      ok and why in st.log("gateway").split("certificates refused")[-1][:400],
                      st.log("gateway")[-800:])
        finally:
            c.loop_stop()
            c.disconnect()
        check("the kept bundle is unchanged",
              open(os.path.join(certs, "bundle.jws")).read() == kept)
        check("and the gateway still seals to the platform's certificate",
              'sealing for "impostor"' not in st.log("gateway"))
    finally:
        st.stop()
    if FAILED:
        print("%d failed: %s" % (len(FAILED), ", ".join(FAILED)))
        sys.exit(1)
    print("all passed")


if __name__ == "__main__":
    main()
