#!/usr/bin/env python3
"""The randomized model test of the organization x lead invariants.

Random, seeded, reproducible sequences of operations over several tenants,
each through branchctl and a real branchd, and after every step the query
of checks.sql over the whole database (I1-I5, isolation of tenants). Every
few steps an export of a tenant is applied into an empty tenant and
exported again: the two must be byte-identical (I4), and a diff of the
tenant's own export must find nothing to change. On a violation it prints
the seed, the step and the sequence of operations that led there, then
shortens it (delta debugging over the steps, each candidate replayed on
fresh tenants, within --shrink-seconds) and prints the shortest sequence
that still fails the same way, also written as JSON that --replay FILE
runs again; and exits 1. A step names leads by external id and staff by
their rank in the tenant, resolved when it runs, so that a shortened
sequence means the same thing on fresh tenants. Run by tests/model/run.sh (standalone) or by ctest through
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
import time

HERE = os.path.dirname(os.path.abspath(__file__))
FUNCTIONS = ["promotion", "customer_service", "sales", "support"]
CODES = ["a", "b", "c", "d"]
PROJECTS = ["p1", "p2", "p3"]
NAMES = ["王磊", "李娜", "张伟", "Ann"]
ROLES = ["salesperson", "salesperson", "manager", "promoter", "consultant"]
ADMINS = ["alice", "bob", "dave"]     # one tenant each
SCRATCH = "heidi"                     # admin of each empty tenant of the I4 check


class ModelFailure(Exception):
    """A step failed: kind says how (I1..I5, isolation, ctl), what in full."""

    def __init__(self, kind, what):
        super().__init__(what)
        self.kind = kind
        self.what = what


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
        # MODEL_CHECKS: another query of the same shape (a test of the shortening)
        self.checks = open(os.environ.get("MODEL_CHECKS") or os.path.join(HERE, "checks.sql")).read()
        self.dir = os.environ.get("BLTEST_DIR", "/tmp")
        self.tenants = []           # (code, tenant id, admin)
        self.log = []               # the steps so far: dicts, see step_text
        self.scratch = 0
        self.ntenants = args.tenants
        self.generation = 0         # fresh tenants for each replay
        self.shrink_seconds = args.shrink_seconds
        self.replay = args.replay

    # ---- running branchctl -------------------------------------------------------------

    def ctl(self, who, *argv, stdin=None):
        certs = os.environ["BLTEST_CERTS"]
        env = dict(os.environ, BRANCHLINE_CERT=f"{certs}/{who}.crt", BRANCHLINE_KEY=f"{certs}/{who}.key")
        r = subprocess.run([os.environ["BRANCHCTL"], *argv], env=env, input=stdin,
                           capture_output=True, text=True)
        # 1: the server failed (INTERNAL); above 7 but 10: a crash or a usage error of ours
        if r.returncode == 1 or r.returncode in (2, 3) or (r.returncode > 7 and r.returncode != 10):
            raise ModelFailure("ctl", f"branchctl {' '.join(argv)} exited {r.returncode}: {r.stderr.strip()}")
        return r

    @staticmethod
    def step_text(st):
        what = {"ctl": lambda: " ".join(st["argv"]), "sweep": lambda: "sweep",
                "docs": lambda: "export -> apply -> export"}[st["kind"]]()
        return f"t{st['t']}: {what}"

    def print_steps(self, title, steps):
        print(f"model: {title} ({len(steps)} steps; tenant, operation):", file=sys.stderr)
        for i, st in enumerate(steps, 1):
            print(f"  {i:5d} {self.step_text(st)}", file=sys.stderr)

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

    # Leads and staff are named by what survives a shortened sequence: a
    # lead by its external id (@lead:EXT), a person by their rank among the
    # tenant's staff in order of creation (@staff:K); resolve() turns them
    # into ids when the step runs.
    def pick_lead(self, t, statuses):
        exts = [r[0] for r in self.db.rows(
            f"SELECT external_id FROM branchline.leads WHERE tenant_id = {t}"
            f" AND status = ANY ('{{{','.join(statuses)}}}') ORDER BY id")]
        return f"@lead:{self.rng.choice(exts)}" if exts else "0"

    def pick_staff(self, t):
        ranks = [r[0] for r in self.db.rows(
            f"SELECT n - 1 FROM (SELECT status, row_number() OVER (ORDER BY id) AS n FROM branchline.staff"
            f" WHERE tenant_id = {t}) x WHERE status <> 'left' ORDER BY n")]
        return f"@staff:{self.rng.choice(ranks)}" if ranks else "0"

    def resolve(self, t, arg):
        if arg.startswith("@lead:"):
            ext = arg[len("@lead:"):].replace("'", "''")
            return self.db.one(f"SELECT id FROM branchline.leads WHERE tenant_id = {t} AND external_id = '{ext}'") or "0"
        if arg.startswith("@staff:"):
            k = int(arg[len("@staff:"):])
            return self.db.one(f"SELECT id FROM branchline.staff WHERE tenant_id = {t} ORDER BY id OFFSET {k} LIMIT 1") or "0"
        return arg

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
            return ["cap", "unset", b]
        return ["cap", "set", b, "--per-day", str(self.rng.choice([0, 1, 2, 5]))]

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

    # Mostly a department that exists, so that people of one name sit in
    # many departments and reorganizations merging them are common (seed
    # 21004 found such a merge leaving two of one name in one department).
    def pick_dept(self, t):
        depts = self.db.rows(
            f"SELECT u.path, d.function FROM branchline.departments d JOIN branchline.units u"
            f" ON u.tenant_id = d.tenant_id AND u.id = d.unit_id WHERE d.tenant_id = {t}"
            f" AND d.function <> 'support' ORDER BY u.path, d.function")
        if depts and self.rng.random() < 0.8:
            path, fn = self.rng.choice(depts)
            return self.show(path), fn
        return self.pick_unit(t) or "/", self.rng.choice(["sales", "sales", "promotion"])

    def op_staff_add(self, t):
        path, fn = self.pick_dept(t)
        return ["staff", "add", self.rng.choice(NAMES[:2] * 2 + NAMES), "--role", self.rng.choice(ROLES),
                "--dept", path, "--function", fn]

    def op_staff_move(self, t):
        path, fn = self.pick_dept(t)
        return ["staff", "move", self.pick_staff(t), "--dept", path, "--function", fn]

    def op_staff_leave(self, t):
        return ["staff", "leave", self.pick_staff(t)] + (["--status", "on_leave"] if self.rng.random() < 0.3 else [])

    def op_position(self, t):
        return ["position", "set", self.pick_unit(t) or "/", self.rng.choice(["sales", "promotion"]),
                self.rng.choice(ROLES), "--planned", str(self.rng.choice([0, 1, 3, 3, 60000]))]

    def op_reorg(self, t):
        fn = self.rng.choice(["customer_service", "sales", "promotion", "customer_service,sales"])
        if self.rng.random() < 0.5:
            at = self.pick_unit(t, ("group", "region", "city")) if self.rng.random() < 0.4 else None
            return ["reorg", "apply", "--yes", "--centralize", fn] + (["--at", at] if at else [])
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
        # the rows travel in the step (@csv:...) and are written when it runs
        return ["lead", "import", "@csv:" + ";".join(rows[1:])]

    def op_lead_work(self, t):
        verb = self.rng.choice(["contact", "contact", "win", "lose"])
        return ["lead", verb, self.pick_lead(t, ["allocated", "contacted"])]

    def op_reassign(self, t):
        lead = self.pick_lead(t, ["allocated", "contacted", "waiting", "unroutable"])
        return ["lead", "reassign", lead, "--to", self.pick_unit(t, ("branch",)) or "x", "--reason", "model"]

    def op_sweep(self, t):
        return None

    OPS = [(op_unit_add, 10), (op_unit_move, 3), (op_unit_status, 5), (op_unit_delete, 2), (op_unit_rename, 1),
           (op_dept_add, 8), (op_dept_remove, 4), (op_project_add, 2), (op_assign, 8), (op_unassign, 3),
           (op_cap, 3), (op_policy, 3), (op_support, 2), (op_staff_add, 7), (op_staff_move, 3), (op_staff_leave, 2),
           (op_position, 3), (op_reorg, 3), (op_lead_add, 14), (op_lead_import, 4), (op_lead_work, 8),
           (op_reassign, 3), (op_sweep, 2)]

    # ---- I4: export -> apply into an empty tenant -> export ----------------------------

    def check_documents(self, code, t, admin):
        own = self.ctl(admin, "export")
        if own.returncode != 0:
            raise ModelFailure("I4", f"export of {code} exited {own.returncode}: {own.stderr.strip()}")
        path = os.path.join(self.dir, f"model-{self.seed}-{os.getpid()}.yaml")
        with open(path, "w") as f:
            f.write(own.stdout)
        d = self.ctl(admin, "diff", "-f", path)
        if d.returncode != 0:
            raise ModelFailure("I4", f"I4: diff of {code}'s own export exited {d.returncode}: {d.stdout}{d.stderr}")
        self.scratch += 1
        scratch = f"s{self.seed % 100000}x{self.scratch}g{self.generation}"
        # the scratch admin's certificate moves to the new tenant (subjects are unique)
        self.db.rows(f"UPDATE branchline.principals SET subject = subject || '/old{self.scratch}'"
                     f" WHERE subject = 'CN={SCRATCH}'")
        self.ctl("carol", "tenant", "create", scratch, "--name", "scratch", "--admin-subject", f"CN={SCRATCH}",
                 "--timezone", self.db.one(f"SELECT timezone FROM branchline.tenants WHERE id = {t}"))
        a = self.ctl(SCRATCH, "apply", "-f", path)
        if a.returncode != 0:
            raise ModelFailure("I4", f"I4: apply of {code}'s export into an empty tenant exited {a.returncode}: {a.stderr.strip()}")
        again = self.ctl(SCRATCH, "export")
        # the group's name is the tenant's own
        if again.stdout != own.stdout:
            raise ModelFailure("I4", "I4: export -> apply -> export differs:\n" + "".join(
                f"  - {x}\n  + {y}\n" for x, y in zip(own.stdout.splitlines(), again.stdout.splitlines()) if x != y))

    # ---- the run ---------------------------------------------------------------------------

    def setup(self):
        """Fresh tenants (a new generation for each replay while shortening)."""
        self.tenants = []
        self.generation += 1
        for i in range(self.ntenants):
            code = f"m{self.seed % 100000}t{i}" + (f"g{self.generation}" if self.generation > 1 else "")
            admin = ADMINS[i]
            self.db.rows(f"UPDATE branchline.principals SET subject = subject || '/{code}' WHERE subject = 'CN={admin}'")
            self.ctl("carol", "tenant", "create", code, "--name", code, "--admin-subject", f"CN={admin}")
            tid = self.db.one(f"SELECT id FROM branchline.tenants WHERE code = '{code}'")
            self.tenants.append((code, tid, admin))

    def violations(self):
        """The checks' rows about this generation's tenants (those of an
        earlier replay may still fail)."""
        ids = {str(t) for _, t, _ in self.tenants}
        return [r for r in self.db.rows(self.checks) if len(r) > 1 and r[1] in ids]

    def execute(self, st):
        """Runs one step on the current tenants; raises ModelFailure."""
        code, t, admin = self.tenants[st["t"]]
        if st["kind"] == "docs":
            self.check_documents(code, t, admin)
        elif st["kind"] == "sweep":
            # the sweep as every daemon runs it, two hours later: SLAs expire, caps' days end
            self.db.rows("SELECT * FROM branchline.sweep_at(1000, now() + interval '2 hours')")
        else:
            argv = []
            for a in st["argv"]:
                if a.startswith("@csv:"):
                    path = os.path.join(self.dir, f"model-{self.seed}-{os.getpid()}.csv")
                    with open(path, "w") as f:
                        f.write("external_id,project,channel,origin,phone\n"
                                + "".join(row + "\n" for row in a[len("@csv:"):].split(";")))
                    a = path
                argv.append(self.resolve(t, a))
            # refused steps (exit 4, 5, ...) changed nothing: the shortening drops them first
            st["refused"] = self.ctl(admin, *argv).returncode != 0
        bad = self.violations()
        if bad:
            raise ModelFailure(" ".join(sorted({r[0] for r in bad})), "\n".join("  " + " ".join(r) for r in bad))

    def generate(self, step):
        """The next random step, drawn against the current state."""
        i = self.rng.randrange(len(self.tenants))
        if step % 97 == 0:
            return {"t": i, "kind": "docs"}
        fn = self.rng.choices([o for o, _ in self.OPS], weights=[w for _, w in self.OPS])[0]
        argv = fn(self, self.tenants[i][1])
        return {"t": i, "kind": "ctl", "argv": argv} if argv else {"t": i, "kind": "sweep"}

    def attempt(self, steps):
        """Replays steps on fresh tenants: None if clean, else (failing step
        number, the failure)."""
        self.setup()
        for n, st in enumerate(steps, 1):
            try:
                self.execute(st)
            except ModelFailure as f:
                return n, f
        return None

    def shrink(self, steps, failure):
        """Delta debugging (ddmin over the steps): removes chunks while the
        replay still fails the same way (same kind), within the time budget."""
        deadline = time.monotonic() + self.shrink_seconds
        tries = 0

        def fails(cand):
            nonlocal tries
            if time.monotonic() > deadline:
                return None
            tries += 1
            r = self.attempt(cand)
            return cand[:r[0]] if r and r[1].kind == failure.kind else None

        # first, in one replay, every step that was refused (it changed nothing, most likely)
        kept = [st for st in steps if not st.get("refused")]
        if len(kept) < len(steps):
            smaller = fails(kept)
            if smaller is not None:
                steps = smaller
        n = 2
        while len(steps) >= 2 and time.monotonic() < deadline:
            chunk = -(-len(steps) // n)
            for i in range(0, len(steps), chunk):
                smaller = fails(steps[:i] + steps[i + chunk:])
                if smaller is not None:
                    steps, n = smaller, max(n - 1, 2)
                    break
            else:
                if chunk == 1:
                    break
                n = min(n * 2, len(steps))
        done = "minimal (no step can go)" if time.monotonic() < deadline else "shortened until the time ran out"
        print(f"model: {done} after {tries} replays", file=sys.stderr)
        return steps

    def report(self, failure):
        print(f"model: FAILED with seed {self.seed} at step {len(self.log)}: {failure.what}", file=sys.stderr)
        self.print_steps("the sequence", self.log)
        print(f"model: rerun with tests/model/run.sh --steps {len(self.log)} --seed {self.seed}"
              f" --tenants {self.ntenants}", file=sys.stderr)
        if self.shrink_seconds > 0 and len(self.log) > 1:
            print(f"model: shortening it (at most {self.shrink_seconds} s) ...", file=sys.stderr)
            short = self.shrink(self.log, failure)
            again = self.attempt(short)
            self.print_steps("the shortest sequence found", short)
            if again:
                print(f"model: it fails with: {again[1].what}", file=sys.stderr)
            out = os.path.join(os.environ.get("MODEL_REPLAY_DIR", "/tmp"),
                               f"branchline-model-{self.seed}-{os.getpid()}.json")
            with open(out, "w") as f:
                json.dump({"seed": self.seed, "tenants": self.ntenants,
                           "steps": [{k: v for k, v in st.items() if k != "refused"} for st in short]}, f, indent=1)
            print(f"model: replay it with tests/model/run.sh --replay {out}", file=sys.stderr)
        sys.exit(1)

    def run(self):
        if self.replay:
            with open(self.replay) as f:
                doc = json.load(f)
            self.ntenants = doc["tenants"]
            self.log = doc["steps"]
            r = self.attempt(self.log)
            if r:
                self.print_steps("the replayed sequence", self.log)
                print(f"model: FAILED at step {r[0]}: {r[1].what}", file=sys.stderr)
                sys.exit(1)
            print(f"model: replay of {len(self.log)} steps: clean")
            return
        self.setup()
        for step in range(1, self.steps + 1):
            st = self.generate(step)
            self.log.append(st)
            try:
                self.execute(st)
            except ModelFailure as f:
                self.report(f)
        print(f"model: {self.steps} steps over {self.ntenants} tenant(s) with seed {self.seed}: clean")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--tenants", type=int, default=2, choices=range(1, len(ADMINS) + 1))
    ap.add_argument("--shrink-seconds", type=int, default=600,
                    help="time to spend shortening a failing sequence (0: do not)")
    ap.add_argument("--replay", help="run the steps of this JSON file (written on a failure) instead")
    Model(ap.parse_args()).run()


if __name__ == "__main__":
    main()
