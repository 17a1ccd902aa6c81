"""Disk full at the gateway (docs/reliability.md; seed 003 5-1): the gateway's
state directory and spool on a small tmpfs. With the file system full, files
dropped into the spool are not taken: they stay there untouched, no receipt,
nothing in done/; the gateway logs one ERROR alert, its health report says
"intake_paused": true with the alert, and it keeps trying. Once space is
freed it resumes by itself (logged), and every record of the sample files
arrives at the platform exactly once with its exact value.

Mounting a tmpfs needs root: skipped (exit 0, saying so) otherwise."""

import base64
import errno
import json
import os
import re
import sqlite3
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
import harness as h  # noqa: E402

TOPIC = "suido/v1/demo/demo-gw1/"
ALERT = "ALERT: intake paused"


def gateway_log(st):
    try:
        return open(os.path.join(st.dir, "log", "gateway.log"), errors="replace").read()
    except OSError:
        return ""


class Health:
    """The gateway's health reports (payload of the JWS, not verified here:
    test_commands does that)."""

    def __init__(self, st):
        self.reports = []
        self.lock = threading.Lock()
        self.c = st.mqtt_client("it-health-df", st.client_cert("it-attacker"))
        self.c.on_message = self._on_message
        self.c.connect("127.0.0.1", st.mqtt_port)
        self.c.subscribe(TOPIC + "health", qos=1)
        self.c.loop_start()

    def _on_message(self, cl, ud, msg):
        part = msg.payload.decode().split(".")[1]
        rep = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
        with self.lock:
            self.reports.append(rep)

    def last(self):
        with self.lock:
            return self.reports[-1] if self.reports else {}

    def stop(self):
        self.c.loop_stop()
        self.c.disconnect()


def fill(path):
    """Writes path until the file system is full; returns the bytes written."""
    n = 0
    with open(path, "wb", buffering=0) as f:
        for size in (1 << 16, 4096, 512, 1):
            chunk = b"\0" * size
            while True:
                try:
                    n += f.write(chunk)
                except OSError as e:
                    assert e.errno == errno.ENOSPC, e
                    break
    return n


def main():
    if os.geteuid() != 0:
        print("test_diskfull: skipped, needs root (mount -t tmpfs)")
        print("0 passed, 0 failed, 1 skipped")
        return
    st = h.Stack(extra_gateway_conf="min_free_bytes = 0\n[send]\nstart = immediately\n"
                                    "[monitor]\nhealth_interval_s = 1\n")
    mnt = os.path.join(st.dir, "gwfs")
    os.makedirs(mnt)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m,mode=0700", "tmpfs", mnt], check=True)
    mounted, hw = True, None
    try:
        # state and spool on the tmpfs (one file system: files move by rename)
        conf = os.path.join(st.dir, "gateway.conf")
        text = open(conf).read()
        text = re.sub(r"(?m)^state_dir = .*$", "state_dir = %s/state" % mnt, text)
        text = re.sub(r"(?m)^spool_dir = .*$", "spool_dir = %s/spool" % mnt, text)
        open(conf, "w").write(text)
        st.spool, st.receipts = os.path.join(mnt, "spool"), os.path.join(mnt, "state", "receipts")
        os.makedirs(st.spool)
        st.start()
        hw = Health(st)
        assert h.wait_until(lambda: "over TLS" in gateway_log(st), 20), gateway_log(st)[-3000:]
        assert h.wait_until(lambda: hw.last().get("intake_paused") is False, 10), hw.last()
        assert hw.last().get("alert", "missing") is None, hw.last()

        # the files are staged under dot-names while there is room, the
        # file system is filled, then they appear in the spool
        names = sorted(os.listdir(h.SAMPLES))
        for name in names:
            with open(os.path.join(st.spool, "." + name + ".part"), "wb") as f:
                f.write(open(os.path.join(h.SAMPLES, name), "rb").read())
        filler = os.path.join(mnt, "filler")
        fill(filler)
        for name in names:
            os.rename(os.path.join(st.spool, "." + name + ".part"), os.path.join(st.spool, name))

        assert h.wait_until(lambda: ALERT in gateway_log(st), 20), gateway_log(st)[-3000:]
        assert h.wait_until(lambda: hw.last().get("intake_paused") is True, 10), hw.last()
        assert "disk full" in (hw.last().get("alert") or ""), hw.last()
        time.sleep(12)  # two more retries: still full, no second alert
        log = gateway_log(st)
        assert log.count(ALERT) == 1, log[-4000:]
        assert sorted(f for f in os.listdir(st.spool) if not f.startswith(".")) == names, \
            os.listdir(st.spool)
        for name in names:
            assert open(os.path.join(st.spool, name), "rb").read() == \
                open(os.path.join(h.SAMPLES, name), "rb").read(), name
        done = os.path.join(mnt, "state", "done")
        assert not os.path.isdir(done) or not os.listdir(done), os.listdir(done)
        assert not [n for n in names if os.path.exists(os.path.join(st.receipts, n + ".receipt.json"))]
        assert hw.last().get("intake_paused") is True, hw.last()

        # space returns: intake resumes alone, everything arrives once
        os.unlink(filler)
        assert h.wait_until(lambda: "intake resumed" in gateway_log(st), 20), gateway_log(st)[-3000:]
        for name in names:
            assert st.receipt(name)["status"] == "accepted"
        expected = h.expected_from_samples()
        n_points = sum(len(e["values"]) for e in expected.values())

        def diffs():
            return h.compare(expected, st.api.snapshot("demo"), st.mask_key)
        assert h.wait_until(lambda: not diffs(), 60), diffs()[:5]
        pdb = sqlite3.connect("file:%s?mode=ro" % os.path.join(st.dir, "platform", "platform.db"),
                              uri=True)
        try:
            got = pdb.execute("SELECT sum(n_points) FROM messages").fetchone()[0]
        finally:
            pdb.close()
        assert got == n_points, (got, n_points)
        assert h.wait_until(lambda: hw.last().get("intake_paused") is False, 10), hw.last()
        assert hw.last().get("alert", "missing") is None, hw.last()
        assert not os.listdir(st.spool) or all(f.startswith(".") for f in os.listdir(st.spool))
        log = gateway_log(st)
        assert log.count(ALERT) == 1 and log.count("intake resumed") == 1, log[-4000:]
        print("disk full: intake paused with one alert, %d files kept in the spool; resumed "
              "alone, %d points arrived once" % (len(names), n_points))
        print("1 passed, 0 failed")
    finally:
        if hw:
            hw.stop()
        for name in ("gateway", "platform", "mosquitto"):
            st.kill(name, 15)
        if mounted:
            subprocess.run(["umount", "-l", mnt], check=False)
        st.stop()


if __name__ == "__main__":
    main()
