"""Bad input costs nothing else: through the running stack, files with broken
bytes, a wrong column count, an unparseable number, an impossible date, an
unknown layout, a binary file and an oversized file each get a receipt naming
file, line and reason; the good rows are served; and MQTT messages that are
malformed, forged for another gateway, or resent are answered (rejected /
duplicate) by the platform without storing anything or blocking the real
gateway. MQTT is driven with paho-mqtt, an independent client."""

import json
import os
import shutil
import sys
import threading
import time
import urllib.request

import paho.mqtt.client as mqtt

sys.path.insert(0, os.path.dirname(__file__))
import harness as h  # noqa: E402

HEADER = "日時,配水池水位(m),流入流量(m3/h),流出流量(m3/h),残留塩素(mg/L),濁度(度)\r\n"


def metrics(st):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % st.http_port) as r:
        text = r.read().decode()
    return {l.split()[0]: float(l.split()[1]) for l in text.splitlines() if l and not l.startswith("#")}


def main():
    st = h.Stack(extra_gateway_conf="max_file_bytes = 200000\n")
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

        # hostile MQTT traffic, from an independent client
        acks, got = [], threading.Event()
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="it-attacker") \
            if hasattr(mqtt, "CallbackAPIVersion") else mqtt.Client(client_id="it-attacker")

        def on_message(cl, ud, msg):
            acks.append((msg.topic, json.loads(msg.payload)))
            got.set()
        c.on_message = on_message
        c.connect("127.0.0.1", st.mqtt_port)
        c.subscribe("suido/v1/+/+/ack", qos=1)
        c.loop_start()
        time.sleep(0.5)
        good = {"profile": "suido.data/1", "id": "demo-gw1:1:999999", "utility": "demo",
                "gateway": "demo-gw1", "items": [{"id": "it.x", "name": "外部", "unit": ""}],
                "points": [[0, "2026-11-22T00:00:00Z", 1.25]]}
        c.publish("suido/v1/demo/demo-gw1/data", b"{not json", qos=1)
        forged = dict(good, id="ghost:1:1", gateway="ghost")
        c.publish("suido/v1/demo/ghost/data", json.dumps(forged), qos=1)
        c.publish("suido/v1/other/demo-gw1/data", json.dumps(good), qos=1)
        c.publish("suido/v1/demo/demo-gw1/data", json.dumps(dict(good, gateway="x", id="x:1:1")), qos=1)
        c.publish("suido/v1/demo/demo-gw1/data", json.dumps(good), qos=1)
        c.publish("suido/v1/demo/demo-gw1/data", json.dumps(good), qos=1)
        ok = h.wait_until(lambda: len([a for a in acks if a[1]["id"] == "demo-gw1:1:999999"]) >= 3, 10)
        assert ok, acks
        mine = [a[1]["status"] for a in acks if a[1]["id"] == "demo-gw1:1:999999" and a[0] == "suido/v1/demo/demo-gw1/ack"]
        assert mine[:2] == ["stored", "duplicate"], mine
        rej = [a for a in acks if a[1]["status"] == "rejected"]
        assert any(a[0] == "suido/v1/demo/ghost/ack" and "not registered" in a[1]["reason"] for a in rej), rej
        assert any(a[0] == "suido/v1/other/demo-gw1/ack" for a in rej), rej
        c.loop_stop()
        m = metrics(st)
        assert m["suido_platform_messages_rejected_total"] >= 4, m
        assert m["suido_platform_messages_duplicate_total"] >= 1, m

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
        assert st.alive("platform") and st.alive("gateway")
    finally:
        st.stop()
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
