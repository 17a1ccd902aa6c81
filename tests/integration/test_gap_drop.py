"""Acceptance (issue 4, "Gap repair: drop chosen messages between gateway and
platform; the platform detects each gap and the resend fills it, with no
operator action"), literally: a TLS man-in-the-middle proxy between the
gateway and the broker (holding a broker certificate of the stack's CA and
the gateway's own client certificate, as only a test can) forwards the MQTT
stream but drops chosen data PUBLISH packets, answering the gateway's MQTT
layer with a PUBACK itself, so the message is lost on the way and the
gateway still waits for the platform's ack. The gateway's own resend after
its ack timeout is pushed out of the way (ack_timeout_ms = 120 s); the
platform sees the next message's seq, asks for the missing one after its
grace (2 s), the gateway resends it and every value is served exactly,
well before the gateway would have resent on its own."""

import asyncio
import os
import shutil
import ssl
import sys
import threading
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


class DropProxy:
    """gateway --TLS--> proxy --TLS--> broker; drops the data PUBLISHes whose
    1-based order is in drop (first transmissions only: the order counts
    every data PUBLISH, resends included)."""

    def __init__(self, st, drop):
        self.st, self.drop = st, set(drop)
        self.port = h.free_port()
        self.data_seen = 0
        self.dropped = []
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()
        assert self.ready.wait(10)

    def _run(self):
        asyncio.set_event_loop(self.loop)
        srv_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        key, crt = self.st.pki["broker"]
        srv_ctx.load_cert_chain(crt, key)
        self.cli_ctx = ssl.create_default_context(cafile=self.st.pki["ca"])
        gkey, gcrt = self.st.pki["gw_tls"][self.st.gateway]
        self.cli_ctx.load_cert_chain(gcrt, gkey)
        server = self.loop.run_until_complete(
            asyncio.start_server(self._client, "127.0.0.1", self.port, ssl=srv_ctx))
        self.ready.set()
        self.loop.run_forever()
        server.close()

    async def _client(self, greader, gwriter):
        try:
            breader, bwriter = await asyncio.open_connection(
                "127.0.0.1", self.st.mqtt_port, ssl=self.cli_ctx, server_hostname="localhost")
        except OSError:
            gwriter.close()
            return
        await asyncio.gather(self._upstream(greader, bwriter, gwriter),
                             self._pipe(breader, gwriter), return_exceptions=True)
        for w in (gwriter, bwriter):
            w.close()

    @staticmethod
    async def _packet(reader):
        head = await reader.readexactly(1)
        length, mult, raw = 0, 1, b""
        while True:
            b = await reader.readexactly(1)
            raw += b
            length += (b[0] & 0x7F) * mult
            mult *= 128
            if not b[0] & 0x80:
                break
        body = await reader.readexactly(length)
        return head + raw + body, head[0], body

    async def _upstream(self, greader, bwriter, gwriter):
        while True:
            pkt, first, body = await self._packet(greader)
            if first >> 4 == 3 and (first >> 1) & 3 == 1:  # PUBLISH, QoS 1
                tlen = int.from_bytes(body[:2], "big")
                topic = body[2:2 + tlen].decode(errors="replace")
                pid = body[2 + tlen:4 + tlen]
                if topic.endswith("/data"):
                    self.data_seen += 1
                    if self.data_seen in self.drop:
                        self.dropped.append(self.data_seen)
                        gwriter.write(b"\x40\x02" + pid)  # the broker's PUBACK, faked
                        await gwriter.drain()
                        continue
            bwriter.write(pkt)
            await bwriter.drain()

    @staticmethod
    async def _pipe(reader, writer):
        while True:
            data = await reader.read(65536)
            if not data:
                return
            writer.write(data)
            await writer.drain()

    def stop(self):
        self.loop.call_soon_threadsafe(self.loop.stop)


def points(st):
    return sum(len(e["values"]) for e in st.api.snapshot(st.utility).values())


def main():
    st = h.Stack(extra_platform_conf="[monitor]\ngap_grace_s = 2\n",
                 extra_gateway_conf="[send]\nack_timeout_ms = 120000\n")
    proxy = DropProxy(st, drop=[2])
    conf = os.path.join(st.dir, "gateway.conf")
    text = open(conf).read()
    assert text.count("port = %d\n" % st.mqtt_port) == 1, text
    open(conf, "w").write(text.replace("port = %d\n" % st.mqtt_port, "port = %d\n" % proxy.port))
    t0 = None
    try:
        st.start()
        st.wait_healthy()
        want = 0
        for sample, n in (("haisuichi_2026112x_cp932.csv", 240),
                          ("pump_station_long_utf8bom.csv", 48),
                          ("ryokin_kenshin_202611_cp932.csv", 70)):
            before = proxy.data_seen
            shutil.copy(os.path.join(h.SAMPLES, sample), os.path.join(st.spool, ".f"))
            os.rename(os.path.join(st.spool, ".f"), os.path.join(st.spool, sample))
            st.receipt(sample)
            assert h.wait_until(lambda: proxy.data_seen > before, 20), "not published"
            if t0 is None and proxy.dropped:
                t0 = time.time()
            want += n
            if not proxy.dropped or proxy.dropped[-1] != proxy.data_seen:
                assert h.wait_until(lambda: points(st) >= want - (48 if proxy.dropped else 0), 20)
        check("the second data message was dropped on the way", proxy.dropped == [2],
              proxy.dropped)
        ok = h.wait_until(lambda: points(st) == 240 + 48 + 70, 40)
        took = time.time() - (t0 or time.time())
        check("the gap is filled without an operator, long before the gateway's own "
              "resend (%.0f s < 120 s)" % took, ok and took < 100, (points(st), took))
        log = st.log("platform")
        check("the platform detected the gap and asked for the resend",
              "gap in the messages of demo/demo-gw1: seq 2..2" in log and
              "resend 2..2 asked of demo/demo-gw1" in log,
              [l for l in log.splitlines() if "gap" in l or "resend" in l][-4:])
        glog = st.log("gateway")
        check("the gateway resent it on the platform's request", "resend" in glog,
              [l for l in glog.splitlines() if "resend" in l][-3:])
        diffs = h.compare(h.expected_from_samples(), st.api.snapshot(st.utility), st.mask_key)
        check("every value served exactly once", not diffs, diffs[:5])
    finally:
        st.stop()
        proxy.stop()
    if FAILED:
        print("%d failed: %s" % (len(FAILED), ", ".join(FAILED)))
        sys.exit(1)
    print("all passed")


if __name__ == "__main__":
    main()
