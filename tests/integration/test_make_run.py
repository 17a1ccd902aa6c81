"""Acceptance: `make run` (scripts/run.sh) serves every value of the three
sample files through the AP interface within 60 s of start, exact, at the
right UTC instant; and Ctrl-C stops everything it started."""

import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
import harness as h  # noqa: E402


def main():
    var = tempfile.mkdtemp(prefix="suido-run-")
    env = dict(os.environ, SUIDO_VAR=var, SUIDO_BUILD=h.BUILD, SUIDO_RUN_QUIET="1",
               SUIDO_MQTT_PORT=str(h.free_port()), SUIDO_HTTP_PORT=str(h.free_port()))
    expected = h.expected_from_samples()
    n_points = sum(len(e["values"]) for e in expected.values())
    assert n_points == 48 * 5 + 48 + 10 * 4, n_points
    # spot check the independent reading itself: local midnight JST is 15:00Z
    assert expected[("配水池", "配水池水位(m)")]["values"]["2026-11-19T15:00:00Z"] == 4.5

    t0 = time.time()
    run = subprocess.Popen(["bash", os.path.join(h.SOURCE, "scripts", "run.sh")], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        envfile = os.path.join(var, "run", "endpoints.env")
        assert h.wait_until(lambda: os.path.exists(envfile), 30), run.stdout.read1().decode()
        time.sleep(0.2)
        endpoints = dict(l.strip().split("=", 1) for l in open(envfile) if "=" in l)
        for k in ("SUIDO_API_URL", "SUIDO_API_TOKEN", "SUIDO_UTILITY", "SUIDO_SPOOL_DIR"):
            assert endpoints.get(k), k
        api = h.Api(endpoints["SUIDO_API_URL"], endpoints["SUIDO_API_TOKEN"])
        util = endpoints["SUIDO_UTILITY"]

        diffs = ["not polled yet"]
        while time.time() - t0 < 60:
            diffs = h.compare(expected, api.snapshot(util))
            if not diffs:
                break
            time.sleep(0.5)
        elapsed = time.time() - t0
        assert not diffs, "after %.1f s: %d differences, e.g. %s" % (elapsed, len(diffs), diffs[:5])
        print("all %d points of %d items served exactly after %.1f s" % (n_points, len(expected), elapsed))
        # without a token the AP interface is closed
        st, _ = api.get("/utilities/%s/items" % util, token="")
        assert st == 401, st
    finally:
        os.killpg(run.pid, signal.SIGINT)
        out = run.communicate(timeout=30)[0].decode(errors="replace")
    assert "run: stopped" in out, out[-2000:]
    reports = h.sanitizer_reports(os.path.join(var, "log"))
    assert not reports, "sanitizer reports:\n" + "\n".join(reports)
    # nothing it started is left running
    left = subprocess.run(["pgrep", "-f", var], capture_output=True, text=True).stdout.strip()
    assert not left, "processes left running: " + left
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
