"""The signed original kept with each message: through the running stack
(sealed json gateway), a CSV's values are stored together with the JWS the
platform verified; `suido original export` writes it back out, `suido verify
--format json` checks it against the gateway's certificate and the platform
root (exit 0) and gives back the very data message whose values the AP
interface serves; a changed byte makes verify fail with 66. The export is
tenant-scoped: another utility's name finds nothing (65)."""

import datetime as dt
import json
import os
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import harness as h  # noqa: E402

HEADER = "日時,配水池水位(m),流入流量(m3/h),流出流量(m3/h),残留塩素(mg/L),濁度(度)\r\n"


def stored_ids(db):
    """Ids of the messages stored with an original (read-only connection)."""
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=10)
    try:
        return [r[0] for r in con.execute(
            "SELECT id FROM messages WHERE original IS NOT NULL ORDER BY id")]
    finally:
        con.close()


def run(*args, data=None):
    return subprocess.run([h.SUIDO, *args], input=data, capture_output=True)


def main():
    st = h.Stack()
    st.start()
    try:
        db = os.path.join(st.dir, "platform", "platform.db")
        csv = (HEADER + "2026/11/22 0:00,1.5,2.5,3.5,4.5,5.5\r\n"
               + "2026/11/22 1:00,1.75,2.25,3.25,4.25,5.25\r\n").encode("cp932")
        st.drop("orig.csv", csv)
        r = st.receipt("orig.csv")
        assert r["status"] == "accepted", r
        ids = []
        end = time.time() + 30
        while time.time() < end and not ids:
            ids = stored_ids(db)
            time.sleep(0.2)
        assert ids, "no message stored with an original; platform log:\n" + st.log("platform")

        jws_path = os.path.join(st.dir, "original.jws")
        msg_id = ids[0]
        e = run("original", "export", "--db", db, "--utility", st.utility, "--message", msg_id,
                "--out", jws_path)
        assert e.returncode == 0, e.stderr
        jws = open(jws_path, "rb").read()
        assert jws.count(b".") == 2 and not jws.startswith(b"{"), jws[:80]
        # the same bytes on standard output
        e2 = run("original", "export", "--db", db, "--utility", st.utility, "--message", msg_id)
        assert e2.returncode == 0 and e2.stdout == jws, e2.stderr

        gw_cert = st.pki["gw"][st.gateway][1]
        v = run("verify", "--format", "json", "--from", gw_cert, "--ca", st.pki["ca"],
                "--in", jws_path)
        assert v.returncode == 0, v.stderr
        assert b"kid: " + st.gateway.encode() in v.stderr, v.stderr
        msg = json.loads(v.stdout)
        assert msg["id"] == msg_id and msg["utility"] == st.utility, msg
        assert msg["gateway"] == st.gateway, msg

        # The values the original carries are the ones served.
        def instant(t):
            return dt.datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp()

        served = {}
        for item in msg["items"]:
            served[item["id"]] = {instant(p["t"]): p["v"]
                                  for p in st.api.all_values(st.utility, item["id"])}
        assert msg["points"], msg
        for idx, t, val in msg["points"]:
            item = msg["items"][idx]["id"]
            assert served[item].get(instant(t)) == val, (item, t, val, served[item])

        # One changed byte in the signed payload: the signature fails (66).
        parts = jws.split(b".")
        mid = len(parts[1]) // 2
        c = parts[1][mid:mid + 1]
        parts[1] = parts[1][:mid] + (b"B" if c != b"B" else b"C") + parts[1][mid + 1:]
        bad = b".".join(parts)
        v = run("verify", "--format", "json", "--from", gw_cert, "--ca", st.pki["ca"], data=bad)
        assert v.returncode == 66, (v.returncode, v.stderr)
        # ...and in the signature itself.
        sig = bytearray(jws)
        k = len(jws) - 10
        sig[k] = ord("A") if sig[k] != ord("A") else ord("B")
        v = run("verify", "--format", "json", "--from", gw_cert, "--ca", st.pki["ca"],
                data=bytes(sig))
        assert v.returncode == 66, (v.returncode, v.stderr)

        # Tenant-scoped: the message is not found under another utility;
        # an unknown id is not found either; a missing database is not made.
        e = run("original", "export", "--db", db, "--utility", "other", "--message", msg_id)
        assert e.returncode == 65 and not e.stdout, (e.returncode, e.stderr)
        e = run("original", "export", "--db", db, "--utility", st.utility, "--message", "nope:1:1")
        assert e.returncode == 65, (e.returncode, e.stderr)
        missing = os.path.join(st.dir, "missing.db")
        e = run("original", "export", "--db", missing, "--utility", st.utility, "--message", msg_id)
        assert e.returncode == 74 and not os.path.exists(missing), (e.returncode, e.stderr)
        e = run("original", "export", "--db", db, "--utility", st.utility)
        assert e.returncode == 64, (e.returncode, e.stderr)
    finally:
        st.stop()
    print("ok: original exported, verified, tamper detected, tenant-scoped")


if __name__ == "__main__":
    main()
