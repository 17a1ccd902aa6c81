"""Acceptance (issue 4: monitoring, commands, gap repair) on a running stack:
the platform's side of the commands and of system monitoring, with the
real gateway.

- The platform's view of the gateway: online with its verified health report
  (GET .../gateways), the state in /metrics, silent after silent_intervals
  intervals without data, offline when the gateway is killed (its last
  will), online again when it comes back, every change kept as an event.
- Operator commands through the admin interface with `suido gateway stop`
  and `start` (libcurl, token from the environment): after stop a file is
  taken but no data arrives; after start it does. A wrong admin token and an
  unknown gateway are refused.
- Gap repair: after a platform restart on a database that lost one stored
  message (a backup restored, say), the next message shows the hole; the
  platform asks for a resend of the missing seq by itself and the gateway's
  resend fills it: every value is served again, exactly, with no operator
  action."""

import os
import shutil
import signal
import sqlite3
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


def drop(st, sample, name=None):
    name = name or sample
    shutil.copy(os.path.join(h.SAMPLES, sample), os.path.join(st.spool, "." + name))
    os.rename(os.path.join(st.spool, "." + name), os.path.join(st.spool, name))
    return st.receipt(name)


def gateway_view(st):
    code, body = st.api.get("/utilities/%s/gateways" % st.utility)
    assert code == 200, (code, body)
    return [g for g in body["gateways"] if g["id"] == st.gateway][0]


def events(st):
    code, body = st.api.get("/utilities/%s/gateways/%s/events" % (st.utility, st.gateway))
    assert code == 200, (code, body)
    return [(e["from"], e["to"]) for e in body["events"]]


def wait_state(st, want, timeout):
    return h.wait_until(lambda: gateway_view(st)["state"] == want, timeout)


def suido_gateway(st, env, *args):
    return subprocess.run([h.SUIDO, "gateway", *args], env=env, capture_output=True, text=True)


def points(st):
    return sum(len(e["values"]) for e in st.api.snapshot(st.utility).values())


def main():
    platform_conf = "[monitor]\nhealth_interval_s = 1\nsilent_intervals = 3\ngap_grace_s = 2\n"
    st = h.Stack(extra_platform_conf=platform_conf, gateway_platform_conf="interval_s = 1",
                 extra_gateway_conf="[monitor]\nhealth_interval_s = 1\n")
    env = dict(os.environ, SUIDO_ADMIN_URL=st.base_url, SUIDO_ADMIN_TOKEN=st.admin_token,
               SUIDO_API_CA=st.pki["ca"])
    try:
        st.start()
        st.wait_healthy()
        # 1. online, with a verified health report
        ok = h.wait_until(lambda: gateway_view(st)["state"] == "online" and
                          gateway_view(st)["health"] is not None, 15)
        v = gateway_view(st)
        check("gateway online with its health report", ok, v)
        health = v.get("health") or {}
        check("health report: queue, disk, memory", health.get("profile") == "suido.health/1" and
              health.get("disk_total_bytes", 0) > 0 and health.get("rss_bytes", 0) > 0, health)
        check("sending at the platform's interval", v["sending"] is True and v["interval_s"] == 1, v)
        with st.urlopen("/metrics") as r:
            text = r.read().decode()
        check("/metrics: the gateway's state",
              'suido_platform_gateway_state{utility="demo",gateway="demo-gw1",state="online"} 1'
              in text, [l for l in text.splitlines() if "gateway_state" in l])

        # 2. data, then silence: silent after 3 intervals of 1 s
        drop(st, "haisuichi_2026112x_cp932.csv", "a.csv")
        check("data served", h.wait_until(lambda: points(st) == 240, 20), points(st))
        check("silent without data", wait_state(st, "silent", 15), gateway_view(st))

        # 3. operator commands: stop holds the data, start lets it go
        r = suido_gateway(st, env, "stop", st.gateway)
        check("suido gateway stop: queued", r.returncode == 0, r.stderr)
        check("sending off, not silent while stopped",
              h.wait_until(lambda: gateway_view(st)["sending"] is False and
                           gateway_view(st)["state"] == "online", 15), gateway_view(st))
        drop(st, "pump_station_long_utf8bom.csv", "b.csv")
        time.sleep(3)
        check("after stop the file is taken, no data arrives", points(st) == 240, points(st))
        r = suido_gateway(st, env, "start", st.gateway, "--interval", "1")
        check("suido gateway start: queued", r.returncode == 0, r.stderr)
        check("after start the held data arrives", h.wait_until(lambda: points(st) == 288, 20),
              points(st))
        bad = dict(env, SUIDO_ADMIN_TOKEN="0" * 64)
        r = suido_gateway(st, bad, "stop", st.gateway)
        check("a wrong admin token is refused", r.returncode == 74 and "401" in r.stderr,
              (r.returncode, r.stderr))
        r = suido_gateway(st, env, "stop", "no-such-gw")
        check("an unknown gateway is refused", r.returncode == 65 and "404" in r.stderr,
              (r.returncode, r.stderr))

        # 4. killed: its last will says offline; back: online
        st.kill("gateway")
        check("killed gateway: offline", wait_state(st, "offline", 20), gateway_view(st))
        st.start_gateway()
        check("restarted gateway: online", wait_state(st, "online", 20), gateway_view(st))
        ev = events(st)
        for pair in (("offline", "online"), ("online", "silent"), ("online", "offline")):
            check("event %s -> %s kept" % pair, pair in ev, ev)

        # 5. gap repair: the platform's database loses the message that
        #    carried b.csv (and its values); after a restart the next
        #    message shows the hole and the platform asks for it by itself
        st.kill("platform", signal.SIGTERM)
        db = sqlite3.connect(os.path.join(st.dir, "platform", "platform.db"))
        lost = db.execute("SELECT id, seq FROM messages WHERE n_points = 48").fetchall()
        check("the pump file travelled in one message", len(lost) == 1, lost)
        db.execute("DELETE FROM messages WHERE n_points = 48")
        db.execute("DELETE FROM blocks WHERE item_key IN "
                   "(SELECT item_key FROM items WHERE id LIKE 'pump_long.%')")
        db.commit()
        db.close()
        st.start_platform()
        st.wait_healthy()
        check("the lost values are gone", h.wait_until(lambda: points(st) == 240, 10), points(st))
        drop(st, "ryokin_kenshin_202611_cp932.csv", "c.csv")
        ok = h.wait_until(lambda: points(st) == 240 + 48 + 70, 40)
        check("the gap is asked for and filled without an operator", ok, points(st))
        log = st.log("platform")
        check("the platform logged the gap and its resend request",
              "gap in the messages of demo/demo-gw1: seq %d..%d" % (lost[0][1], lost[0][1]) in log
              if lost else False, [l for l in log.splitlines() if "gap" in l or "resend" in l][-5:])
        expected = h.expected_from_samples()
        diffs = h.compare(expected, st.api.snapshot(st.utility), st.mask_key)
        check("every value served exactly", not diffs, diffs[:5])
    finally:
        st.stop()
    if FAILED:
        print("%d failed: %s" % (len(FAILED), ", ".join(FAILED)))
        sys.exit(1)
    print("all passed")


if __name__ == "__main__":
    main()
