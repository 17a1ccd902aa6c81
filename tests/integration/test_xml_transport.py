"""The GW interface's XML transport (format = xml on both sides,
docs/protocol-xml.md): through the running stack, the three sample files are
served exactly (compared with Python's own reading of them), each message
stored with its signed original (the decrypted document with its
ds:Signature), which `suido verify --format xml` checks again against the
gateway's certificate. A tampered document, an encrypted but unsigned one,
one signed with another registered gateway's key, and a JSON (JWE) token on
the xml gateway's topic are each refused: a rejected ack with id "", counted
in messages_refused_security_total, nothing stored. A message signed and
encrypted with the independent xmlsec1 CLI (templates as in
docs/protocol-xml.md) is accepted and served. MQTT is driven with paho-mqtt."""

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
import harness as h  # noqa: E402

NS = "urn:suido:data:1"
XPATH_DATA = "/*[local-name()='Data' and namespace-uri()='%s']" % NS
XPATH_POINTS = XPATH_DATA + "/*[local-name()='Points' and namespace-uri()='%s']" % NS


def metrics(st):
    if hasattr(st, "urlopen"):  # the AP interface over HTTPS
        r = st.urlopen("/metrics")
    else:
        r = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % st.http_port, timeout=10)
    with r:
        text = r.read().decode()
    return {l.split()[0]: float(l.split()[1]) for l in text.splitlines() if l and not l.startswith("#")}


def suido(*args, data=None):
    r = subprocess.run([h.SUIDO, *args], input=data, capture_output=True)
    return r


def message(n, gateway="demo-gw1", text=False):
    """An XML data message of one item "sec.<n>" and one point."""
    value = 's="停止"' if text else 'v="%d.25"' % n
    return ("""<?xml version="1.0" encoding="UTF-8"?>
<Data xmlns="%s" profile="suido.data/1" id="%s:1:%d" utility="demo" gateway="%s">
<Items>
<Item id="sec.%d" name="侵入%d" unit="m"/>
</Items>
<Points>
<P i="0" t="2026-11-22T00:00:00+09:00" %s/>
</Points>
</Data>
""" % (NS, gateway, 777000 + n, gateway, n, n, value)).encode()


def stored_originals(db):
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=10)
    try:
        return {r[0]: r[1] for r in con.execute(
            "SELECT id, original FROM messages WHERE original IS NOT NULL")}
    finally:
        con.close()


def message_ids(db):
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=10)
    try:
        return {r[0] for r in con.execute("SELECT id FROM messages")}
    finally:
        con.close()


ENC_TEMPLATE = """<?xml version="1.0" encoding="UTF-8"?>
<xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" Type="http://www.w3.org/2001/04/xmlenc#Element">
  <xenc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes128-cbc"/>
  <ds:KeyInfo>
    <xenc:EncryptedKey>
      <xenc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"/>
      <xenc:CipherData><xenc:CipherValue/></xenc:CipherData>
    </xenc:EncryptedKey>
  </ds:KeyInfo>
  <xenc:CipherData><xenc:CipherValue/></xenc:CipherData>
</xenc:EncryptedData>
"""

SIG_TEMPLATE = """<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#">
<ds:SignedInfo>
<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>
<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>
<ds:Reference URI="#data-1">
<ds:Transforms>
<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>
<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>
</ds:Transforms>
<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>
<ds:DigestValue/>
</ds:Reference>
</ds:SignedInfo>
<ds:SignatureValue/>
</ds:Signature>"""


def xmlsec1_seal(doc, key, to, tmp):
    """Signs the whole Data element with key and encrypts Points to the
    certificate to, with the xmlsec1 CLI only."""
    text = doc.decode().replace('gateway="demo-gw1">', 'gateway="demo-gw1" Id="data-1">', 1)
    text = text.replace("</Data>", SIG_TEMPLATE + "</Data>")
    paths = {n: os.path.join(tmp, n) for n in ("tmpl.xml", "signed.xml", "enc.xml", "sealed.xml")}
    open(paths["tmpl.xml"], "w").write(text)
    open(paths["enc.xml"], "w").write(ENC_TEMPLATE)
    subprocess.run(["xmlsec1", "--sign", "--privkey-pem", key, "--id-attr:Id", NS + ":Data",
                    "--output", paths["signed.xml"], paths["tmpl.xml"]], check=True,
                   capture_output=True)
    subprocess.run(["xmlsec1", "--encrypt", "--pubkey-cert-pem", to, "--session-key", "aes-128",
                    "--xml-data", paths["signed.xml"], "--node-name", NS + ":Points",
                    "--output", paths["sealed.xml"], paths["enc.xml"]], check=True,
                   capture_output=True)
    return open(paths["sealed.xml"], "rb").read()


def main():
    st = h.Stack(gateway_format="xml", other_gateways=("demo-gw2",), keep=bool(os.environ.get("SUIDO_KEEP")))
    tmp = tempfile.mkdtemp(prefix="suido-xmlt-")
    st.start()
    try:
        expected = h.expected_from_samples()
        t0 = time.time()
        for name in sorted(os.listdir(h.SAMPLES)):
            st.drop(name, open(os.path.join(h.SAMPLES, name), "rb").read())
        diffs = ["not polled yet"]
        while time.time() - t0 < 60:
            diffs = h.compare(expected, st.api.snapshot(st.utility))
            if not diffs:
                break
            time.sleep(0.5)
        assert not diffs, "%d differences, e.g. %s\nplatform log:\n%s" % (
            len(diffs), diffs[:5], st.log("platform"))
        assert "refused" not in st.log("platform"), st.log("platform")
        print("xml transport: every sample value served exactly after %.1f s" % (time.time() - t0))

        # the signed original: the decrypted document with its signature,
        # verifiable again with the gateway's certificate alone
        db = os.path.join(st.dir, "platform", "platform.db")
        originals = stored_originals(db)
        assert originals, "no original stored"
        msg_id, orig = sorted(originals.items())[0]
        orig = orig.encode() if isinstance(orig, str) else bytes(orig)
        assert orig.lstrip().startswith(b"<?xml") and b"<ds:Signature" in orig, orig[:200]
        assert b"EncryptedData" not in orig and b"<Points" in orig, orig[:400]
        assert ('id="%s"' % msg_id).encode() in orig
        path = os.path.join(tmp, "original.xml")
        open(path, "wb").write(orig)
        gw1_key, gw1_cert = st.pki["gw"]["demo-gw1"]
        v = suido("verify", "--format", "xml", "--from", gw1_cert, "--ca", st.pki["ca"],
                  "--select", XPATH_DATA, "--in", path)
        assert v.returncode == 0, v.stderr
        tampered = re.sub(rb'v="([0-9])', lambda m: b'v="' + bytes([m.group(1)[0] ^ 1]), orig, 1)
        assert tampered != orig
        open(path, "wb").write(tampered)
        v = suido("verify", "--format", "xml", "--from", gw1_cert, "--select", XPATH_DATA,
                  "--in", path)
        assert v.returncode == 66, (v.returncode, v.stderr)

        # hostile traffic from an independent client with a client certificate of the CA
        acks, lock = [], threading.Lock()
        c = st.mqtt_client("it-attacker", st.client_cert("it-attacker"))

        def on_message(cl, ud, msg):
            with lock:
                acks.append((msg.topic, json.loads(msg.payload)))
        c.on_message = on_message
        c.connect("127.0.0.1", st.mqtt_port)
        c.subscribe("suido/v1/demo/demo-gw1/ack", qos=1)
        c.loop_start()
        time.sleep(0.5)
        gw2_key, _ = st.pki["gw"]["demo-gw2"]
        to = st.pki["platform_cert"]

        def seal_xml(doc, key=gw1_key):
            r = suido("seal", "--format", "xml", "--key", key, "--to", to, "--select", XPATH_DATA,
                      "--encrypt-select", XPATH_POINTS, "--aes", "128", data=doc)
            assert r.returncode == 0, r.stderr
            return r.stdout

        # first a good one through the same path, so the attacks below are
        # refused for what they are, not for how they were made
        topic = "suido/v1/demo/demo-gw1/data"
        c.publish(topic, seal_xml(message(0, text=True)), qos=1)
        assert h.wait_until(lambda: any(a[1]["id"] == "demo-gw1:1:777000" for a in acks), 10), acks
        assert [a[1]["status"] for a in acks if a[1]["id"] == "demo-gw1:1:777000"] == ["stored"], acks
        m0 = metrics(st)
        ids0 = message_ids(db)
        acks.clear()

        good = seal_xml(message(1))
        # the readable header changed: the id (covered by the signature of Data)
        tampered = good.replace(b'id="demo-gw1:1:777001"', b'id="demo-gw1:1:777011"', 1)
        assert tampered != good
        # one byte of the ciphertext of Points
        cipher = seal_xml(message(2))
        k = cipher.rindex(b"<CipherValue>") + len(b"<CipherValue>") + 40  # the data's, not the key's
        cipher = cipher[:k] + (b"A" if cipher[k:k + 1] != b"A" else b"B") + cipher[k + 1:]
        unsigned = suido("encrypt", "--format", "xml", "--to", to, "--encrypt-select",
                         XPATH_POINTS, "--aes", "128", data=message(3))
        assert unsigned.returncode == 0, unsigned.stderr
        attacks = [
            (tampered, "sealed message refused"),
            (cipher, "sealed message refused"),
            (unsigned.stdout, "sealed message refused"),
            (seal_xml(message(4), key=gw2_key), "sealed message refused"),
            (h.seal(json.dumps({"profile": "suido.data/1", "id": "demo-gw1:1:777005",
                                "utility": "demo", "gateway": "demo-gw1",
                                "items": [{"id": "sec.5", "name": "侵入5"}],
                                "points": [[0, "2026-11-22T00:00:00Z", 5]]}),
                    gw1_key, to, "demo-gw1"), "not a sealed message"),
            (message(6), "sealed message refused"),  # plain XML, neither signed nor encrypted
        ]
        for payload, _ in attacks:
            c.publish(topic, payload, qos=1)
        assert h.wait_until(lambda: len(acks) >= len(attacks), 15), acks
        for _, word in attacks:
            assert any(a[1]["id"] == "" and a[1]["status"] == "rejected" and word in a[1]["reason"]
                       for a in acks), (word, acks)
        assert all(a[1]["status"] == "rejected" and a[1]["id"] == "" for a in acks), acks
        # the same answer for every failure of decryption or verification
        reasons = {a[1]["reason"] for a in acks if "sealed message refused" in a[1]["reason"]}
        assert len(reasons) == 1, reasons
        m1 = metrics(st)
        assert m1["suido_platform_messages_refused_security_total"] == \
            m0["suido_platform_messages_refused_security_total"] + len(attacks), (m0, m1)
        assert m1["suido_platform_messages_rejected_total"] >= \
            m0["suido_platform_messages_rejected_total"] + len(attacks), (m0, m1)
        assert message_ids(db) == ids0, message_ids(db) - ids0
        log = st.log("platform")
        assert "sealed XML message from demo/demo-gw1 refused" in log, log

        # interop: signed and encrypted by the xmlsec1 CLI alone
        acks.clear()
        sealed = xmlsec1_seal(message(9), gw1_key, to, tmp)
        assert b"EncryptedData" in sealed and b"<Points" not in sealed, sealed[:600]
        c.publish(topic, sealed, qos=1)
        assert h.wait_until(lambda: acks, 10), acks
        assert acks[0][1] == {"profile": "suido.ack/1", "id": "demo-gw1:1:777009",
                              "status": "stored"}, (acks, st.log("platform"))
        c.loop_stop()
        c.disconnect()

        snap = st.api.snapshot("demo")
        assert snap[("", "侵入9")]["values"] == {"2026-11-21T15:00:00Z": 9.25}, snap.get(("", "侵入9"))
        assert not [k for k in snap if k[1] in ("侵入%d" % n for n in range(1, 7))], snap.keys()
        # the text point of message 0 went through (not served as a number)
        assert ("", "侵入0") in snap, snap.keys()
        assert st.alive("platform") and st.alive("gateway")
    finally:
        st.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
