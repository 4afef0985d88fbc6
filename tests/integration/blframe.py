#!/usr/bin/env python3
"""A protocol client for shell scenarios that must hold one connection:
reads commands on stdin, one a line, and prints one answer line each.

  blframe.py HOST PORT CA CERT KEY
  ping PAYLOAD_BYTES DELAY_MS   ->  "ID CODE" (CODE 0 = OK), or "closed"
"""
import socket
import ssl
import struct
import sys


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def read_varint(buf, i):
    shift = value = 0
    while True:
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, i


def fields(buf):
    """(number, wire type, value) of each top-level field."""
    i = 0
    while i < len(buf):
        key, i = read_varint(buf, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = read_varint(buf, i)
        elif wt == 2:
            n, i = read_varint(buf, i)
            v, i = buf[i:i + n], i + n
        elif wt == 1:
            v, i = buf[i:i + 8], i + 8
        elif wt == 5:
            v, i = buf[i:i + 4], i + 4
        else:
            raise ValueError("wire type %d" % wt)
        yield num, wt, v


def recv_exact(s, n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def main():
    host, port, ca, cert, key = sys.argv[1:6]
    ctx = ssl.create_default_context(cafile=ca)
    ctx.load_cert_chain(cert, key)
    ctx.set_alpn_protocols(["branchline/1"])
    ctx.check_hostname = False
    s = ctx.wrap_socket(socket.create_connection((host, int(port))), server_hostname="localhost")
    next_id = 1
    for line in sys.stdin:
        words = line.split()
        if not words or words[0] != "ping":
            print("usage", flush=True)
            continue
        payload = b"x" * int(words[1])
        ping = b"\x0a" + varint(len(payload)) + payload + b"\x10" + varint(int(words[2]))
        req = b"\x08" + varint(next_id) + b"\x52" + varint(len(ping)) + ping
        next_id += 1
        try:
            s.sendall(struct.pack(">I", len(req)) + req)
            head = recv_exact(s, 4)
            body = recv_exact(s, struct.unpack(">I", head)[0]) if head else None
        except OSError:
            body = None
        if body is None:
            print("closed", flush=True)
            continue
        rid, code = 0, 0
        for num, _, v in fields(body):
            if num == 1:
                rid = v
            elif num == 2:
                for n2, _, v2 in fields(v):
                    if n2 == 1:
                        code = v2
        print("%d %d" % (rid, code), flush=True)


if __name__ == "__main__":
    main()
