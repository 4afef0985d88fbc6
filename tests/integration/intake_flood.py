#!/usr/bin/env python3
"""Web intake under a flood and a slowloris, measured from the outside.

  intake_flood.py INTAKE_PORT MTLS_PORT CA CERT KEY CALM_TOKEN BUSY_TOKEN SAMPLES

Measures, before and during the attack, the latency of SAMPLES submissions
of a calm source (one new HTTPS connection each, from 127.0.0.3) and of
SAMPLES pings on a held mutual-TLS connection (blframe.py's framing). The
attack: FLOOD_THREADS keep-alive connections from 127.0.0.2 posting to the
busy source as fast as they are answered, and SLOW connections to the
intake port that never finish a request (half never start TLS, half send a
header byte every 400 ms). Prints one line per figure, KEY=VALUE, for the
scenario to check; no timing is asserted here.
"""
import asyncio
import http.client
import json
import os
import socket
import ssl
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from blframe import fields, recv_exact, varint  # noqa: E402

FLOOD_THREADS = 8
SLOW = 200


def https_ctx(ca):
    ctx = ssl.create_default_context(cafile=ca)
    ctx.check_hostname = False
    return ctx


def post(ctx, port, token, body, source, conn=None):
    """(status, connection kept or None). A new connection unless one is given."""
    c = conn or http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=30,
                                            source_address=(source, 0))
    c.request("POST", "/v1/intake/" + token, body=json.dumps(body),
              headers={"Content-Type": "application/json"})
    r = c.getresponse()
    r.read()
    if conn is None:
        c.close()
    return r.status


class Pinger:
    def __init__(self, port, ca, cert, key):
        ctx = ssl.create_default_context(cafile=ca)
        ctx.load_cert_chain(cert, key)
        ctx.set_alpn_protocols(["branchline/1"])
        ctx.check_hostname = False
        self.s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="localhost")
        self.next_id = 1

    def ping(self):
        """The answer's status code (0 = OK), or -1 when the connection closed."""
        payload = b"x" * 16
        ping = b"\x0a" + varint(len(payload)) + payload + b"\x10" + varint(0)
        req = b"\x08" + varint(self.next_id) + b"\x52" + varint(len(ping)) + ping
        self.next_id += 1
        self.s.sendall(struct.pack(">I", len(req)) + req)
        head = recv_exact(self.s, 4)
        body = recv_exact(self.s, struct.unpack(">I", head)[0]) if head else None
        if body is None:
            return -1
        for num, _, v in fields(body):
            if num == 2:
                for n2, _, v2 in fields(v):
                    if n2 == 1:
                        return v2
        return 0


def p(values, q):
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))] * 1000.0


def measure(phase, ctx, port, token, pinger, samples, start):
    intake, pings, codes = [], [], {}
    for i in range(samples):
        t = time.monotonic()
        st = post(ctx, port, token, {"name": "Calm %s %d" % (phase, i)}, "127.0.0.3")
        intake.append(time.monotonic() - t)
        codes[st] = codes.get(st, 0) + 1
        t = time.monotonic()
        pc = pinger.ping()
        pings.append(time.monotonic() - t)
        codes["ping%d" % pc] = codes.get("ping%d" % pc, 0) + 1
        # At most 33 a second: under the scenario's per-source limit, whatever the machine.
        time.sleep(0.03)
    print("%s_intake_p50_ms=%.1f" % (phase, p(intake, 0.5)))
    print("%s_intake_p99_ms=%.1f" % (phase, p(intake, 0.99)))
    print("%s_ping_p50_ms=%.2f" % (phase, p(pings, 0.5)))
    print("%s_ping_p99_ms=%.2f" % (phase, p(pings, 0.99)))
    for k, v in sorted(codes.items(), key=str):
        print("%s_calm_%s=%d" % (phase, k, v))
    sys.stdout.flush()


def flood(ctx, port, token, stop, counts, lock, thread_no):
    conn = None
    n = 0
    while not stop.is_set():
        try:
            if conn is None:
                conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=30,
                                                   source_address=("127.0.0.2", 0))
            st = post(ctx, port, token, {"name": "Flood %d-%d" % (thread_no, n)}, "127.0.0.2", conn)
        except (OSError, http.client.HTTPException):
            st = "closed"
            conn = None
        n += 1
        with lock:
            counts[st] = counts.get(st, 0) + 1


async def slowloris(port, ctx, stop, stats):
    """One connection that never completes a request, reopened when closed."""
    while not stop.is_set():
        tls = stats["opened"] % 2 == 1
        stats["opened"] += 1
        try:
            if tls:
                reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=ctx,
                                                               server_hostname="localhost")
                writer.write(b"POST /v1/intake/x HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
            else:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            while not stop.is_set():
                await asyncio.sleep(0.4)
                if tls:
                    writer.write(b"a")
                await writer.drain()
                if reader.at_eof():
                    break
        except (OSError, ssl.SSLError, asyncio.IncompleteReadError, ConnectionError):
            pass
        if not stop.is_set():
            stats["closed_by_server"] += 1
        await asyncio.sleep(0.05)


def slowloris_thread(port, ctx, stop, stats):
    async def run():
        await asyncio.gather(*(slowloris(port, ctx, stop, stats) for _ in range(SLOW)))
    asyncio.run(run())


def main():
    intake_port, mtls_port = int(sys.argv[1]), int(sys.argv[2])
    ca, cert, key, calm, busy = sys.argv[3:8]
    samples = int(sys.argv[8])
    ctx = https_ctx(ca)
    pinger = Pinger(mtls_port, ca, cert, key)
    start = time.monotonic()
    measure("before", ctx, intake_port, calm, pinger, samples, start)

    stop = threading.Event()
    counts, lock = {}, threading.Lock()
    stats = {"opened": 0, "closed_by_server": 0}
    attackers = [threading.Thread(target=flood, args=(ctx, intake_port, busy, stop, counts, lock, i))
                 for i in range(FLOOD_THREADS)]
    attackers.append(threading.Thread(target=slowloris_thread, args=(intake_port, ctx, stop, stats)))
    flood_start = time.monotonic()
    for t in attackers:
        t.start()
    time.sleep(2)
    measure("during", ctx, intake_port, calm, pinger, samples, start)
    stop.set()
    for t in attackers:
        t.join()
    print("flood_seconds=%d" % int(time.monotonic() - flood_start + 1))
    for k, v in sorted(counts.items(), key=str):
        print("flood_%s=%d" % (k, v))
    print("slowloris_opened=%d" % stats["opened"])
    print("slowloris_closed_by_server=%d" % stats["closed_by_server"])


if __name__ == "__main__":
    main()
