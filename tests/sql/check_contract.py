#!/usr/bin/env python3
"""Checks the api schema against proto/branchline.proto, the contract branchd
relies on: an operation of the Request oneof maps to exactly one function
api.<op>(p_subject text, request fields in field-number order) whose
arguments are named as branchd calls them (p_<field>, named notation; the
exceptions are read from daemon/handlers/sql_call.c's renamed_params) and
whose result columns carry the names and types of the result message's
fields (of X for a `repeated X items = 1` list).

Repeated and message-typed request fields arrive as one jsonb parameter.
lead_watch is a server stream: its function authorizes the caller and
returns the scope the daemon filters notifications by (STREAM_SCOPES), not
the streamed message.

Usage: check_contract.py PROTO CONNINFO [FIRST LAST]

Operations numbered FIRST..LAST (default 20..105: organization and leads)
must have their function; others are checked when they have one (their
migrations may belong to work in progress). Exit status 1 on any mismatch.
"""
import os
import re
import subprocess
import sys

DAEMON_ONLY = {"cancel", "ping", "server_info"}
SQL_TYPE = {"string": "text", "int64": "bigint", "uint64": "bigint", "int32": "integer",
            "uint32": "integer", "bool": "boolean", "bytes": "bytea", "double": "double precision"}
STREAM_SCOPES = {"lead_watch": {"tenant_id": "bigint", "scope_path": "text"}}


def parse_proto(text):
    text = re.sub(r"//[^\n]*", "", text)
    messages, oneofs = {}, {}
    for name, body in re.findall(r"message\s+(\w+)\s*\{((?:[^{}]|\{[^{}]*\})*)\}", text):
        # A oneof's fields are the message's fields too (a scalar alone in a
        # oneof is how a request tells 0 from "not given").
        unwrapped = re.sub(r"oneof\s+\w+\s*\{([^}]*)\}", r"\1", body)
        fields = re.findall(r"(repeated\s+)?(\w+)\s+(\w+)\s*=\s*(\d+)\s*;", unwrapped)
        messages[name] = sorted(((int(n), bool(rep), typ, fname) for rep, typ, fname, n in fields))
        for oneof, obody in re.findall(r"oneof\s+(\w+)\s*\{([^}]*)\}", body):
            oneofs[(name, oneof)] = {fname: (typ, int(n))
                                     for typ, fname, n in re.findall(r"(\w+)\s+(\w+)\s*=\s*(\d+)\s*;", obody)}
    return messages, oneofs


def renamed_params():
    """(op, field) -> SQL parameter name, where it is not p_<field>: the
    daemon's own table, so the two cannot disagree."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "daemon",
                        "handlers", "sql_call.c")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    table = re.search(r"renamed_params\[\]\s*=\s*\{(.*?)\n\};", text, re.S).group(1)
    return {(op, field): param
            for op, field, param in re.findall(r'\{"(\w+)",\s*"(\w+)",\s*"(\w+)"\}', table)}


def expected(messages, oneofs):
    requests, results = oneofs[("Request", "op")], oneofs[("Response", "result")]
    renamed = renamed_params()
    for op, (req, number) in sorted(requests.items()):
        if op in DAEMON_ONLY:
            continue
        args = ["p_subject text"] + [
            "%s %s" % (renamed.get((op, fname), "p_" + fname),
                       "jsonb" if rep or typ not in SQL_TYPE else SQL_TYPE[typ])
            for _, rep, typ, fname in messages[req]]
        if op in STREAM_SCOPES:
            yield op, number, args, STREAM_SCOPES[op]
            continue
        res = messages[results[op][0]]
        if len(res) == 1 and res[0][1] and res[0][3] == "items":
            res = messages[res[0][2]]
        cols = {fname: SQL_TYPE.get(typ, typ) for _, _, typ, fname in res}
        yield op, number, args, cols


def actual(conninfo):
    sql = """
        SELECT p.proname,
               coalesce((SELECT string_agg(coalesce(p.proargnames[i], '?') || ' ' || format_type(t, NULL),
                                           ',' ORDER BY i)
                           FROM unnest(p.proargtypes) WITH ORDINALITY AS a (t, i)), ''),
               coalesce((SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, NULL), ',' ORDER BY a.attnum)
                           FROM pg_attribute a
                          WHERE a.attrelid = (SELECT typrelid FROM pg_type WHERE oid = p.prorettype)
                            AND a.attnum > 0 AND NOT a.attisdropped), '')
          FROM pg_proc p WHERE p.pronamespace = 'api'::regnamespace"""
    out = subprocess.run(["psql", conninfo, "-qXAt", "-F", "\t", "-c", sql],
                         check=True, capture_output=True, text=True).stdout
    funcs = {}
    for line in out.splitlines():
        name, args, cols = line.split("\t")
        funcs.setdefault(name, []).append((args.split(",") if args else [],
                                           dict(c.split(" ", 1) for c in cols.split(",")) if cols else {}))
    return funcs


def main():
    proto, conninfo = sys.argv[1:3]
    first, last = (int(a) for a in sys.argv[3:5]) if len(sys.argv) > 3 else (20, 105)
    with open(proto, encoding="utf-8") as f:
        messages, oneofs = parse_proto(f.read())
    funcs = actual(conninfo)
    errors = []
    n = 0
    for op, number, args, cols in expected(messages, oneofs):
        found = funcs.get(op, [])
        if not found and not first <= number <= last:
            continue
        n += 1
        if len(found) != 1:
            errors.append(f"api.{op}: {len(found)} function(s), expected 1")
            continue
        got_args, got_cols = found[0]
        if got_args != args:
            errors.append(f"api.{op}({', '.join(got_args)}): expected ({', '.join(args)})")
        if got_cols != cols:
            errors.append(f"api.{op} returns {got_cols}, expected {cols}")
    for e in errors:
        print("check_contract:", e, file=sys.stderr)
    if errors:
        sys.exit(1)
    print(f"check_contract: {n} operations match the protocol")


if __name__ == "__main__":
    main()
