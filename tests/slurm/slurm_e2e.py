#!/usr/bin/python3
"""End-to-end tests of the Slurm plugin on a real two-node Slurm (slurm_cluster.py) with fake NVML GPUs.

Jobs run as nobody with one GPU per node out of two, under a CI trace replayed 1800 times faster than real time
(one 30-min sample per second) and 1-s control periods, so each case takes seconds. Cases:

  run          a normal step: only the allocated GPUs change; both nodes apply the leader's limit every period; the
               limits follow the CI; the report (per period, per node, totals) adds up; every limit comes back
  crash        the tasks crash: every limit comes back; the report has their exit status
  scancel      a batch job (#SBATCH --chase-... options) cancelled mid-run: every limit comes back, report written
  lost_leader  the leader's helper is killed (SIGKILL): the follower runs at the top limit within a period, and at
               the end every limit comes back (the leader's from the journal)
  refuse       bad values stop srun before submission, or the step before its tasks start, with a clear message
  dry_run      --chase-dry-run decides and reports on every node and never sets a GPU
  no_chase     without --chase the plugin does nothing
"""

import glob
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import slurm_cluster  # noqa: E402
from slurm_cluster import ORIGINAL_W, Cluster  # noqa: E402

sys.path.insert(0, os.path.join(HERE, "..", "run"))
from e2e_common import Failed, check, fail, near  # noqa: E402

PY = "/usr/bin/python3"
HIGH, LOW = 500.0, 100.0
TOP_W = 300.0


def write_inputs(c):
    """A trace (a day of history, then blocks of 4 samples alternating HIGH and LOW CI), the fake job's profile and
    the chase package, all in the jobs' working folder where nobody can read them."""
    work = c.path("work")
    t0 = 1609459200  # 2021-01-01T00:00:00Z
    rows = ["time,ci"]
    for i in range(400):
        ci = 300 + 200 * ((i * 7) % 5 - 2) / 2 if i < 48 else (HIGH if ((i - 48) // 4) % 2 == 0 else LOW)
        rows.append("%s,%g" % (time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t0 + 1800 * i)), ci))
    with open(os.path.join(work, "ci.csv"), "w") as f:
        f.write("\n".join(rows) + "\n")
    pts = [{"power_limit_w": pl, "throughput": 30 * (min(pl, 235) / 235) ** 0.4, "power_w": min(pl, 235)}
           for pl in (100, 150, 200, 250, 300)]
    with open(os.path.join(work, "profile.json"), "w") as f:
        json.dump({"name": "fake-job", "gpu": "fake", "unit": "step", "points": pts}, f)
    shutil.copytree(os.path.join(os.environ["CHASE_SOURCE_DIR"], "python", "chase"), os.path.join(work, "chase"),
                    ignore=shutil.ignore_patterns("__pycache__"))
    for root, dirs, files in os.walk(work):
        for n in dirs + files:
            os.chmod(os.path.join(root, n), 0o755)
    return "trace:%s/ci.csv,start=2021-01-02T00:00:00Z,speed=1800" % work


def job_cmd(c, steps, sleep=0.03, crash_at=None, mark=None, mark_at=20):
    """A training loop in plain Python that reports every step through the chase package; crash_at: every task
    exits with 3 after that many steps; mark: the task on node 0 creates that file after mark_at steps."""
    code = ("import os,sys,time; sys.path.insert(0, %r); import chase\n"
            "assert os.environ.get('CHASE_PROGRESS', '').startswith('unix:/'), 'no CHASE_PROGRESS'\n"
            "for i in range(%d):\n"
            "    time.sleep(%g); chase.step(8)\n"
            "    if %r and i + 1 == %d and os.environ.get('SLURM_NODEID') == '0': open(%r, 'w').close()\n"
            "    if %r and i + 1 == %d: chase.flush(); sys.exit(3)\n"
            ) % (c.path("work"), steps, sleep, bool(mark), mark_at, mark or "", bool(crash_at), crash_at or 0)
    return [PY, "-c", code]


CHASE_OPTS = ["--chase", "--chase-policy=chase", "--chase-eta=0.7", "--chase-forecaster=persistence",
              "--chase-period=1s", "--chase-profile-file=profile.json"]


class Sampler:
    """Reads the fake GPUs every 50 ms while a step runs."""

    def __init__(self, c):
        self.c, self.samples, self.stop_flag = c, [], False
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        while not self.stop_flag:
            try:
                self.samples.append((time.monotonic(), [g["power_limit_w"] for g in self.c.gpus()]))
            except Failed:
                pass
            time.sleep(0.05)

    def stop(self):
        self.stop_flag = True
        self.t.join()
        return self.samples


def check_restored(c, msg=""):
    for g in c.gpus():
        check(g["power_limit_w"] == ORIGINAL_W,
              "GPU %d left at %g W, not %g W %s" % (g["index"], g["power_limit_w"], ORIGINAL_W, msg))


def check_untouched(c, samples):
    """The GPUs no step had were never set, by anyone, at any moment."""
    mine = {c.nvml_index(n) for n in c.nodes}
    for g in c.gpus():
        if g["index"] not in mine:
            check(g["set_calls"] == 0, "GPU %d (not the step's) was set %d times" % (g["index"], g["set_calls"]))
            check(all(s[1][g["index"]] == ORIGINAL_W for s in samples), "GPU %d (not the step's) changed" % g["index"])


def no_helpers_left(c):
    for _ in range(50):
        if not c.helpers():
            return
        time.sleep(0.1)
    fail("chase helpers still running: %s" % c.helpers())


def find_report(c, job_id=None):
    pattern = "chase-%s.*.json" % job_id if job_id else "chase-*.json"
    found = glob.glob(c.path("work", pattern))
    check(len(found) == 1, "expected one report in %s, found %s" % (c.path("work"), found))
    st = os.stat(found[0])
    check(st.st_uid == slurm_cluster.NOBODY, "the report belongs to uid %d, not the job's user" % st.st_uid)
    with open(found[0]) as f:
        return json.load(f)


def check_report(c, rep, steps=None):
    """The step's report: its nodes and GPUs, and every period's energy and carbon per node adding up."""
    check(rep["slurm"]["nodes"] == c.nodes and rep["slurm"]["leader"] == c.nodes[0], "slurm: %s" % rep["slurm"])
    nodes = rep["nodes"]
    check([n["name"] for n in nodes] == c.nodes, "nodes %s" % [n["name"] for n in nodes])
    for n in nodes:
        check(len(n["gpus"]) == 1, "node %s reports %d GPUs" % (n["name"], len(n["gpus"])))
        g = n["gpus"][0]
        check(g["index"] == c.nvml_index(n["name"]), "node %s drove NVML GPU %s, not %d (its device file's)"
              % (n["name"], g["index"], c.nvml_index(n["name"])))
        check(g["minor"] == c.nodes.index(n["name"]) * slurm_cluster.GPUS_PER_NODE, "minor %s" % g["minor"])
        check(near(g["original_power_limit_w"], ORIGINAL_W), "original limit %s" % g)
        check(n["restored"] is True, "node %s did not report its GPUs put back" % n["name"])
    check(len(rep["gpus"]) == 2 and {g["node"] for g in rep["gpus"]} == set(c.nodes), "gpus %s" % rep["gpus"])
    periods = rep["periods"]
    check(len(periods) > 0, "no periods")
    for p in periods:
        check([x["name"] for x in p["nodes"]] == c.nodes, "period nodes %s" % p["nodes"])
        known = [x for x in p["nodes"] if x["energy_j"] is not None]
        check(near(p["energy_j"], sum(x["energy_j"] for x in known), 1e-9), "period energy is not the nodes' sum")
        for x in known:
            check(near(x["carbon_g"], x["energy_j"] * p["ci_g_per_kwh"] / 3.6e6, 1e-9, 1e-12),
                  "carbon != energy x CI for %s" % x)
        check(near(p["carbon_g"], sum(x["carbon_g"] for x in known), 1e-9, 1e-12), "period carbon is not the sum")
        check(p["complete"] == (len(known) == len(c.nodes)), "complete flag")
    total = rep["total"]
    check(near(total["energy_j"], sum(p["energy_j"] for p in periods), 1e-9), "total energy")
    check(near(total["carbon_g"], sum(p["carbon_g"] for p in periods), 1e-9), "total carbon")
    for k, n in enumerate(nodes):
        check(near(n["energy_j"], sum(p["nodes"][k]["energy_j"] or 0 for p in periods), 1e-9), "node energy")
    if steps is not None:
        check(rep["progress"]["steps"] == steps, "leader saw %s steps of %d" % (rep["progress"]["steps"], steps))
        check(nodes[1]["steps"] == steps, "follower saw %s steps of %d" % (nodes[1]["steps"], steps))


def print_limits(rep):
    print("period  phase     CI g/kWh   " + "   ".join("%s W" % n for n in rep["slurm"]["nodes"]) + "   step J")
    for i, p in enumerate(rep["periods"]):
        lim = "   ".join("%6s" % ("%.1f" % x["power_limit_w"] if x["power_limit_w"] is not None else "-")
                       for x in p["nodes"])
        print("%5d  %-8s %8.1f   %s   %7.1f" % (i, p["phase"], p["ci_g_per_kwh"], lim, p["energy_j"]))


CASES = {}


def case(fn):
    CASES[fn.__name__[5:]] = fn
    return fn


def site(*more):
    """plugstack.conf arguments: the test trace as the site's signal, and more."""
    return lambda c: ["signal=" + write_inputs(c)] + list(more)


@case
def case_run():
    with Cluster(site=site()) as c:
        steps = 300
        sampler = Sampler(c)
        rc, out, err = c.srun(["-N2", "--gpus-per-node=1"] + CHASE_OPTS, job_cmd(c, steps))
        samples = sampler.stop()
        sys.stderr.write(err)
        check(rc == 0, "srun exited with %d" % rc)
        check("chase: job" in err and "periods on 2 nodes" in err, "no summary from chase on srun's stderr")
        rep = find_report(c)
        print_limits(rep)
        check_report(c, rep, steps)
        check_untouched(c, samples)
        check_restored(c, "after the step")
        no_helpers_left(c)
        e2e_common_follows(rep)
        # One decision per period: both nodes' GPUs held the same limit through every control period, apart from
        # the moments a decision travels (the periods' mean limits differ by a few milliseconds' worth). A stub of
        # a period (the job's last tens of milliseconds) is left out: there a few milliseconds weigh too much.
        ctl = [p for p in rep["periods"]
               if p["phase"] == "control" and p["complete"] and p["end"] - p["start"] >= 0.5]
        check(len(ctl) >= 6, "only %d complete control periods" % len(ctl))
        changed = 0
        for p in ctl:
            a, b = p["nodes"][0]["power_limit_w"], p["nodes"][1]["power_limit_w"]
            check(abs(a - b) <= 0.03 * abs(a) + 1, "period at %s: %s held %.1f W but %s %.1f W"
                  % (p["start_time"], c.nodes[0], a, c.nodes[1], b))
            changed |= a != ORIGINAL_W
        check(changed, "the step never changed a limit")
        # And seen from outside, on the GPUs themselves: the leader's and the follower's GPU agree nearly always.
        lead, foll = c.nvml_index(c.nodes[0]), c.nvml_index(c.nodes[1])
        moved = [s for s in samples if s[1][lead] != ORIGINAL_W or s[1][foll] != ORIGINAL_W]
        same = [s for s in moved if s[1][lead] == s[1][foll]]
        check(len(moved) >= 20, "the GPUs were seen changed only %d times" % len(moved))
        check(len(same) >= 0.9 * len(moved), "the nodes' GPUs agreed in %d of %d samples" % (len(same), len(moved)))


def e2e_common_follows(rep):
    """The limits follow the CI: never higher at a higher forecast, lower in high-CI periods."""
    import e2e_common
    e2e_common.check_follows_carbon(rep)


@case
def case_crash():
    with Cluster(site=site()) as c:
        rc, out, err = c.srun(["-N2", "--gpus-per-node=1"] + CHASE_OPTS, job_cmd(c, 400, crash_at=120))
        sys.stderr.write(err)
        check(rc == 3, "srun exited with %d, the tasks with 3" % rc)
        check_restored(c, "after the tasks crashed")
        rep = find_report(c)
        check(rep["exit_status"] == 3, "report exit_status %s" % rep["exit_status"])
        check(rep["nodes"][1]["exit_status"] == 3, "follower's exit_status %s" % rep["nodes"][1]["exit_status"])
        check(any(p["power_limit_w"] != ORIGINAL_W for p in rep["periods"]), "no limit was changed before the crash")
        check_report(c, rep)
        no_helpers_left(c)


def wait_file(path, proc=None, timeout=60):
    t_end = time.monotonic() + timeout
    while time.monotonic() < t_end:
        if os.path.exists(path):
            return
        if proc is not None and proc.poll() is not None:
            fail("the job ended before %s appeared" % path)
        time.sleep(0.1)
    fail("%s never appeared" % path)


@case
def case_scancel():
    with Cluster(site=site()) as c:
        mark = c.path("work", "training")
        script = c.path("work", "job.sh")
        with open(script, "w") as f:
            f.write("#!/bin/sh\n#SBATCH -N2 --gpus-per-node=1\n")
            for o in CHASE_OPTS[1:]:  # no --chase: a --chase-* option is enough
                f.write("#SBATCH %s\n" % o)
            f.write("srun %s\n" % " ".join(shlex.quote(a) for a in job_cmd(c, 3000, mark=mark, mark_at=150)))
        os.chmod(script, 0o755)
        rc, out, err = c.run(["sbatch", "--uid=%d" % slurm_cluster.NOBODY, "--gid=%d" % slurm_cluster.NOBODY,
                              "--parsable", "-o", c.path("work", "slurm-%j.out"), script])
        check(rc == 0, "sbatch failed: %s" % err)
        job_id = out.strip().split(";")[0]
        wait_file(mark, timeout=90)
        rc, out, err = c.run(["scancel", job_id])
        check(rc == 0, "scancel failed: %s" % err)
        for _ in range(300):
            rc, out, err = c.run(["squeue", "-h", "-j", job_id])
            if not out.strip():
                break
            time.sleep(0.1)
        else:
            fail("job %s still in the queue after scancel" % job_id)
        no_helpers_left(c)
        check_restored(c, "after scancel")
        with open(c.path("work", "slurm-%s.out" % job_id)) as f:
            slurm_cluster.no_sanitizer_report(f.read())
        rep = find_report(c, job_id)
        check(any(p["power_limit_w"] != ORIGINAL_W for p in rep["periods"]), "no limit was changed before scancel")
        check(rep["interrupted_by"] is not None or rep["exit_status"] not in (0, None),
              "the report does not say the step was cancelled: %s %s" % (rep["interrupted_by"], rep["exit_status"]))
        check_report(c, rep)


@case
def case_lost_leader():
    with Cluster(site=site()) as c:
        mark = c.path("work", "training")
        p = c.popen(["srun", "--uid=%d" % slurm_cluster.NOBODY, "--gid=%d" % slurm_cluster.NOBODY,
                     "--chdir=" + c.path("work"), "-N2", "--gpus-per-node=1"] + CHASE_OPTS[:4]
                    + ["--chase-period=2s", "--chase-profile-file=profile.json",
                       "--chase-signal=static:500"]  # a dirty grid throughout: the limit stays low
                    + job_cmd(c, 700, mark=mark, mark_at=100))
        try:
            wait_file(mark, p)
            leaders = [pid for pid in c.helpers() if "--node-id=0" in open("/proc/%d/cmdline" % pid).read()
                       .replace("\0", " ")]
            check(len(leaders) == 1, "leader helpers: %s" % leaders)
            foll = c.nvml_index(c.nodes[1])

            def follower_at(watts, within):
                t0 = time.monotonic()
                while time.monotonic() - t0 < within:
                    if c.gpus()[foll]["power_limit_w"] == watts:
                        return time.monotonic() - t0
                    time.sleep(0.02)
                fail("the follower's GPU is at %g W, not %g W, %.1f s on" % (c.gpus()[foll]["power_limit_w"], watts,
                                                                            within))
            follower_at(100, 5)  # following the leader's decision for a dirty grid
            # A leader that goes silent (stopped; its connection stays open): the follower stops trusting the last
            # decision within one period (2 s) and runs at the top limit; when the leader speaks again it follows.
            os.kill(leaders[0], signal.SIGSTOP)
            waited = follower_at(TOP_W, 4)
            print("silent leader: the follower went to the top limit after %.2f s (period 2 s)" % waited)
            check(0.5 < waited <= 2.5, "the follower fell back after %.2f s, not within one period" % waited)
            os.kill(leaders[0], signal.SIGCONT)
            print("leader back: the follower followed again after %.2f s" % follower_at(100, 3))
            # A leader killed outright: its connection closes and the follower falls back at once.
            os.kill(leaders[0], signal.SIGKILL)
            print("killed leader: the follower went to the top limit after %.2f s" % follower_at(TOP_W, 2))
            out, err = p.communicate(timeout=120)
        finally:
            if p.poll() is None:
                p.kill()
                p.communicate()
        sys.stderr.write(err)
        slurm_cluster.no_sanitizer_report(err)
        check(p.returncode == 0, "srun exited with %d" % p.returncode)
        no_helpers_left(c)
        check_restored(c, "after the leader's helper was killed")
        log = c.slurmd_log()
        check("chase died" in log, "the plugin did not notice its helper was killed")
        check("put back after a dead helper" in log, "the plugin did not put back what the dead helper left")


@case
def case_refuse():
    with Cluster(site=site("max_budget=10")) as c:
        before = [g["set_calls"] for g in c.gpus()]
        mark = c.path("work", "started")
        touch = ["/bin/sh", "-c", "touch %s" % mark]
        bad = [(["--chase-budget=500"], "--chase-budget"),
               (["--chase-budget=20"], "max_budget"),
               (["--chase-period=2x"], "--chase-period"),
               (["--chase", "--chase-report=-"], "--chase-report"),
               (["--chase", "--chase-signal=trace:missing.csv"], "missing.csv"),
               (["--chase", "--chase-policy=nonsense"], "nonsense"),
               (["--chase", "--chase-profile-file=/root/nope.json"], "--chase-profile-file"),
               (["--chase", "--chase-report=/root/report.json"], "--chase-report")]
        for opts, word in bad:
            rc, out, err = c.srun(["-N2", "--gpus-per-node=1"] + opts, touch, timeout=60)
            # srun refuses bad options itself (exit 1); a step refused on the nodes fails to launch, which
            # Slurm 22.05's srun reports on stderr but not in its exit status.
            check(rc != 0 or err.count("launch failed") == 2, "srun %s: the step was not refused" % opts)
            check(word in err and "chase" in err, "srun %s: the error does not name %s: %s" % (opts, word, err))
            check(not os.path.exists(mark), "srun %s: a task started" % opts)
            print("refused %s: %s" % (" ".join(opts), [ln for ln in err.splitlines() if word in ln][0]))
        check([g["set_calls"] for g in c.gpus()] == before, "a refused step changed a GPU")
        check(not os.path.exists("/root/report.json"), "a report was written as root")
        no_helpers_left(c)


@case
def case_dry_run():
    """--chase-dry-run: every node decides and records, no GPU is ever set (the followers' fallback included)."""
    with Cluster(site=site()) as c:
        rc, out, err = c.srun(["-N2", "--gpus-per-node=1"] + CHASE_OPTS + ["--chase-dry-run"], job_cmd(c, 150))
        sys.stderr.write(err)
        check(rc == 0, "srun exited with %d" % rc)
        check(all(g["set_calls"] == 0 for g in c.gpus()), "a GPU was set in a dry run")
        rep = find_report(c)
        check(rep["dry_run"] is True, "dry_run %s" % rep["dry_run"])
        check(any(p["decided_power_limit_w"] != ORIGINAL_W for p in rep["periods"]), "nothing was decided")
        check(all(x["power_limit_w"] is None or near(x["power_limit_w"], ORIGINAL_W)
                  for p in rep["periods"] for x in p["nodes"]), "a node held another limit than its own")
        no_helpers_left(c)


@case
def case_no_chase():
    with Cluster(site=site()) as c:
        rc, out, err = c.srun(["-N2", "--gpus-per-node=1"],
                              [PY, "-c", "import os; print('progress=' + os.environ.get('CHASE_PROGRESS', 'none'))"])
        check(rc == 0, "srun failed: %s" % err)
        check(out.count("progress=none") == 2, "tasks got CHASE_PROGRESS without --chase: %s" % out)
        check(all(g["set_calls"] == 0 for g in c.gpus()), "a GPU was set without --chase")
        check(not glob.glob(c.path("work", "chase-*.json")), "a report without --chase")
        check("chase:" not in c.slurmd_log(), "the plugin spoke without --chase")


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in CASES:
        print("usage: %s CASE (%s)" % (os.path.basename(sys.argv[0]), ", ".join(sorted(CASES))))
        sys.exit(2)
    try:
        CASES[sys.argv[1]]()
    except Failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
