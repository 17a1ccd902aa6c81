"""Acceptance (issue 3, items 4 and 5): the file store and sealed answers on a
running stack, checked with independent tools.

Sealed answers: an application with a registered data-protection certificate
that asks with "Accept: application/jose" gets the JSON answer as a JWE
(RSA-OAEP, A128CBC-HS256) of a JWS (RS256, kid "platform") that
python3-jwcrypto opens with the application's key and verifies with the
platform's certificate, giving exactly the plain answer. A utility token, or
an application without a certificate, gets 406 and no data; an application
of another utility gets 403.

Files: an application deposits a file sealed in the file format (suido seal
--format file: signed with its key, encrypted for the platform); it is listed
and served byte for byte; depositing it again is answered as a duplicate; on
"Accept: application/zip" it is served sealed for the application, which
unzip and the openssl CLI alone open and verify against the platform's
certificate. A tampered file, one signed by another key, one over
[files] max_bytes (declared and chunked), and deposits by a utility token or
an application of another utility are refused with nothing stored.
Gateways deposit over MQTT (topic .../file) with the same format and get an
ack; a tampered one is refused in the ack, nothing stored."""

import hashlib
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile

sys.path.insert(0, os.path.dirname(__file__))
import harness as h  # noqa: E402

from jwcrypto import jwe, jwk, jws  # noqa: E402  (python3-jwcrypto)

FAILED = []


def check(name, cond, detail=""):
    if cond:
        print("ok   " + name)
    else:
        print("FAIL %s %s" % (name, detail))
        FAILED.append(name)


def request(st, path, token, accept=None, body=None, method=None, headers=()):
    req = urllib.request.Request(st.base_url + "/ap/v1" + path, data=body, method=method)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    if accept:
        req.add_header("Accept", accept)
    for k, v in headers:
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=20, context=st.api.context) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def seal_file(data, name, key, to):
    r = subprocess.run([h.SUIDO, "seal", "--format", "file", "--key", key, "--to", to,
                        "--name", name, "--aes", "256"], input=data, capture_output=True)
    assert r.returncode == 0, r.stderr
    return r.stdout


def openssl_open(zdata, key, sender_cert, work):
    """unzip + openssl alone: the plaintext of a sealed file, or None when the
    signature does not verify."""
    d = tempfile.mkdtemp(dir=work)
    with open(os.path.join(d, "f.zip"), "wb") as f:
        f.write(zdata)
    subprocess.run(["unzip", "-q", "f.zip"], cwd=d, check=True)
    man = json.load(open(os.path.join(d, "manifest.json")))
    subprocess.run(["openssl", "pkeyutl", "-decrypt", "-inkey", key, "-pkeyopt",
                    "rsa_padding_mode:oaep", "-in", "key.enc", "-out", "k.bin"], cwd=d, check=True)
    k = open(os.path.join(d, "k.bin"), "rb").read().hex()
    bits = len(k) * 4
    subprocess.run(["openssl", "enc", "-d", "-aes-%d-cbc" % bits, "-K", k, "-iv", man["iv"],
                    "-in", "payload.enc", "-out", "plain"], cwd=d, check=True)
    subprocess.run(["openssl", "x509", "-in", sender_cert, "-pubkey", "-noout", "-out", "s.pub"],
                   cwd=d, check=True)
    v = subprocess.run(["openssl", "dgst", "-sha256", "-verify", "s.pub", "-signature",
                        "payload.sig", "plain"], cwd=d, capture_output=True)
    return open(os.path.join(d, "plain"), "rb").read() if v.returncode == 0 else None, man


def sealed_answers(st):
    pki, tok = st.pki, st.app_tokens
    path = "/utilities/%s/items" % st.utility
    code, hdr, plain = request(st, path, tok["app-a"])
    check("plain answer for the application", code == 200, code)
    code, hdr, body = request(st, path, tok["app-a"], accept="application/jose")
    check("sealed answer: 200 application/jose", code == 200 and
          hdr.get("Content-Type", "").startswith("application/jose"), (code, hdr))
    key = jwk.JWK.from_pem(open(pki["app"]["app-a"][0], "rb").read())
    platform = jwk.JWK.from_pem(open(pki["platform_cert"], "rb").read())
    outer = jwe.JWE()
    outer.deserialize(body.decode(), key=key)
    hdr_e = json.loads(outer.objects["protected"])
    check("JWE RSA-OAEP / A128CBC-HS256, cty JWT",
          (hdr_e.get("alg"), hdr_e.get("enc"), hdr_e.get("cty")) == ("RSA-OAEP", "A128CBC-HS256", "JWT"),
          hdr_e)
    inner = jws.JWS()
    inner.deserialize(outer.payload.decode())
    inner.verify(platform)
    hdr_s = inner.jose_header
    check("JWS RS256 kid platform, verified with the platform certificate",
          hdr_s.get("alg") == "RS256" and hdr_s.get("kid") == "platform", hdr_s)
    check("sealed payload is exactly the plain answer", inner.payload == plain)
    # another application's key cannot open it
    other = jwk.JWK.from_pem(open(pki["app"]["app-b"][0], "rb").read())
    try:
        o2 = jwe.JWE()
        o2.deserialize(body.decode(), key=other)
        check("another key cannot open the sealed answer", False)
    except Exception:
        check("another key cannot open the sealed answer", True)
    # values and latest are sealed the same way
    item = json.loads(plain)["items"][0]["id"]
    code, hdr, body = request(st, "/utilities/%s/items/%s/latest" % (st.utility, item),
                              tok["app-a"], accept="application/json, application/jose")
    check("latest sealed too", code == 200 and body.count(b".") == 4, (code, body[:80]))
    # who may not have sealed answers: 406 and no data
    code, hdr, body = request(st, path, st.token, accept="application/jose")
    check("utility token: 406", code == 406 and b"items" not in body, (code, body))
    code, hdr, body = request(st, path, tok["app-nocert"], accept="application/jose")
    check("application without certificate: 406", code == 406 and b"certificate" in body,
          (code, body))
    code, hdr, body = request(st, path, tok["app-b"], accept="application/jose")
    check("application of another utility: 403", code == 403, (code, body))


def deposits(st, work):
    pki, tok = st.pki, st.app_tokens
    files = "/utilities/%s/files" % st.utility
    data = "日時,流量\n2026-11-20 00:00,1.5\n".encode("cp932") * 50
    z = seal_file(data, "日報_20261120.csv", pki["app"]["app-a"][0], pki["platform_cert"])
    code, _, body = request(st, files, tok["app-a"], body=z, method="POST",
                            headers=[("Content-Type", "application/zip")])
    res = json.loads(body) if code in (200, 201) else {}
    check("deposit: 201", code == 201 and res.get("duplicate") is False, (code, body))
    check("deposit: size and sha256", res.get("size") == len(data) and
          res.get("sha256") == hashlib.sha256(data).hexdigest(), res)
    fid = res.get("id", "")
    code, _, body = request(st, files, tok["app-a"], body=z, method="POST")
    check("the same deposit again: 200 duplicate", code == 200 and
          json.loads(body).get("duplicate") is True and json.loads(body)["id"] == fid, (code, body))
    code, _, body = request(st, files, tok["app-a"])
    listed = json.loads(body)["files"] if code == 200 else []
    check("listed once, sender named", [f["id"] for f in listed] == [fid] and
          listed[0]["sender"] == "application:app-a" and listed[0]["name"] == "日報_20261120.csv",
          listed)
    code, hdr, body = request(st, files + "/" + fid, st.token)
    check("served byte for byte (utility token)", code == 200 and body == data and
          hdr.get("Content-Type") == "application/octet-stream", (code, len(body)))
    check("Content-Disposition with the UTF-8 name",
          "filename*=UTF-8''%E6%97%A5%E5%A0%B1_20261120.csv" in hdr.get("Content-Disposition", ""),
          hdr.get("Content-Disposition"))
    code, hdr, body = request(st, files + "/" + fid, tok["app-a"], accept="application/zip")
    check("served sealed: application/zip", code == 200 and
          hdr.get("Content-Type") == "application/zip", (code, hdr))
    plain, man = openssl_open(body, pki["app"]["app-a"][0], pki["platform_cert"], work)
    check("unzip + openssl open it and verify the platform's signature", plain == data, man)
    code, _, _ = request(st, files + "/" + fid, st.token, accept="application/zip")
    check("sealed file for a utility token: 406", code == 406, code)
    code, _, _ = request(st, files + "/0123456789abcdef0123456789abcdef", tok["app-a"])
    check("unknown file: 404", code == 404, code)

    # refusals: nothing stored
    bad = bytearray(z)
    zi = zipfile.ZipFile(__import__("io").BytesIO(z))
    off = z.find(zi.read("payload.enc")[:16]) if zi.getinfo("payload.enc").compress_type == 0 else -1
    bad[off + 20 if off >= 0 else len(z) // 2] ^= 1
    code, _, body = request(st, files, tok["app-a"], body=bytes(bad), method="POST")
    check("tampered file: 400 bad_file", code == 400 and b"bad_file" in body, (code, body))
    zb = seal_file(b"other", "x.txt", pki["app"]["app-b"][0], pki["platform_cert"])
    code, _, body = request(st, files, tok["app-a"], body=zb, method="POST")
    check("signed by another application's key: 400", code == 400, (code, body))
    code, _, body = request(st, files, tok["app-a"], body=b"not a zip", method="POST")
    check("not a ZIP: 400", code == 400, (code, body))
    code, _, body = request(st, files, st.token, body=z, method="POST")
    check("utility token cannot deposit: 403", code == 403, (code, body))
    code, _, body = request(st, "/utilities/demo2/files", tok["app-a"], body=z, method="POST")
    check("deposit into another utility: 403", code == 403, (code, body))
    big = seal_file(os.urandom(3000), "big.bin", pki["app"]["app-a"][0], pki["platform_cert"])
    code, _, body = request(st, files, tok["app-a"], body=big, method="POST")
    check("over max_bytes: 413", code == 413 and b"2000" in body, (code, body))
    # only the headers: the answer must come before any of the body is sent
    import http.client
    conn = http.client.HTTPSConnection("127.0.0.1", st.http_port, context=st.api.context,
                                       timeout=10)
    conn.putrequest("POST", "/ap/v1" + files)
    conn.putheader("Authorization", "Bearer " + tok["app-a"])
    conn.putheader("Content-Length", str(2 << 20))
    conn.endheaders()
    resp = conn.getresponse()
    check("declared body over the cap: 413 before reading", resp.status == 413, resp.status)
    conn.close()
    code, _, body = request(st, "/utilities/%s/items" % st.utility, tok["app-a"], body=z,
                            method="POST")
    check("POST elsewhere: 405", code == 405, code)
    code, _, body = request(st, files, tok["app-a"])
    check("still one file", len(json.loads(body)["files"]) == 1, body)
    code, _, body = request(st, files, tok["app-b"])
    check("another utility's application lists nothing here: 403", code == 403, code)
    return data


def gateway_deposits(st, data):
    """A gateway deposits over MQTT (its TLS identity, topic .../file) and
    reads the acks on its ack topic."""
    pki = st.pki
    gw = st.gateway
    acks = []
    c = st.mqtt_client(gw + "-files", pki["gw_tls"][gw])
    c.on_message = lambda cl, ud, msg: acks.append(json.loads(msg.payload))
    c.connect("127.0.0.1", st.mqtt_port)
    c.loop_start()
    try:
        c.subscribe("suido/v1/%s/%s/ack" % (st.utility, gw), qos=1)
        time.sleep(0.5)
        topic = "suido/v1/%s/%s/file" % (st.utility, gw)

        def deposit(payload, want):
            n = len(acks)
            c.publish(topic, payload, qos=1)
            ok = h.wait_until(lambda: any(want(a) for a in acks[n:]), 15)
            return ok, acks[n:]

        z = seal_file(b"pump log\n" * 100, "pump.log", pki["gw"][gw][0], pki["platform_cert"])
        ok, got = deposit(z, lambda a: a.get("status") == "stored" and a["id"].startswith("file:"))
        check("gateway deposit over MQTT: stored ack with the file id", ok, got)
        fid = [a["id"] for a in got if a.get("status") == "stored"][0][5:] if ok else ""
        ok, got = deposit(z, lambda a: a.get("status") == "duplicate" and a["id"] == "file:" + fid)
        check("the same deposit again: duplicate ack", ok, got)
        code, _, body = request(st, "/utilities/%s/files/%s" % (st.utility, fid), st.token)
        check("the gateway's file is served byte for byte", code == 200 and
              body == b"pump log\n" * 100, (code, len(body)))
        code, _, body = request(st, "/utilities/%s/files" % st.utility, st.token)
        senders = sorted(f["sender"] for f in json.loads(body)["files"])
        check("listed with sender gateway:%s" % gw,
              senders == ["application:app-a", "gateway:" + gw], senders)
        bad = bytearray(z)
        bad[len(bad) // 2] ^= 0x40
        ok, got = deposit(bytes(bad), lambda a: a.get("status") == "rejected")
        check("tampered gateway file: rejected, id \"\"", ok and
              all(a["id"] == "" for a in got if a.get("status") == "rejected"), got)
        other = seal_file(b"x", "x.txt", pki["app"]["app-a"][0], pki["platform_cert"])
        ok, got = deposit(other, lambda a: a.get("status") == "rejected" and
                          "not signed by gateway" in a.get("reason", ""))
        check("file signed by another key on the gateway's topic: rejected", ok, got)
        big = seal_file(os.urandom(3000), "big.bin", pki["gw"][gw][0], pki["platform_cert"])
        ok, got = deposit(big, lambda a: a.get("status") == "rejected" and
                          "larger than 2000" in a.get("reason", ""))
        check("gateway file over max_bytes: rejected", ok, got)
    finally:
        c.loop_stop()
        c.disconnect()
    code, _, body = request(st, "/utilities/%s/files" % st.utility, st.token)
    check("two files in all", len(json.loads(body)["files"]) == 2, body)
    with st.urlopen("/metrics") as r:
        text = r.read().decode()
    check("files_stored_total counts the two new files",
          "suido_platform_files_stored_total 2" in text, [l for l in text.splitlines() if "files" in l])


def main():
    apps = {"app-a": "demo", "app-b": "demo2", "app-nocert": "demo"}
    st = h.Stack(applications=apps, extra_platform_conf="[files]\nmax_bytes = 2000\n")
    work = tempfile.mkdtemp(prefix="suido-files-")
    try:
        # app-nocert: registered without a certificate
        conf = os.path.join(st.dir, "platform.conf")
        text = open(conf).read()
        cert_line = "certificate = %s\n" % st.pki["app"]["app-nocert"][1]
        assert cert_line in text
        open(conf, "w").write(text.replace(cert_line, ""))
        st.start()
        st.wait_healthy()
        shutil.copy(os.path.join(h.SAMPLES, "haisuichi_2026112x_cp932.csv"),
                    os.path.join(st.spool, ".h.part"))
        os.rename(os.path.join(st.spool, ".h.part"), os.path.join(st.spool, "h.csv"))
        st.receipt("h.csv")
        assert h.wait_until(lambda: st.api.get("/utilities/demo/items")[1].get("items"), 30)
        sealed_answers(st)
        data = deposits(st, work)
        gateway_deposits(st, data)
        log = st.log("platform")
        check("no file content in the platform log", "2026-11-20 00:00,1.5" not in log)
    finally:
        st.stop()
        shutil.rmtree(work, ignore_errors=True)
    if FAILED:
        print("%d failed: %s" % (len(FAILED), ", ".join(FAILED)))
        sys.exit(1)
    print("all passed")


if __name__ == "__main__":
    main()
