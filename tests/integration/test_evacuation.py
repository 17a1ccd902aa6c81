"""Evacuation (seed 003 5-1 No.4, データ退避; docs/reliability.md) through the
running stack: with [send] retention_s = 2, acknowledged messages leave the
gateway's queue for compressed archive files under state_dir/archive, indexed
in the queue database; a resend command of the evacuated range (signed like
the platform signs, `suido sign` with its data-protection key, kid
"platform") makes the gateway read them back from the archive and publish
them again, byte for byte the same messages: the platform answers
"duplicate" for each and stores nothing twice."""

import gzip
import json
import os
import sqlite3
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
import harness as h  # noqa: E402

TOPIC = "suido/v1/demo/demo-gw1/"


def gateway_log(st):
    try:
        return open(os.path.join(st.dir, "log", "gateway.log"), errors="replace").read()
    except OSError:
        return ""


def queue_db(st, sql):
    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(st.dir, "gateway", "queue.db"), uri=True)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


class Watcher:
    """Every data message and ack of the gateway (broker user it-attacker,
    who may read every topic)."""

    def __init__(self, st):
        self.data, self.acks = [], []
        self.lock = threading.Lock()
        self.c = st.mqtt_client("it-watch-evac", st.client_cert("it-attacker"))
        self.c.on_message = self._on_message
        self.c.connect("127.0.0.1", st.mqtt_port)
        self.c.subscribe(TOPIC + "data", qos=1)
        self.c.subscribe(TOPIC + "ack", qos=1)
        self.c.loop_start()
        time.sleep(0.5)

    def _on_message(self, cl, ud, msg):
        with self.lock:
            if msg.topic.endswith("/data"):
                self.data.append(msg.payload)
            else:
                self.acks.append(json.loads(msg.payload))

    def snapshot(self):
        with self.lock:
            return list(self.data), list(self.acks)

    def stop(self):
        self.c.loop_stop()
        self.c.disconnect()


def send_command(st, obj):
    """Signs obj as the platform does and publishes it retained as suido-platform."""
    r = subprocess.run([h.SUIDO, "sign", "--format", "json", "--key", st.pki["platform_key"],
                        "--kid", "platform"], input=json.dumps(obj).encode(), capture_output=True)
    assert r.returncode == 0, r.stderr
    c = st.mqtt_client("it-commander-evac", st.client_cert("suido-platform"))
    c.connect("127.0.0.1", st.mqtt_port)
    c.loop_start()
    try:
        info = c.publish(TOPIC + "command", r.stdout.strip(), qos=1, retain=True)
        info.wait_for_publish(10)
        assert info.is_published()
    finally:
        c.loop_stop()
        c.disconnect()


def main():
    st = h.Stack(extra_gateway_conf="[send]\nstart = immediately\nbatch_points = 40\n"
                                    "retention_s = 2\n")
    w = None
    try:
        st.start()
        w = Watcher(st)
        expected = h.expected_from_samples()
        n_points = sum(len(e["values"]) for e in expected.values())
        for name in sorted(os.listdir(h.SAMPLES)):
            st.drop(name, open(os.path.join(h.SAMPLES, name), "rb").read())
            assert st.receipt(name)["status"] == "accepted"

        def served():
            return not h.compare(expected, st.api.snapshot("demo"), st.mask_key)
        assert h.wait_until(served, 60), h.compare(expected, st.api.snapshot("demo"), st.mask_key)[:5]
        data, acks = w.snapshot()
        stored = sorted(int(a["id"].rsplit(":", 1)[1]) for a in acks if a["status"] == "stored")
        n_msgs = len(stored)
        assert stored == list(range(1, n_msgs + 1)) and n_msgs >= 3, acks
        epoch = int(acks[0]["id"].split(":")[1])

        # 1. evacuation: the acked messages leave the queue for archive files
        def evacuated():
            return queue_db(st, "SELECT count(*) FROM messages")[0][0] == 0
        assert h.wait_until(evacuated, 30), (queue_db(st, "SELECT seq, acked FROM messages"),
                                             gateway_log(st)[-3000:])
        archdir = os.path.join(st.dir, "gateway", "archive")
        files = sorted(os.listdir(archdir))
        assert files and all(f.startswith("%d-" % epoch) and f.endswith(".jsonl.gz") for f in files), files
        index = queue_db(st, "SELECT file, first_seq, last_seq, n_msgs, bytes FROM archives "
                             "ORDER BY first_seq")
        assert sorted(r[0] for r in index) == files, (index, files)
        assert sum(r[3] for r in index) == n_msgs, index
        assert index[0][1] == 1 and index[-1][2] == n_msgs, index
        # the archives are plain gzip'ed JSON lines any tool reads
        lines = []
        for f in files:
            with gzip.open(os.path.join(archdir, f), "rt", encoding="utf-8") as g:
                rows = [json.loads(l) for l in g]
            assert rows[0]["format"] == "suido.archive/1" and rows[0]["epoch"] == epoch, rows[0]
            assert rows[-1]["end"] == "suido.archive/1" and rows[-1]["count"] == len(rows) - 2
            assert os.path.getsize(os.path.join(archdir, f)) == \
                [r[4] for r in index if r[0] == f][0]
            lines += rows[1:-1]
        assert [l["seq"] for l in lines] == list(range(1, n_msgs + 1)), [l["seq"] for l in lines]
        assert sum(l["n_points"] for l in lines) == n_points
        assert "evacuated" in gateway_log(st)

        # 2. a resend of the evacuated range: read back from the archives,
        # published again, answered duplicate; nothing stored twice
        before_data, before_acks = w.snapshot()
        n = len(gateway_log(st))
        send_command(st, {"profile": "suido.command/1", "utility": "demo", "gateway": "demo-gw1",
                          "seq": time.time_ns() // 1000 + 10**6,
                          "issued": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                          "command": "resend", "from_seq": 1, "to_seq": n_msgs + 2,
                          "epoch": epoch})
        want = "resend of seq 1..%d done: %d published again, 2 not held" % (n_msgs + 2, n_msgs)
        assert h.wait_until(lambda: want in gateway_log(st)[n:], 30), gateway_log(st)[n:]

        def dup_acks():
            return [a for a in w.snapshot()[1][len(before_acks):] if a["status"] == "duplicate"]
        assert h.wait_until(lambda: len(dup_acks()) >= n_msgs, 30), (dup_acks(), gateway_log(st)[n:])
        time.sleep(1)
        data, acks = w.snapshot()
        again = acks[len(before_acks):]
        assert sorted(int(a["id"].rsplit(":", 1)[1]) for a in again) == list(range(1, n_msgs + 1)), again
        assert all(a["status"] == "duplicate" for a in again), again
        assert len(data) - len(before_data) == n_msgs, (len(data), len(before_data))
        # still stored exactly once on the platform
        pdb = sqlite3.connect("file:%s?mode=ro" % os.path.join(st.dir, "platform", "platform.db"),
                              uri=True)
        try:
            assert pdb.execute("SELECT count(*), sum(n_points) FROM messages").fetchone() == \
                (n_msgs, n_points)
        finally:
            pdb.close()
        assert not h.compare(expected, st.api.snapshot("demo"), st.mask_key)
        assert "corrupt" not in gateway_log(st)[n:], gateway_log(st)[n:]
        print("evacuation: %d messages in %d archive files, resent from them and answered "
              "duplicate" % (n_msgs, len(files)))
        print("1 passed, 0 failed")
    finally:
        if w:
            w.stop()
        st.stop()


if __name__ == "__main__":
    main()
