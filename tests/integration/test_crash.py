"""Crash test (reliability.md): while files keep arriving, kill -9 the
gateway, the platform or the broker at random moments, at least 20 cycles,
restarting each. At the end every accepted record is stored exactly once
(lost = 0, duplicated = 0) and both databases pass SQLite's integrity check.
Bounded: about two minutes. SUIDO_CRASH_CYCLES and SUIDO_CRASH_SEED override."""

import datetime as dt
import os
import random
import sqlite3
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
import harness as h  # noqa: E402

HEADER = "日時,配水池水位(m),流入流量(m3/h),流出流量(m3/h),残留塩素(mg/L),濁度(度)"
COLS = HEADER.split(",")[1:]


def make_file(idx, rows):
    base = dt.datetime(2026, 1, 1, tzinfo=h.JST) + dt.timedelta(hours=idx * rows)
    lines, exp = [HEADER], {}
    for r in range(rows):
        t = base + dt.timedelta(hours=r)
        vals = [idx * 100000 + r * 10 + c + 0.25 for c in range(len(COLS))]
        lines.append(t.strftime("%Y/%m/%d %-H:%M") + "," + ",".join(repr(v) for v in vals))
        for c, v in zip(COLS, vals):
            exp.setdefault(c, {})[h.iso_utc(t)] = v
    return ("\r\n".join(lines) + "\r\n").encode("cp932"), exp


def main():
    cycles = int(os.environ.get("SUIDO_CRASH_CYCLES", "24"))
    seed = int(os.environ.get("SUIDO_CRASH_SEED", str(int(time.time()))))
    rng = random.Random(seed)
    print("seed", seed, "cycles", cycles)
    n_files, rows = 60, 100
    st = h.Stack(extra_gateway_conf="", keep=True)
    # Short ack timeout so resends after a broker crash happen within the test.
    with open(os.path.join(st.dir, "gateway.conf"), "a") as f:
        f.write("[send]\nack_timeout_ms = 1500\ninterval_ms = 200\nbatch_points = 250\n")
    st.start()
    expected = {}
    files = []
    for i in range(n_files):
        data, exp = make_file(i, rows)
        files.append(("crash_%03d.csv" % i, data))
        for c, v in exp.items():
            expected.setdefault(("配水池", c), {"unit": h.unit_of(c), "values": {}})["values"].update(v)

    done = threading.Event()

    def feeder():
        for name, data in files:
            st.drop(name, data)
            time.sleep(rng.uniform(0.05, 0.3))
        done.set()

    th = threading.Thread(target=feeder)
    th.start()
    kills = {"gateway": 0, "platform": 0, "mosquitto": 0}
    starters = {"gateway": st.start_gateway, "platform": st.start_platform, "mosquitto": st.start_broker}
    try:
        for c in range(cycles):
            victim = rng.choice(list(kills))
            time.sleep(rng.uniform(0.1, 1.2))
            st.kill(victim)
            kills[victim] += 1
            time.sleep(rng.uniform(0.05, 0.6))
            starters[victim]()
        th.join()
        for name in kills:
            assert st.alive(name), name + " died:\n" + st.log(name)
        st.wait_healthy()
        # every file must have left the spool with a receipt
        ok = h.wait_until(lambda: not [f for f in os.listdir(st.spool) if not f.startswith(".")], 60)
        assert ok, "files left in the spool: %s" % os.listdir(st.spool)
        diffs = ["not polled"]
        end = time.time() + 90
        while time.time() < end:
            diffs = h.compare(expected, st.api.snapshot(st.utility))
            if not diffs:
                break
            time.sleep(1)
        lost = sum(1 for d in diffs if d.startswith("missing"))
        assert not diffs, "lost=%d, %d differences, e.g. %s\ngateway log:\n%s" % (
            lost, len(diffs), diffs[:5], st.log("gateway"))
        db = sqlite3.connect(os.path.join(st.dir, "platform", "platform.db"))
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        total = sum(len(e["values"]) for e in expected.values())
        # The (item, t) key would hide a point stored twice; the messages the
        # platform stored must carry each point exactly once.
        carried = db.execute("SELECT sum(n_points), count(*) FROM messages").fetchone()
        assert carried[0] == total, "points carried by stored messages: %s, expected %d" % (carried, total)
        print("kills:", kills, "points:", total, "messages:", carried[1],
              "lost=0 duplicated=0 integrity=ok")
        st.kill("gateway", sig=15)
        q = sqlite3.connect(os.path.join(st.dir, "gateway", "queue.db"))
        assert q.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        unacked = q.execute("SELECT count(*) FROM messages WHERE acked IS NULL").fetchone()[0]
        pending = q.execute("SELECT coalesce(sum(n), 0) FROM pending").fetchone()[0]
        assert unacked == 0 and pending == 0, (unacked, pending)
    finally:
        st.keep = False
        st.stop()
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
