"""Bad input costs nothing else: through the running stack, files with broken
bytes, a wrong column count, an unparseable number, an impossible date, an
unknown layout, a binary file and an oversized file each get a receipt naming
file, line and reason; the good rows are served; and MQTT messages that are
malformed, forged for another gateway, or resent are answered (rejected /
duplicate) by the platform without storing anything or blocking the real
gateway. MQTT is driven with paho-mqtt, an independent client; its messages
are sealed with `suido seal` as demo-gw1 would seal them. The sealed
transport refuses, counts and stores nothing of: an unsealed message, one
sealed by another registered gateway but published on demo-gw1's topic, one
from a gateway whose certificate is revoked (in the platform's CRL), and a
token with one bit flipped. The broker speaks TLS only and wants a client
certificate of the platform's CA: a client without one cannot connect at
all, and a gateway's identity may not publish on another gateway's topic."""

import json
import os
import shutil
import ssl
import sys
import threading
import time
import urllib.request

import paho.mqtt.client as mqtt

sys.path.insert(0, os.path.dirname(__file__))
import harness as h  # noqa: E402

HEADER = "日時,配水池水位(m),流入流量(m3/h),流出流量(m3/h),残留塩素(mg/L),濁度(度)\r\n"


def metrics(st):
    with st.urlopen("/metrics") as r:
        text = r.read().decode()
    return {l.split()[0]: float(l.split()[1]) for l in text.splitlines() if l and not l.startswith("#")}


def connects(st, client_id, cert, wait=3):
    """True when a paho TLS client with the certificate cert ((key, crt) or
    None) gets a successful CONNACK from the stack's broker."""
    c = st.mqtt_client(client_id, cert)
    ok = threading.Event()

    def on_connect(cl, ud, flags, rc, *more):
        if getattr(rc, "value", rc) == 0:
            ok.set()
    c.on_connect = on_connect
    try:
        c.connect("127.0.0.1", st.mqtt_port)
    except (OSError, ssl.SSLError):
        return False
    c.loop_start()
    try:
        return ok.wait(wait)
    finally:
        c.disconnect()
        c.loop_stop()


def plaintext_connects(st, wait=3):
    """True when a client without TLS gets a successful CONNACK."""
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="it-plain") \
        if hasattr(mqtt, "CallbackAPIVersion") else mqtt.Client(client_id="it-plain")
    ok = threading.Event()

    def on_connect(cl, ud, flags, rc, *more):
        if getattr(rc, "value", rc) == 0:
            ok.set()
    c.on_connect = on_connect
    try:
        c.connect("127.0.0.1", st.mqtt_port)
    except OSError:
        return False
    c.loop_start()
    try:
        return ok.wait(wait)
    finally:
        c.disconnect()
        c.loop_stop()


def main():
    st = h.Stack(extra_gateway_conf="max_file_bytes = 200000\n", other_gateways=("demo-gw2",),
                 revoked_gateways=("demo-gw3",))
    st.start()
    try:
        bad = (HEADER + "2026/11/22 0:00,1.5,2.5,3.5,4.5,5.5\r\n").encode("cp932")
        bad += "2026/11/22 1:00,1.5,2.5,3.5,4.5,5.5\r\n".encode("cp932")[:-8] + b"\x81\x20,5.5\r\n"
        bad += "2026/11/22 2:00,1.5,2.5\r\n".encode()
        bad += "2026/11/22 3:00,1.5,x2,3.5,4.5,5.5\r\n".encode()
        bad += "2026/13/22 4:00,1.5,2.5,3.5,4.5,5.5\r\n".encode()
        bad += "2026/11/22 5:00,9.5,8.5,7.5,6.5,5.5\r\n".encode()
        st.drop("mixed.csv", bad)
        st.drop("unknown.csv", "a,b,c\r\n1,2,3\r\n".encode())
        st.drop("binary.csv", b"\x00\x01\x02garbage")
        st.drop("huge.csv", b"x" * 300000)
        r = st.receipt("mixed.csv")
        assert r["status"] == "partial" and r["accepted_rows"] == 2 and r["rejected_rows"] == 4, r
        lines = {e["line"]: e["reason"] for e in r["errors"]}
        assert set(lines) == {3, 4, 5, 6}, lines
        assert "invalid byte sequence" in lines[3] and "fields" in lines[4], lines
        assert "x2" in lines[5] and "2026/13/22" in lines[6], lines
        for name, word in (("unknown.csv", "layout"), ("binary.csv", "binary"), ("huge.csv", "larger")):
            rr = st.receipt(name)
            assert rr["status"] == "rejected" and word in rr["reason"], rr
            assert os.path.exists(os.path.join(st.dir, "gateway", "rejected", name))

        # and a good file after all that is served in full
        shutil.copy(os.path.join(h.SAMPLES, "pump_station_long_utf8bom.csv"), os.path.join(st.spool, ".p"))
        os.rename(os.path.join(st.spool, ".p"), os.path.join(st.spool, "pump.csv"))

        # the broker: TLS with a client certificate of the CA, or nothing
        assert h.wait_until(lambda: "over TLS" in st.log("platform"), 10), st.log("platform")
        assert h.wait_until(lambda: "over TLS" in st.log("gateway"), 10), st.log("gateway")
        attacker_cert = st.client_cert("it-attacker")
        assert not connects(st, "it-nocert", None), "a client without a certificate connected"
        assert not plaintext_connects(st), "a plaintext client connected"
        assert connects(st, "it-probe", attacker_cert), "a client with a certificate could not connect:\n" + st.log("mosquitto")
        # the broker reads the CA's CRL: a revoked TLS client certificate is refused
        assert not connects(st, "demo-gw3", st.pki["gw_tls"]["demo-gw3"]), \
            "a client with a revoked certificate connected"

        # hostile MQTT traffic, from an independent client holding a TLS client
        # certificate of the CA and allowed every topic by the broker's ACL
        acks, got, data_seen = [], threading.Event(), []
        c = st.mqtt_client("it-attacker", attacker_cert)

        def on_message(cl, ud, msg):
            if msg.topic.endswith("/data"):
                data_seen.append((msg.topic, msg.payload))
                return
            acks.append((msg.topic, json.loads(msg.payload)))
            got.set()
        c.on_message = on_message
        c.connect("127.0.0.1", st.mqtt_port)
        c.subscribe("suido/v1/+/+/ack", qos=1)
        c.loop_start()
        time.sleep(0.5)
        gw1_key, _ = st.pki["gw"]["demo-gw1"]
        gw2_key, _ = st.pki["gw"]["demo-gw2"]
        gw3_key, _ = st.pki["gw"]["demo-gw3"]
        to = st.pki["platform_cert"]

        def sealed(obj, key=gw1_key, kid="demo-gw1"):
            text = obj if isinstance(obj, (str, bytes)) else json.dumps(obj)
            return h.seal(text, key, to, kid)

        good = {"profile": "suido.data/1", "id": "demo-gw1:1:999999", "utility": "demo",
                "gateway": "demo-gw1", "items": [{"id": "it.x", "name": "外部", "unit": ""}],
                "points": [[0, "2026-11-22T00:00:00Z", 1.25]]}
        m0 = metrics(st)
        # malformed content inside a valid seal: opened, then refused by the decoder
        c.publish("suido/v1/demo/demo-gw1/data", sealed(b"{not json"), qos=1)
        forged = dict(good, id="ghost:1:1", gateway="ghost")
        c.publish("suido/v1/demo/ghost/data", sealed(forged, kid="ghost"), qos=1)
        c.publish("suido/v1/other/demo-gw1/data", sealed(good), qos=1)
        c.publish("suido/v1/demo/demo-gw1/data", sealed(dict(good, gateway="x", id="x:1:1")), qos=1)
        c.publish("suido/v1/demo/demo-gw1/data", sealed(good), qos=1)
        c.publish("suido/v1/demo/demo-gw1/data", sealed(good), qos=1)  # fresh token, same message
        # 6 acks: unregistered senders are told why under id "" (their message is not opened)
        ok = h.wait_until(lambda: len([a for a in acks if a[1]["id"] in ("", "x:1:1", "demo-gw1:1:999999")]) >= 6, 10)
        assert ok, acks
        mine = [a[1]["status"] for a in acks if a[1]["id"] == "demo-gw1:1:999999" and a[0] == "suido/v1/demo/demo-gw1/ack"]
        assert mine[:2] == ["stored", "duplicate"], mine
        rej = [a for a in acks if a[1]["status"] == "rejected"]
        assert any(a[0] == "suido/v1/demo/ghost/ack" and "not registered" in a[1]["reason"] for a in rej), rej
        assert any(a[0] == "suido/v1/other/demo-gw1/ack" for a in rej), rej
        assert any(a[1]["id"] == "x:1:1" and "came on demo/demo-gw1" in a[1]["reason"] for a in rej), rej
        assert any(a[1]["id"] == "" and "JSON" in a[1]["reason"] for a in rej), rej
        h.wait_until(lambda: metrics(st)["suido_platform_messages_rejected_total"] >= m0["suido_platform_messages_rejected_total"] + 4, 10)
        m = metrics(st)
        assert m["suido_platform_messages_rejected_total"] >= m0["suido_platform_messages_rejected_total"] + 4, m
        assert m["suido_platform_messages_duplicate_total"] >= 1, m
        # none of these is a security refusal: they were sealed properly
        assert m["suido_platform_messages_refused_security_total"] == m0["suido_platform_messages_refused_security_total"], m

        # the sealed transport: each of these is refused, counted, acked with
        # id "" (nobody may learn anything from an unopened message) and not stored
        def case(n):
            return dict(good, id="demo-gw1:1:%d" % (888000 + n),
                        items=[{"id": "sec.%d" % n, "name": "侵入%d" % n, "unit": ""}])
        acks.clear()
        tok = bytearray(sealed(case(4)))
        mid = len(tok) // 2
        tok[mid] = ord("A") if tok[mid] != ord("A") else ord("B")  # one character of the ciphertext
        attacks = [
            ("suido/v1/demo/demo-gw1/data", json.dumps(case(1)).encode(), "not a sealed message"),
            ("suido/v1/demo/demo-gw1/data", sealed(case(2), key=gw2_key, kid="demo-gw2"),
             "signed as demo-gw2 but came on demo-gw1"),
            ("suido/v1/demo/demo-gw1/data", sealed(case(5), key=gw2_key, kid="demo-gw1"), "signature"),
            ("suido/v1/demo/demo-gw3/data",
             sealed(dict(case(3), id="demo-gw3:1:1", gateway="demo-gw3"), key=gw3_key, kid="demo-gw3"),
             "revoked"),
            ("suido/v1/demo/demo-gw1/data", bytes(tok), "sealed message refused"),
        ]
        for topic, payload, _ in attacks:
            c.publish(topic, payload, qos=1)
        ok = h.wait_until(lambda: len(acks) >= len(attacks), 10)
        assert ok, acks
        for topic, _, word in attacks:
            ack_topic = topic[:-len("data")] + "ack"
            assert any(a[0] == ack_topic and a[1]["id"] == "" and a[1]["status"] == "rejected"
                       and word in a[1]["reason"] for a in acks), (word, acks)
        m2 = metrics(st)
        assert m2["suido_platform_messages_refused_security_total"] == \
            m["suido_platform_messages_refused_security_total"] + len(attacks), (m, m2)
        assert m2["suido_platform_messages_rejected_total"] >= \
            m["suido_platform_messages_rejected_total"] + len(attacks), (m, m2)
        log = st.log("platform")
        assert "refused message from demo/demo-gw3 (security)" in log and "revoked" in log, log
        # the revoked certificate was reported at start
        assert "certificate of gateway demo-gw3 refused" in log, log

        # the broker's ACL: demo-gw2's identity may publish on its own data
        # topic but not on demo-gw1's (the broker drops that one silently)
        c.subscribe("suido/v1/+/+/data", qos=1)
        time.sleep(0.3)
        gw2 = st.mqtt_client("it-demo-gw2", st.pki["gw_tls"]["demo-gw2"])
        gw2.connect("127.0.0.1", st.mqtt_port)
        gw2.loop_start()
        gw2.publish("suido/v1/demo/demo-gw1/data", b"acl-foreign", qos=1).wait_for_publish()
        gw2.publish("suido/v1/demo/demo-gw2/data", b"acl-own", qos=1).wait_for_publish()
        assert h.wait_until(lambda: (("suido/v1/demo/demo-gw2/data", b"acl-own") in data_seen), 10), data_seen
        assert not [d for d in data_seen if d[1] == b"acl-foreign"], data_seen
        gw2.loop_stop()
        gw2.disconnect()
        c.loop_stop()

        # nothing of the forged messages is stored for utility demo beyond the one
        # legitimate-looking message, and the real gateway's data all arrived
        def served():
            snap = st.api.snapshot("demo")
            pump = {k: v for k, v in snap.items() if k[0] == "第2ポンプ場"}
            return snap if sum(len(v["values"]) for v in pump.values()) == 48 else None
        snap = h.wait_until(served, 30)
        assert snap, "pump sample not served"
        level = snap[("配水池", "配水池水位(m)")]["values"]
        assert level == {"2026-11-21T15:00:00Z": 1.5, "2026-11-21T20:00:00Z": 9.5}, level
        assert ("", "外部") in snap and len(snap[("", "外部")]["values"]) == 1
        assert not [k for k in snap if k[1].startswith("侵入")], snap.keys()
        st_code, body = st.api.get("/utilities/demo/items")
        assert st_code == 200 and not [i for i in body["items"] if i["id"].startswith("sec.")], body
        assert st.alive("platform") and st.alive("gateway")
    finally:
        st.stop()
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
