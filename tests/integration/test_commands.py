"""Platform commands, resend requests and health reports at the gateway
(docs/protocol.md "Commands" and "Status and health"), through the running
stack. The test plays the platform's commanding side itself: it signs
commands with `suido sign` and the platform's data-protection key (kid
"platform") and publishes them retained on the gateway's command topic with
paho-mqtt under the broker identity suido-platform (the ACL lets it write
there). It shows, with [send] start = command: no data message before a
start while files are still taken; a forged command (signed by a gateway's
key) and one for another gateway are refused and logged; after a start the
held data arrives, in order, exactly once, and equals an independent reading
of the files; after a stop nothing is published while files keep being
taken, and a start sends what was held; a resend of acknowledged messages
publishes them again and the platform answers duplicate, and a range beyond
what is held is logged; after a restart the state is kept and an older
command is refused. Health reports arrive on the health topic every second
and verify with the gateway's certificate under python3-jwcrypto."""

import datetime as dt
import json
import os
import sqlite3
import subprocess
import sys
import threading
import time

from jwcrypto import jwk, jws

sys.path.insert(0, os.path.dirname(__file__))
import harness as h  # noqa: E402

HEADER = "日時,配水池水位(m),流入流量(m3/h),流出流量(m3/h),残留塩素(mg/L),濁度(度)"
NAMES = [c.split("(")[0] for c in HEADER.split(",")[1:]]
TOPIC = "suido/v1/demo/demo-gw1/"


def csv_file(day):
    """A haisuichi-layout file of 5 rows (25 points) on 2026-11-<day>, and
    its expected values {(facility, column): {iso_utc: value}}."""
    lines, exp = [HEADER], {}
    cols = HEADER.split(",")[1:]
    for hour in range(5):
        vals = [round(day + hour * 0.1 + i * 0.01, 2) for i in range(5)]
        lines.append("2026/11/%02d %d:00," % (day, hour) + ",".join("%.2f" % v for v in vals))
        t = h.iso_utc(dt.datetime(2026, 11, day, hour, tzinfo=h.JST))
        for c, v in zip(cols, vals):
            exp.setdefault(("配水池", c), {})[t] = v
    return ("\r\n".join(lines) + "\r\n").encode("cp932"), exp


class Watcher:
    """An MQTT client seeing every data, ack and health message of the
    gateway (broker identity it-attacker: read on every topic)."""

    def __init__(self, st):
        self.data, self.acks, self.health = [], [], []
        self.lock = threading.Lock()
        self.c = st.mqtt_client("it-watch", st.client_cert("it-attacker"))
        self.c.on_message = self._on_message
        self.c.connect("127.0.0.1", st.mqtt_port)
        for t in ("data", "ack", "health"):
            self.c.subscribe(TOPIC + t, qos=1)
        self.c.loop_start()
        time.sleep(0.5)

    def _on_message(self, cl, ud, msg):
        with self.lock:
            if msg.topic.endswith("/data"):
                self.data.append(msg.payload)
            elif msg.topic.endswith("/ack"):
                self.acks.append(json.loads(msg.payload))
            elif msg.topic.endswith("/health"):
                self.health.append(msg.payload)

    def counts(self):
        with self.lock:
            return len(self.data), len(self.acks), len(self.health)

    def stop(self):
        self.c.loop_stop()
        self.c.disconnect()


class Commander:
    """The platform's commanding side: signs with `suido sign` and publishes
    retained at QoS 1 as suido-platform."""

    def __init__(self, st):
        self.st = st
        self.c = st.mqtt_client("it-commander", st.client_cert("suido-platform"))
        self.c.connect("127.0.0.1", st.mqtt_port)
        self.c.loop_start()
        # far above any seq the platform itself may have used (milliseconds)
        self.base = int(time.time() * 1000) * 1000

    def send(self, seq, command, key=None, kid="platform", gateway="demo-gw1", **members):
        obj = {"profile": "suido.command/1", "utility": "demo", "gateway": gateway,
               "seq": self.base + seq, "issued": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
               "command": command, **members}
        r = subprocess.run([h.SUIDO, "sign", "--format", "json", "--key",
                            key or self.st.pki["platform_key"], "--kid", kid],
                           input=json.dumps(obj).encode(), capture_output=True)
        assert r.returncode == 0, r.stderr
        info = self.c.publish(TOPIC + "command", r.stdout.strip(), qos=1, retain=True)
        info.wait_for_publish(10)
        assert info.is_published()

    def stop(self):
        self.c.loop_stop()
        self.c.disconnect()


def gateway_log(st):
    try:
        return open(os.path.join(st.dir, "log", "gateway.log"), errors="replace").read()
    except OSError:
        return ""


def queue_pending(st):
    """Points taken into the gateway's queue and not yet cut into a message."""
    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(st.dir, "gateway", "queue.db"), uri=True)
    try:
        return db.execute("SELECT coalesce(sum(n), 0) FROM pending").fetchone()[0]
    finally:
        db.close()


def wait_log(st, text, timeout=15, after=0):
    ok = h.wait_until(lambda: text in gateway_log(st)[after:], timeout)
    assert ok, "gateway log lacks %r:\n%s" % (text, gateway_log(st)[-4000:])


def check_served(st, expected):
    def diffs():
        served = st.api.snapshot("demo")
        out = []
        for key, vals in expected.items():
            got = served.get(key, {}).get("values", {})
            out += ["%s %s: %r != %r" % (key, t, got.get(t), v) for t, v in vals.items() if got.get(t) != v]
        return out
    h.wait_until(lambda: not diffs(), 30)
    d = diffs()
    assert not d, d[:10]


def seq_of(msg_id):
    return int(msg_id.rsplit(":", 1)[1])


def main():
    st = h.Stack(extra_gateway_conf="[send]\nstart = command\nbatch_points = 10\n"
                                    "[monitor]\nhealth_interval_s = 1\n")
    w = cmd = None
    try:
        st.start_broker()
        time.sleep(0.5)
        w = Watcher(st)
        cmd = Commander(st)
        st.start_gateway()
        wait_log(st, "waiting for the platform's start command")
        wait_log(st, "over TLS")

        # 1. not started: files are taken, nothing is published
        data1, exp1 = csv_file(1)
        st.drop("a.csv", data1)
        assert st.receipt("a.csv")["status"] == "accepted"
        # a forged start (a gateway's key under kid platform), and a genuine
        # one for another gateway: both refused, logged, nothing sent
        n = len(gateway_log(st))
        cmd.send(1, "start", key=st.pki["gw"]["demo-gw1"][0], interval_s=1)
        wait_log(st, "command refused", after=n)
        assert "signature" in gateway_log(st)[n:], gateway_log(st)[n:]
        n = len(gateway_log(st))
        cmd.send(2, "start", gateway="demo-gw2", interval_s=1)
        wait_log(st, "another utility or gateway", after=n)
        time.sleep(3)
        assert w.counts()[0] == 0, "data published before a start"
        assert queue_pending(st) == 25, queue_pending(st)
        # health reports: every second, signed by the gateway, saying so
        assert h.wait_until(lambda: w.counts()[2] >= 2, 10), gateway_log(st)[-3000:]
        key = jwk.JWK.from_pem(open(st.pki["gw"]["demo-gw1"][1], "rb").read())
        s = jws.JWS()
        s.deserialize(w.health[-1].decode())
        s.verify(key, alg="RS256")
        assert s.jose_header.get("kid") == "demo-gw1", s.jose_header
        rep = json.loads(s.payload)
        want = {"profile", "utility", "gateway", "time", "sending", "interval_s", "cpu_percent",
                "rss_bytes", "disk_free_bytes", "disk_total_bytes", "queue_points",
                "queue_unacked", "oldest_unacked_s", "last_file", "last_file_time",
                "last_ack_time"}
        assert want <= set(rep), want - set(rep)
        assert rep["profile"] == "suido.health/1" and rep["gateway"] == "demo-gw1", rep
        assert rep["sending"] is False and rep["queue_points"] == 25, rep
        assert rep["last_file"] == "a.csv" and rep["last_file_time"].endswith("Z"), rep
        assert rep["rss_bytes"] > 0 and 0 < rep["disk_free_bytes"] <= rep["disk_total_bytes"], rep
        # a report signed by another key does not verify (the check can fail)
        other = jwk.JWK.from_pem(open(st.pki["platform_cert"], "rb").read())
        try:
            s2 = jws.JWS()
            s2.deserialize(w.health[-1].decode())
            s2.verify(other, alg="RS256")
            raise AssertionError("a health report verified with the wrong key")
        except jws.InvalidJWSSignature:
            pass

        # 2. a stop before the platform is up (the platform's own start, if it
        # publishes one, has a smaller seq and is refused); then the platform
        cmd.send(3, "stop")
        wait_log(st, "stop (seq")
        st.start_platform()
        st.wait_healthy()
        time.sleep(2)
        assert w.counts()[0] == 0, "data published while stopped"

        # 3. start: the held data arrives in order, exactly once
        cmd.send(4, "start", interval_s=1)
        wait_log(st, "start (seq")
        assert h.wait_until(lambda: len([a for a in w.acks if a["status"] == "stored"]) >= 3, 30), \
            (w.acks, gateway_log(st)[-3000:])
        check_served(st, exp1)
        time.sleep(1)
        with w.lock:
            acks, ndata = list(w.acks), len(w.data)
        seqs = [seq_of(a["id"]) for a in acks]
        assert [a["status"] for a in acks] == ["stored"] * 3, acks
        assert seqs == [1, 2, 3], seqs
        assert ndata == 3, "%d data messages for 3 messages" % ndata
        epoch = int(acks[0]["id"].split(":")[1])

        # 4. stop: files keep being taken, nothing is published
        cmd.send(5, "stop")
        wait_log(st, "stop (seq %d" % (cmd.base + 5))
        data2, exp2 = csv_file(2)
        st.drop("b.csv", data2)
        assert st.receipt("b.csv")["status"] == "accepted"
        time.sleep(3)
        assert w.counts()[0] == 3, "data published after a stop"
        assert queue_pending(st) == 25
        assert h.wait_until(lambda: json.loads(jws_payload(w.health[-1]))["sending"] is False, 5)

        # 5. start again: what was held goes out, once
        cmd.send(6, "start", interval_s=2)
        check_served(st, exp2)
        assert h.wait_until(lambda: len(w.acks) >= 6, 15), w.acks
        time.sleep(1)
        with w.lock:
            acks, ndata = list(w.acks), len(w.data)
        assert [seq_of(a["id"]) for a in acks] == [1, 2, 3, 4, 5, 6], acks
        assert all(a["status"] == "stored" for a in acks), acks
        assert ndata == 6, ndata
        assert h.wait_until(lambda: json.loads(jws_payload(w.health[-1]))["interval_s"] == 2, 5)

        # 6. resend of acknowledged messages, and of some never made: those
        # held go out again and are answered duplicate; the rest is logged
        n = len(gateway_log(st))
        cmd.send(7, "resend", from_seq=2, to_seq=9, epoch=epoch)
        assert h.wait_until(lambda: len(w.acks) >= 11, 15), (w.acks, gateway_log(st)[n:])
        wait_log(st, "resend of seq 2..9 done: 5 published again, 3 not held", after=n)
        assert "seq 7..9 not held" in gateway_log(st)[n:], gateway_log(st)[n:]
        time.sleep(1)
        with w.lock:
            again, ndata = list(w.acks[6:]), len(w.data)
        assert [(seq_of(a["id"]), a["status"]) for a in again] == \
            [(s, "duplicate") for s in range(2, 7)], again
        assert ndata == 11, ndata
        check_served(st, {**exp1, **exp2})
        # a resend for another epoch is refused
        n = len(gateway_log(st))
        cmd.send(8, "resend", from_seq=1, to_seq=1, epoch=epoch + 1)
        wait_log(st, "command refused", after=n)

        # 7. restart: the state is kept; the retained command is not applied
        # twice; an older command is refused
        st.kill("gateway", 15)
        n = len(gateway_log(st))
        st.start_gateway()
        wait_log(st, "last applied seq %d; sending" % (cmd.base + 7), after=n)
        wait_log(st, "connected to", after=n)
        cmd.send(5, "stop")
        wait_log(st, "is not greater than", after=n)
        data3, exp3 = csv_file(3)
        st.drop("c.csv", data3)
        check_served(st, {**exp1, **exp2, **exp3})
        assert h.wait_until(lambda: len([a for a in w.acks if a["status"] == "stored"]) >= 9, 15), w.acks
        log = gateway_log(st)
        assert "resend of seq 2..9 done" not in log[n:], "a resend was applied again after restart"
        print("commands: start/stop/resend applied, forged and old ones refused; %d health "
              "reports" % w.counts()[2])
    finally:
        for x in (w, cmd):
            if x:
                x.stop()
        st.stop()


def jws_payload(token):
    s = jws.JWS()
    s.deserialize(token.decode())
    return s.objects["payload"]


if __name__ == "__main__":
    main()
