#!/usr/bin/env python3
"""Usage: tests/check_layers.py [--self-test] [DAEMON_DIR]

The daemon's layering, checked from its #include lines (in the spirit of
Tor's .may_include files):

  - the include graph of daemon/ has no cycle: a module is a .c file and its
    .h together (conn.c + conn.h), and module A depends on B when a file of A
    includes B's header. A cycle means two layers call each other by name.
  - a transport header is included only by the transport itself and by the
    code that wires it to the layers above (TRANSPORT below); in particular
    nothing under handlers/ sees a connection.

Prints each violation and exits 1 if there is any. --self-test runs the
check on small trees with a cycle and with a handler including conn.h, and
fails unless both are caught.
"""
import os
import re
import sys
import tempfile

# header -> the modules that may include it: the transports themselves
# (conn for the TLS frames, http for HTTP and HTTPS), server.c which wires
# them to the session layer, and the process level above everything
# (main, the SIGHUP reload, the systemd notifications).
TRANSPORT = {
    "conn.h": {"conn", "server"},
    "session.h": {"session", "server"},
    "tls.h": {"tls", "conn", "http", "main", "reload"},
    "server.h": {"server", "main", "reload", "notify"},
}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def sources(root):
    for dirpath, _, files in os.walk(root):
        for f in sorted(files):
            if f.endswith((".c", ".h")):
                yield os.path.join(dirpath, f)


def module_of(root, path):
    return os.path.splitext(os.path.relpath(path, root))[0]


def resolve(root, path, name):
    """The daemon file an include names, or None (proto/, generated, system)."""
    for base in (os.path.dirname(path), root):
        cand = os.path.normpath(os.path.join(base, name))
        if os.path.isfile(cand) and cand.startswith(root + os.sep):
            return cand
    return None


def check(root):
    root = os.path.abspath(root)
    edges = {}
    errors = []
    for path in sources(root):
        mod = module_of(root, path)
        edges.setdefault(mod, set())
        with open(path, encoding="utf-8") as f:
            text = f.read()
        for name in INCLUDE.findall(text):
            target = resolve(root, path, name)
            if not target:
                continue
            dep = module_of(root, target)
            if dep != mod:
                edges[mod].add(dep)
            header = os.path.relpath(target, root)
            allowed = TRANSPORT.get(header)
            if allowed is not None and mod not in allowed:
                errors.append("%s includes %s, a transport header (allowed in: %s)"
                              % (os.path.relpath(path, root), header, ", ".join(sorted(allowed))))
    errors += ["include cycle among %s, e.g. %s" % (", ".join(comp), " -> ".join(walk))
               for comp, walk in cycles(edges)]
    return errors


def cycles(edges):
    """Each strongly connected component of more than one module, with a
    cycle through it."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append((sorted(comp), path_in(edges, set(comp))))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def path_in(edges, comp):
    """A closed walk through a strongly connected component, for the message."""
    start = min(comp)
    seen, path, v = {start}, [start], start
    while True:
        nxt = sorted(w for w in edges[v] if w in comp)
        back = [w for w in nxt if w == start]
        fresh = [w for w in nxt if w not in seen]
        if back and (not fresh or len(path) > 1):
            return path + [start]
        v = fresh[0] if fresh else nxt[0]
        if v in seen:
            return path + [v]
        seen.add(v)
        path.append(v)


def self_test():
    def tree(files):
        d = tempfile.mkdtemp(prefix="check_layers.")
        for name, text in files.items():
            p = os.path.join(d, name)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "w", encoding="utf-8") as f:
                f.write(text)
        return d

    cases = [
        ("a one-way dependency", False,
         {"a.c": '#include "a.h"\n#include "b.h"\n', "a.h": "", "b.h": "", "b.c": '#include "b.h"\n'}),
        ("a.c includes b.h, b.c includes a.h", True,
         {"a.c": '#include "b.h"\n', "a.h": "", "b.h": "", "b.c": '#include "a.h"\n'}),
        ("handlers/x.c includes conn.h", True,
         {"conn.h": "", "conn.c": '#include "conn.h"\n', "handlers/x.c": '#include "conn.h"\n'}),
    ]
    failed = 0
    for what, expect_errors, files in cases:
        errors = check(tree(files))
        if bool(errors) != expect_errors:
            failed += 1
            print("self-test: %s: expected %s, got %s"
                  % (what, "a violation" if expect_errors else "none", errors or "none"))
    return failed


def main(argv):
    if argv[1:2] == ["--self-test"]:
        failed = self_test()
        print("check_layers self-test: %s" % ("failed" if failed else "ok"))
        return 1 if failed else 0
    root = argv[1] if len(argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                     "..", "daemon")
    errors = check(root)
    for e in errors:
        print("check_layers: " + e)
    print("check_layers: %s" % ("%d violation(s)" % len(errors) if errors else "ok"))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
