#!/usr/bin/env python3
"""The randomized model test of the organization x lead invariants.

Random, seeded, reproducible sequences of operations over several tenants,
each through branchctl and a real branchd, and after every step the query
of checks.sql over the whole database (I1-I5, isolation of tenants). Every
few steps an export of a tenant is applied into an empty tenant and
exported again: the two must be byte-identical (I4), and a diff of the
tenant's own export must find nothing to change. On a violation it prints
the seed, the step and the sequence of operations that led there, and
exits 1. Run by tests/model/run.sh (standalone) or by ctest through
bltest_run (tests/model/scenario.sh), which provide the environment:
BRANCHCTL, BRANCHLINE_SERVER, BRANCHLINE_CA, BLTEST_CERTS,
BLTEST_ADMIN_CONNINFO, BLTEST_DIR.
"""
import argparse
import json
import os
import random
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
FUNCTIONS = ["promotion", "customer_service", "sales", "support"]
CODES = ["a", "b", "c", "d"]
PROJECTS = ["p1", "p2", "p3"]
NAMES = ["王磊", "李娜", "张伟", "Ann"]
ROLES = ["salesperson", "salesperson", "manager", "promoter", "consultant"]
ADMINS = ["alice", "bob", "dave"]     # one tenant each
SCRATCH = "heidi"                     # admin of each empty tenant of the I4 check


class Psql:
    """One psql session as the superuser, answering a query at a time."""

    def __init__(self, conninfo):
        self.p = subprocess.Popen(["psql", "-X", "-A", "-t", "-q", "-F", "\t", conninfo],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True, bufsize=1)

    def rows(self, sql):
        self.p.stdin.write(sql.rstrip().rstrip(";") + ";\n\\echo __end__\n")
        self.p.stdin.flush()
        out = []
        for line in self.p.stdout:
            line = line.rstrip("\n")
            if line == "__end__":
                return out
            if line:
                out.append(line.split("\t"))
        raise RuntimeError("psql ended")

    def one(self, sql):
        r = self.rows(sql)
        return r[0][0] if r else None


class Model:
    def __init__(self, args):
        self.rng = random.Random(args.seed)
        self.seed = args.seed
        self.steps = args.steps
        self.db = Psql(os.environ["BLTEST_ADMIN_CONNINFO"])
        self.checks = open(os.path.join(HERE, "checks.sql")).read()
        self.dir = os.environ.get("BLTEST_DIR", "/tmp")
        self.tenants = []           # (code, tenant id, admin)
        self.log = []               # the sequence so far
        self.scratch = 0
        self.ntenants = args.tenants

    # ---- running branchctl -------------------------------------------------------------

    def ctl(self, who, *argv, stdin=None):
        certs = os.environ["BLTEST_CERTS"]
        env = dict(os.environ, BRANCHLINE_CERT=f"{certs}/{who}.crt", BRANCHLINE_KEY=f"{certs}/{who}.key")
        r = subprocess.run([os.environ["BRANCHCTL"], *argv], env=env, input=stdin,
                           capture_output=True, text=True)
        # 1: the server failed (INTERNAL); above 7 but 10: a crash or a usage error of ours
        if r.returncode == 1 or r.returncode in (2, 3) or (r.returncode > 7 and r.returncode != 10):
            self.fail(f"branchctl {' '.join(argv)} exited {r.returncode}: {r.stderr.strip()}")
        return r

    def fail(self, what):
        print(f"model: FAILED with seed {self.seed} at step {len(self.log)}: {what}", file=sys.stderr)
        print("model: the sequence (tenant, operation):", file=sys.stderr)
        for i, s in enumerate(self.log, 1):
            print(f"  {i:5d} {s}", file=sys.stderr)
        print(f"model: rerun with tests/model/run.sh --steps {len(self.log)} --seed {self.seed}"
              f" --tenants {self.ntenants}", file=sys.stderr)
        sys.exit(1)

    # ---- the state, read from the database ---------------------------------------------

    def units(self, t, kind=None):
        sql = f"SELECT path, kind, status FROM branchline.units WHERE tenant_id = {t}"
        if kind:
            sql += f" AND kind = '{kind}'"
        return [(r[0], r[1], r[2]) for r in self.db.rows(sql + " ORDER BY path")]

    @staticmethod
    def show(key):
        return "/" if key == "/" else key.strip("/")

    def pick_unit(self, t, kinds=None):
        us = [u for u in self.units(t) if kinds is None or u[1] in kinds]
        return self.show(self.rng.choice(us)[0]) if us else None

    def pick_lead(self, t, statuses):
        ids = [r[0] for r in self.db.rows(
            f"SELECT id FROM branchline.leads WHERE tenant_id = {t} AND status = ANY ('{{{','.join(statuses)}}}')")]
        return self.rng.choice(ids) if ids else None

    def pick_staff(self, t):
        ids = [r[0] for r in self.db.rows(f"SELECT id FROM branchline.staff WHERE tenant_id = {t} AND status <> 'left'")]
        return self.rng.choice(ids) if ids else None

    # ---- operations ----------------------------------------------------------------------

    def op_unit_add(self, t):
        parent = self.pick_unit(t, ("group", "region", "city"))
        kinds = {"/": ["region", "city", "branch", "branch"]}.get(parent, None)
        if kinds is None:
            pk = self.db.one(f"SELECT kind FROM branchline.units WHERE tenant_id = {t} AND path = '/{parent}/'")
            kinds = ["city", "branch", "branch"] if pk == "region" else ["branch"]
        code = self.rng.choice(CODES)
        path = code if parent == "/" else f"{parent}/{code}"
        return ["unit", "add", path, "--kind", self.rng.choice(kinds), "--name", f"U {code}"]

    def op_unit_move(self, t):
        return ["unit", "move", self.pick_unit(t, ("region", "city", "branch")) or "x",
                "--to", self.pick_unit(t, ("group", "region", "city")) or "/"]

    def op_unit_status(self, t):
        return ["unit", self.rng.choice(["close", "pause", "activate", "activate"]),
                self.pick_unit(t, ("region", "city", "branch")) or "x"]

    def op_unit_delete(self, t):
        return ["unit", "delete", self.pick_unit(t, ("region", "city", "branch")) or "x"]

    def op_unit_rename(self, t):
        return ["unit", "rename", self.pick_unit(t) or "/", "--name", self.rng.choice(NAMES)]

    def op_dept_add(self, t):
        return ["dept", "add", self.pick_unit(t) or "/", self.rng.choice(FUNCTIONS)]

    def op_dept_remove(self, t):
        return ["dept", "remove", self.pick_unit(t) or "/", self.rng.choice(FUNCTIONS)]

    def op_project_add(self, t):
        return ["project", "add", self.rng.choice(PROJECTS), "--name", "P"]

    def op_assign(self, t):
        return ["project", "assign", self.pick_unit(t, ("branch",)) or "x", self.rng.choice(PROJECTS),
                "--capacity", str(self.rng.choice([0, 1, 2, 3]))]

    def op_unassign(self, t):
        return ["project", "unassign", self.pick_unit(t, ("branch",)) or "x", self.rng.choice(PROJECTS)]

    def op_cap(self, t):
        b = self.pick_unit(t, ("branch",)) or "x"
        if self.rng.random() < 0.4:
            return ["cap", "set", b]
        return ["cap", "set", b, "--per-day", str(self.rng.choice([1, 2, 5]))]

    def op_policy(self, t):
        at = self.pick_unit(t, ("group", "region", "city"))
        if self.rng.random() < 0.3:
            return ["policy", "unset", "--at", at or "/"]
        pol = self.rng.choice(["weighted", "least_loaded", "performance"])
        return ["policy", "set", pol, "--at", at or "/", "--sla-minutes", str(self.rng.choice([0, 1, 30])),
                "--max-reallocations", str(self.rng.choice([0, 1, 3]))]

    def op_support(self, t):
        b = self.pick_unit(t, ("branch",)) or "x"
        if self.rng.random() < 0.5:
            return ["support", "end", b]
        return ["support", "assign", b, "--reason", "new"]

    def op_staff_add(self, t):
        return ["staff", "add", self.rng.choice(NAMES), "--role", self.rng.choice(ROLES),
                "--dept", self.pick_unit(t) or "/", "--function", self.rng.choice(["sales", "sales", "promotion"])]

    def op_staff_move(self, t):
        return ["staff", "move", str(self.pick_staff(t) or 0), "--dept", self.pick_unit(t) or "/",
                "--function", "sales"]

    def op_staff_leave(self, t):
        return ["staff", "leave", str(self.pick_staff(t) or 0)] + (["--status", "on_leave"] if self.rng.random() < 0.3 else [])

    def op_position(self, t):
        return ["position", "set", self.pick_unit(t) or "/", self.rng.choice(["sales", "promotion"]),
                self.rng.choice(ROLES), "--planned", str(self.rng.choice([0, 1, 3]))]

    def op_reorg(self, t):
        fn = self.rng.choice(["customer_service", "sales", "promotion", "customer_service,sales"])
        if self.rng.random() < 0.5:
            return ["reorg", "apply", "--yes", "--centralize", fn]
        return ["reorg", "apply", "--yes", "--decentralize", fn, "--to", self.rng.choice(["region", "city"])]

    def lead_flags(self, t):
        flags = ["--project", self.rng.choice(PROJECTS), "--channel", "search"]
        if self.rng.random() < 0.7:
            flags += ["--origin", self.pick_unit(t) or "/"]
        if self.rng.random() < 0.5:
            flags += ["--phone", f"1380000000{self.rng.randrange(6)}"]
        return flags

    def op_lead_add(self, t):
        return ["lead", "add", "--external-id", f"e{self.rng.randrange(60)}"] + self.lead_flags(t)

    def op_lead_import(self, t):
        rows = ["external_id,project,channel,origin,phone"]
        for _ in range(3):
            rows.append(f"i{self.rng.randrange(60)},{self.rng.choice(PROJECTS)},search,"
                        f"{self.pick_unit(t) or '/'},1390000000{self.rng.randrange(5)}")
        path = os.path.join(self.dir, f"model-{self.seed}.csv")
        with open(path, "w") as f:
            f.write("\n".join(rows) + "\n")
        return ["lead", "import", path]

    def op_lead_work(self, t):
        verb = self.rng.choice(["contact", "contact", "win", "lose"])
        lead = self.pick_lead(t, ["allocated", "contacted"])
        return ["lead", verb, str(lead or 0)]

    def op_reassign(self, t):
        lead = self.pick_lead(t, ["allocated", "contacted", "waiting", "unroutable"])
        return ["lead", "reassign", str(lead or 0), "--to", self.pick_unit(t, ("branch",)) or "x", "--reason", "model"]

    def op_sweep(self, t):
        # the sweep as every daemon runs it, two hours later: SLAs expire, caps' days end
        self.db.rows("SELECT * FROM branchline.sweep_at(1000, now() + interval '2 hours')")
        return None

    OPS = [(op_unit_add, 10), (op_unit_move, 3), (op_unit_status, 5), (op_unit_delete, 2), (op_unit_rename, 1),
           (op_dept_add, 8), (op_dept_remove, 4), (op_project_add, 2), (op_assign, 8), (op_unassign, 3),
           (op_cap, 3), (op_policy, 3), (op_support, 2), (op_staff_add, 5), (op_staff_move, 2), (op_staff_leave, 2),
           (op_position, 2), (op_reorg, 2), (op_lead_add, 14), (op_lead_import, 4), (op_lead_work, 8),
           (op_reassign, 3), (op_sweep, 2)]

    # ---- I4: export -> apply into an empty tenant -> export ----------------------------

    def check_documents(self, code, t, admin):
        own = self.ctl(admin, "export")
        if own.returncode != 0:
            self.fail(f"export of {code} exited {own.returncode}: {own.stderr.strip()}")
        path = os.path.join(self.dir, f"model-{self.seed}.yaml")
        with open(path, "w") as f:
            f.write(own.stdout)
        d = self.ctl(admin, "diff", "-f", path)
        if d.returncode != 0:
            self.fail(f"I4: diff of {code}'s own export exited {d.returncode}: {d.stdout}{d.stderr}")
        self.scratch += 1
        scratch = f"s{self.seed % 100000}x{self.scratch}"
        # the scratch admin's certificate moves to the new tenant (subjects are unique)
        self.db.rows(f"UPDATE branchline.principals SET subject = subject || '/old{self.scratch}'"
                     f" WHERE subject = 'CN={SCRATCH}'")
        self.ctl("carol", "tenant", "create", scratch, "--name", "scratch", "--admin-subject", f"CN={SCRATCH}",
                 "--timezone", self.db.one(f"SELECT timezone FROM branchline.tenants WHERE id = {t}"))
        a = self.ctl(SCRATCH, "apply", "-f", path)
        if a.returncode != 0:
            self.fail(f"I4: apply of {code}'s export into an empty tenant exited {a.returncode}: {a.stderr.strip()}")
        again = self.ctl(SCRATCH, "export")
        # the group's name is the tenant's own
        if again.stdout != own.stdout:
            self.fail("I4: export -> apply -> export differs:\n" + "".join(
                f"  - {x}\n  + {y}\n" for x, y in zip(own.stdout.splitlines(), again.stdout.splitlines()) if x != y))

    # ---- the run ---------------------------------------------------------------------------

    def setup(self):
        for i in range(self.ntenants):
            code = f"m{self.seed % 100000}t{i}"
            admin = ADMINS[i]
            self.db.rows(f"UPDATE branchline.principals SET subject = subject || '/{code}' WHERE subject = 'CN={admin}'")
            self.ctl("carol", "tenant", "create", code, "--name", code, "--admin-subject", f"CN={admin}")
            tid = self.db.one(f"SELECT id FROM branchline.tenants WHERE code = '{code}'")
            self.tenants.append((code, tid, admin))

    def violations(self):
        return self.db.rows(self.checks)

    def run(self):
        self.setup()
        for step in range(1, self.steps + 1):
            code, t, admin = self.rng.choice(self.tenants)
            if step % 97 == 0:
                self.log.append(f"{code}: export -> apply -> export")
                self.check_documents(code, t, admin)
            else:
                fn = self.rng.choices([o for o, _ in self.OPS], weights=[w for _, w in self.OPS])[0]
                argv = fn(self, t)
                self.log.append(f"{code}: " + (" ".join(argv) if argv else fn.__name__[3:]))
                if argv:
                    self.ctl(admin, *argv)
            bad = self.violations()
            if bad:
                self.fail("\n".join("  " + " ".join(r) for r in bad))
        print(f"model: {self.steps} steps over {self.ntenants} tenant(s) with seed {self.seed}: clean")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--tenants", type=int, default=2, choices=range(1, len(ADMINS) + 1))
    Model(ap.parse_args()).run()


if __name__ == "__main__":
    main()
