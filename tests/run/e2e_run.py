#!/usr/bin/python3
"""End-to-end tests of `chase run`: real PyTorch training on the CPU, fake NVML GPUs, a fast-replayed carbon trace.

Usage: e2e_run.py CASE   (cases: see CASES at the bottom; ctest runs each one as its own test)

Environment (set by tests/run/CMakeLists.txt): CHASE_BIN, CHASE_NVML_LIBRARY (the fake NVML), FAKE_NVML_STATE_TOOL,
CHASE_SOURCE_DIR. Exit 77 (ctest's skip) when torch cannot be imported or the fake NVML was not built.

The trace has 30-min samples replayed at speed 1800, so each sample lasts 1 s of real time, and --period 1s makes
each control period one sample (periods start when the loop starts, so most straddle two samples).
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TRAIN = os.path.join(HERE, "train_fake_gpu.py")
PY = "/usr/bin/python3"
ORIGINAL_W = 275.0  # not the default 300 W: restoring must go back to what the GPU had, not to a default
HIGH, LOW = 500.0, 100.0


def skip(why):
    print("SKIP: " + why)
    sys.exit(77)


class Failed(Exception):
    pass


def fail(msg):
    print("FAIL: " + msg)
    raise Failed(msg)


def check(cond, msg):
    if not cond:
        fail(msg)


def near(a, b, rel=1e-6, abs_=1e-6):
    return abs(a - b) <= max(abs_, rel * max(abs(a), abs(b)))


class World:
    """A temp dir with the fake GPUs' shared state and a carbon trace."""

    def __init__(self, n_gpus=2):
        self.tmp = tempfile.mkdtemp(prefix="chase-e2e-")
        self.state = os.path.join(self.tmp, "gpus.state")
        self.env = dict(os.environ)
        self.env.update({
            "FAKE_NVML_STATE": self.state,
            "FAKE_NVML_GPUS": str(n_gpus),
            "PYTHONDONTWRITEBYTECODE": "1",
            # Steps here last ~30 ms and profiling windows ~10 steps: report every step (the default 0.1 s batching
            # would blur such short windows; real steps are longer and real windows too).
            "CHASE_PROGRESS_INTERVAL": "0",
            # Each test's journal of original limits is its own (the fake GPUs of every test have the same UUIDs).
            "CHASE_JOURNAL_DIR": os.path.join(self.tmp, "journal"),
        })
        self.env.pop("CHASE_PROGRESS", None)
        for i in range(n_gpus):
            self.tool("--set-limit", str(i), "%g" % ORIGINAL_W)
        self.trace = os.path.join(self.tmp, "ci.csv")
        self.write_trace()

    def tool(self, *args):
        out = subprocess.run([os.environ["FAKE_NVML_STATE_TOOL"], self.state] + list(args), env=self.env,
                             capture_output=True, text=True, timeout=30)
        check(out.returncode == 0, "fake_nvml_state %s failed: %s" % (args, out.stderr))
        return out.stdout

    def gpus(self):
        return json.loads(self.tool())["gpus"]

    def write_trace(self):
        """A day of history (max HIGH), then blocks of 4 samples alternating HIGH and LOW."""
        t0 = 1609459200  # 2021-01-01T00:00:00Z
        rows = ["time,ci"]
        for i in range(400):
            if i < 48:
                ci = 300 + 200 * ((i * 7) % 5 - 2) / 2  # 100..500
            else:
                ci = HIGH if ((i - 48) // 4) % 2 == 0 else LOW
            t = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t0 + 1800 * i))
            rows.append("%s,%g" % (t, ci))
        with open(self.trace, "w") as f:
            f.write("\n".join(rows) + "\n")
        self.signal = "trace:%s,start=2021-01-02T00:00:00Z,speed=1800" % self.trace
        # A replay at speed 1800 shows forecasters 1-s samples with no daily cycle; persistence is the forecaster
        # whose behaviour on such a signal is plain, so the tests can say what the limits must do.
        self.forecast = ["--forecaster", "persistence"]

    def chase(self, opts, command, timeout=150, on_start=None):
        report = os.path.join(self.tmp, "report.json")
        if os.path.exists(report):
            os.unlink(report)
        argv = [os.environ["CHASE_BIN"], "run", "--report", report] + opts + ["--"] + command
        t = time.monotonic()
        p = subprocess.Popen(argv, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if on_start:
            on_start(p)
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
            fail("chase run did not end within %d s; stderr:\n%s" % (timeout, err))
        sys.stderr.write(err)
        rep = None
        if os.path.exists(report):
            with open(report) as f:
                rep = json.load(f)
        return p.returncode, rep, err, time.monotonic() - t


def train_cmd(*args):
    return [PY, TRAIN] + list(args)


def check_restored(w, msg=""):
    for g in w.gpus():
        check(g["power_limit_w"] == ORIGINAL_W,
              "GPU %d left at %g W, not restored to %g W %s" % (g["index"], g["power_limit_w"], ORIGINAL_W, msg))


def check_accounting(rep, steps=None):
    """Periods add up to the total; each period's carbon is its energy times its CI."""
    periods, total = rep["periods"], rep["total"]
    check(len(periods) > 0, "no periods in the report")
    for k in ("start", "ci_g_per_kwh", "forecast_g_per_kwh", "power_limit_w", "energy_j", "carbon_g", "steps"):
        check(all(k in p for p in periods), "a period lacks " + k)
    for p in periods:
        check(p["energy_j"] >= 0, "negative energy in %s" % p)
        check(near(p["carbon_g"], p["energy_j"] * p["ci_g_per_kwh"] / 3.6e6, 1e-9, 1e-12),
              "carbon != energy x CI / 3.6e6 in %s" % p)
    check(near(total["energy_j"], sum(p["energy_j"] for p in periods), 1e-9), "energy does not add up")
    check(near(total["carbon_g"], sum(p["carbon_g"] for p in periods), 1e-9), "carbon does not add up")
    check(near(total["steps"], sum(p["steps"] for p in periods), 1e-9), "steps do not add up")
    check(near(total["time_s"], sum(p["end"] - p["start"] for p in periods), 1e-6), "time does not add up")
    # Periods follow each other without gaps or overlaps.
    for a, b in zip(periods, periods[1:]):
        check(abs(b["start"] - a["end"]) < 0.05, "gap between periods: %s .. %s" % (a["end"], b["start"]))
    if steps is not None:
        check(total["steps"] == steps, "total steps %s, the job made %d" % (total["steps"], steps))


def check_energy_matches_gpus(rep, before, after):
    """The report's energy is what the fake GPUs drew while chase watched (they also draw before and after)."""
    drawn = sum(a["energy_j"] - b["energy_j"] for a, b in zip(after, before))
    total = rep["total"]["energy_j"]
    check(0 < total <= drawn * 1.001, "report energy %.1f J vs %.1f J drawn by the GPUs" % (total, drawn))
    check(total >= 0.9 * drawn, "report energy %.1f J misses much of the %.1f J drawn" % (total, drawn))


def check_follows_carbon(rep, strict=True):
    """In control periods, the limit never rises with the forecast CI, and high-CI periods run lower.

    strict=False (a profile measured online in sub-second windows, whose noise on a loaded machine can make Eq. 6
    pick one limit for both CI levels) only asks that high-CI periods never run higher."""
    ctl = [p for p in rep["periods"] if p["phase"] == "control" and p["end"] - p["start"] > 0.5]
    check(len(ctl) >= 6, "only %d control periods" % len(ctl))
    for a in ctl:
        for b in ctl:
            if a["forecast_g_per_kwh"] > b["forecast_g_per_kwh"] + 1:
                check(a["power_limit_w"] <= b["power_limit_w"] + 1e-6,
                      "limit %g W at forecast %g but %g W at forecast %g" % (
                          a["power_limit_w"], a["forecast_g_per_kwh"], b["power_limit_w"], b["forecast_g_per_kwh"]))
    high = [p["power_limit_w"] for p in ctl if p["ci_g_per_kwh"] >= 0.8 * HIGH]
    low = [p["power_limit_w"] for p in ctl if p["ci_g_per_kwh"] <= 1.2 * LOW]
    check(high and low, "the run saw no pure high or low CI period")
    mh, ml = sum(high) / len(high), sum(low) / len(low)
    print("mean limit: %.1f W in high-CI periods, %.1f W in low-CI periods" % (mh, ml))
    if strict:
        check(mh < ml - 10, "limits do not follow the carbon signal: %.1f W (high CI) vs %.1f W (low CI)" % (mh, ml))
    else:
        check(mh <= ml, "limits rise with the carbon signal: %.1f W (high CI) vs %.1f W (low CI)" % (mh, ml))


def need_torch():
    r = subprocess.run([PY, "-c", "import torch"], capture_output=True)
    if r.returncode != 0:
        skip("torch is not importable by %s (install python3-torch)" % PY)


PROFILE_OPTS = ["--warmup-steps", "5", "--profile-steps", "10", "--pl-step", "50", "--period", "1s"]


def case_chase():
    """Policy chase profiles online, then lowers the limit when CI is high; everything adds up; limits restored.

    eta 0.7 weighs carbon enough that the choice at CI 500 (about 100 W) and at CI 100 (about 250 W) each beats
    the runner-up by over 10 % on the fake job's profile, more than the noise of profiling windows of ~0.4 s."""
    need_torch()
    w = World()
    prof = os.path.join(w.tmp, "profile.json")
    before = w.gpus()
    steps = 300
    rc, rep, err, dt = w.chase(["--signal", w.signal, "--policy", "chase", "--eta", "0.7", "--profile-file", prof]
                               + w.forecast + PROFILE_OPTS,
                               train_cmd("--steps", str(steps)))
    after = w.gpus()
    check(rc == 0, "exit status %d" % rc)
    check(rep is not None, "no report")
    check(rep["profile_source"] == "online", "profile from %s" % rep["profile_source"])
    pts = rep["profile"]["points"]
    check([p["power_limit_w"] for p in pts] == [100, 150, 200, 250, 300], "profiled limits %s" % pts)
    # Below the fake GPU's 235 W knee, lower limits are slower and draw less.
    by = {p["power_limit_w"]: p for p in pts}
    check(by[100]["throughput"] < 0.9 * by[300]["throughput"], "profile: 100 W is not slower than 300 W")
    check(by[100]["power_w"] < 0.5 * by[300]["power_w"], "profile: 100 W does not draw less than 300 W")
    check(os.path.exists(prof), "profile not saved to --profile-file")
    prof_rows = [p for p in rep["periods"] if p["phase"] == "profile"]
    check([p["power_limit_w"] for p in prof_rows[1:]] == [300, 250, 200, 150, 100],
          "profiling rows %s" % [p["power_limit_w"] for p in prof_rows])
    check_accounting(rep, steps)
    check_energy_matches_gpus(rep, before, after)
    check_follows_carbon(rep, strict=False)  # case_budget checks strict following on a known profile
    check(rep["progress"]["ranks"] == 1 and rep["progress"]["malformed"] == 0, "progress %s" % rep["progress"])
    check(rep["progress"]["samples"] == steps * 16, "samples %s" % rep["progress"]["samples"])
    check_restored(w)
    check(all(g["set_calls"] > 2 for g in after), "limits were never changed")
    check("gCO2eq" in err, "no human summary on stderr")


def case_budget():
    """Policy budget on a saved profile (no profiling): lower limits in high-CI periods, limits restored."""
    need_torch()
    w = World()
    prof = os.path.join(w.tmp, "profile.json")
    # The fake job's own shape (see train_fake_gpu.py): throughput (min(pl,235)/235)^0.4, power min(pl,235).
    pts = [{"power_limit_w": pl, "throughput": 30 * (min(pl, 235) / 235) ** 0.4, "power_w": min(pl, 235)}
           for pl in (100, 150, 200, 250, 300)]
    with open(prof, "w") as f:
        json.dump({"name": "fake-cnn", "gpu": "fake", "unit": "step", "points": pts}, f)
    rc, rep, err, dt = w.chase(["--signal", w.signal, "--policy", "budget", "--budget", "10", "--period", "1s",
                                "--profile-file", prof] + w.forecast, train_cmd("--steps", "300"))
    check(rc == 0, "exit status %d" % rc)
    check(rep["profile_source"] == "file", "profile from %s" % rep["profile_source"])
    check(not any(p["phase"] == "profile" for p in rep["periods"]), "profiled although a profile was given")
    check_accounting(rep, 300)
    check_follows_carbon(rep)
    check_restored(w)


def case_crash():
    """The training script crashes while chase profiles: chase exits with its status and restores every limit."""
    need_torch()
    w = World()
    rc, rep, err, dt = w.chase(["--signal", w.signal, "--policy", "chase"] + PROFILE_OPTS,
                               train_cmd("--steps", "1000", "--crash-at", "35"))
    check(rc == 1, "exit status %d, the script exited with 1" % rc)
    check("crashing on purpose" in err, "the script's traceback did not reach stderr")
    check(rep is not None and rep["exit_status"] == 1, "report exit_status")
    check(any(p["phase"] == "profile" and p["power_limit_w"] != ORIGINAL_W for p in rep["periods"]),
          "the crash came before any limit was changed")
    check(not any(p["phase"] == "control" for p in rep["periods"]), "the crash came after profiling")
    check_accounting(rep)
    check_restored(w, "after the crash")


def interrupt(sig, policy="fixed:150"):
    need_torch()
    w = World()

    mark = os.path.join(w.tmp, "training")

    def on_start(p):
        # Wait until the job trains under chase's limit, then interrupt chase (only chase: it must forward it).
        t_end = time.monotonic() + 90
        while time.monotonic() < t_end and p.poll() is None:
            if os.path.exists(mark):
                check(all(g["power_limit_w"] == 150 for g in w.gpus()), "the limit was not set while training")
                p.send_signal(sig)
                return
            time.sleep(0.1)
        p.kill()
        fail("the job never started training")

    rc, rep, err, dt = w.chase(["--signal", w.signal, "--policy", policy, "--period", "1s"],
                               train_cmd("--steps", "100000", "--mark-file", mark, "--mark-at", "20"),
                               on_start=on_start)
    check(rc == 128 + sig, "exit status %d, expected %d (the child killed by the forwarded signal)" % (rc, 128 + sig))
    check(rep is not None and rep["interrupted_by"] == signal.Signals(sig).name, "report: interrupted_by")
    check_accounting(rep)
    # The period under way when the signal came is closed and accounted too: the 20 steps before the mark are in.
    check(rep["total"]["steps"] >= 20, "steps before the signal missing: %s" % rep["total"]["steps"])
    check_restored(w, "after %s" % signal.Signals(sig).name)


def case_sigterm():
    """chase gets SIGTERM mid-run: forwards it, restores the limits, exits with the child's status."""
    interrupt(signal.SIGTERM)


def case_sigint():
    """Same for SIGINT sent to chase alone (not the terminal's process group): Python dies of KeyboardInterrupt."""
    interrupt(signal.SIGINT)


def case_ddp():
    """Two ranks (torch.distributed, gloo) both report; the job's steps are the ranks' common step count."""
    need_torch()
    w = World()
    steps = 100
    rc, rep, err, dt = w.chase(["--signal", w.signal, "--policy", "chase", "--progress-timeout", "120s",
                                "--warmup-steps", "3", "--profile-steps", "8", "--pl-step", "100", "--period", "1s"]
                               + w.forecast, train_cmd("--steps", str(steps), "--world", "2", "--port",
                                                         str(29500 + os.getpid() % 400)))
    check(rc == 0, "exit status %d" % rc)
    pr = rep["progress"]
    check(pr["ranks"] == 2, "ranks seen: %s" % pr["ranks"])
    check(pr["steps"] == steps and pr["samples"] == 2 * steps * 16, "progress %s" % pr)
    check(rep["profile_source"] == "online", "profile from %s" % rep["profile_source"])
    check_accounting(rep, steps)
    check_restored(w)


def case_noprogress():
    """A job that never reports: chase says it cannot profile, runs at the top limit, still measures energy."""
    need_torch()
    w = World()
    rc, rep, err, dt = w.chase(["--signal", w.signal, "--policy", "chase", "--progress-timeout", "2s",
                                "--period", "1s"], train_cmd("--steps", "120", "--no-report"))
    check(rc == 0, "exit status %d" % rc)
    check("cannot profile" in err, "no warning about the missing progress reports")
    check(rep["policy"] == "max" and rep["policy_requested"] == "chase", "policy %s" % rep["policy"])
    check(rep["total"]["steps"] == 0 and rep["total"]["energy_j"] > 0, "totals %s" % rep["total"])
    check(all(p["power_limit_w"] == 300 for p in rep["periods"] if p["phase"] == "control"), "not at the top")
    check_accounting(rep)
    check_restored(w)


def case_dryrun():
    """--dry-run decides and records but never sets a limit (the way chase runs on a machine it must not change)."""
    w = World()
    prof = os.path.join(w.tmp, "profile.json")
    pts = [{"power_limit_w": pl, "throughput": 30 * (min(pl, 235) / 235) ** 0.4, "power_w": min(pl, 235)}
           for pl in (100, 150, 200, 250, 300)]
    with open(prof, "w") as f:
        json.dump({"name": "fake-cnn", "gpu": "fake", "unit": "step", "points": pts}, f)
    before = w.gpus()
    # A plain Python loop (no torch needed) with the chase package.
    code = ("import sys,time; sys.path.insert(0, %r); import chase\n"
            "for i in range(400):\n    time.sleep(0.02); chase.step(8)\n") % os.path.join(
                os.environ["CHASE_SOURCE_DIR"], "python")
    rc, rep, err, dt = w.chase(["--signal", w.signal, "--policy", "chase", "--period", "1s", "--dry-run",
                                "--profile-file", prof] + w.forecast, [PY, "-c", code])
    after = w.gpus()
    check(rc == 0, "exit status %d" % rc)
    check(rep["dry_run"] is True, "dry_run flag")
    check([a["set_calls"] for a in after] == [b["set_calls"] for b in before], "a limit was set in a dry run")
    check_restored(w)
    check_accounting(rep, 400)
    limits = {p["decided_power_limit_w"] for p in rep["periods"]}
    check(len(limits) >= 2, "the dry run recorded no decisions that follow the CI: %s" % limits)
    held = {p["power_limit_w"] for p in rep["periods"]}
    check(held == {ORIGINAL_W}, "a dry run must record the limit in force, not the decision: %s" % held)


def case_example():
    """The example of docs/run.md runs under chase as documented and its steps arrive."""
    need_torch()
    w = World()
    example = os.path.join(os.environ["CHASE_SOURCE_DIR"], "examples", "train_cnn.py")
    rc, rep, err, dt = w.chase(["--signal", "static:300", "--policy", "fixed:200", "--period", "1s"],
                               [PY, example, "--steps", "40", "--batch-size", "8", "--width", "8", "--size", "16",
                                "--cpu"])
    check(rc == 0, "exit status %d" % rc)
    check(rep["progress"]["steps"] == 40 and rep["progress"]["samples"] == 320, "progress %s" % rep["progress"])
    check(all(p["power_limit_w"] == 200 for p in rep["periods"]), "fixed:200 not applied")
    check(all(near(p["ci_g_per_kwh"], 300) for p in rep["periods"]), "static CI not used")
    check_accounting(rep, 40)
    check_restored(w)


def case_noperm():
    """NVML refuses to set limits (not root): chase warns once, observes only, and never changes a limit."""
    w = World()
    w.env["FAKE_NVML_NO_PERMISSION"] = "1"
    before = w.gpus()
    code = ("import sys,time; sys.path.insert(0, %r); import chase\n"
            "for i in range(150):\n    time.sleep(0.02); chase.step(4)\n") % os.path.join(
                os.environ["CHASE_SOURCE_DIR"], "python")
    rc, rep, err, dt = w.chase(["--signal", "static:300", "--policy", "chase", "--period", "1s"], [PY, "-c", code])
    check(rc == 0, "exit status %d" % rc)
    check(err.count("needs root") == 1, "expected one warning about permissions:\n" + err)
    check(rep["dry_run"] is True and rep["policy"] == "max", "report: dry_run %s policy %s" % (rep["dry_run"],
                                                                                         rep["policy"]))
    check([g["set_calls"] for g in w.gpus()] == [g["set_calls"] for g in before], "a limit was changed")
    check_accounting(rep, 150)
    check_restored(w)


def case_cli():
    """Bad input: a clear message on stderr and exit status 2, before any command starts."""
    w = World()
    marker = os.path.join(w.tmp, "ran")
    cmd = ["/bin/sh", "-c", "touch " + marker]
    base = ["--signal", "static:300"]
    bad = [
        ([], "--signal is required"),
        (base + ["--policy", "nonsense"], "--policy"),
        (base + ["--policy", "oracle"], "oracle"),
        (base + ["--period", "0.5s"], "--period"),
        (base + ["--period", "soon"], "--period"),
        (base + ["--budget", "200"], "--budget"),
        (base + ["--eta", "-1"], "--eta"),
        (base + ["--gpus", "0,0"], "twice"),
        (base + ["--gpus", "7"], "GPU 7 does not exist"),
        (base + ["--gpus", "a"], "--gpus"),
        (base + ["--warmup-steps", "1.5"], "whole number"),
        (base + ["--profile-steps", "0"], "--profile-steps"),
        (base + ["--total-steps", "0"], "--total-steps"),
        (base + ["--progress-timeout", "-1s"], "--progress-timeout"),
        (base + ["--report"], "needs a value"),
        (base + ["--frobnicate"], "unknown option"),
        (base + ["--policy", "fixed:50"], "100..300"),
        (base + ["--dry-run", "--policy", "chase"], "--dry-run"),
        (["--signal", "trace:/nonexistent/ci.csv"], "/nonexistent/ci.csv"),
        (["--signal", "nonsense"], "--signal"),
        (base + ["--forecaster", "crystal-ball"], "crystal-ball"),
    ]
    for opts, text in bad:
        argv = [os.environ["CHASE_BIN"], "run"] + opts + ["--"] + cmd
        r = subprocess.run(argv, env=w.env, capture_output=True, text=True, timeout=30)
        check(r.returncode == 2, "%s: exit %d, expected 2 (stderr: %s)" % (opts, r.returncode, r.stderr))
        check(text in r.stderr, "%s: stderr lacks %r: %s" % (opts, text, r.stderr))
        check(not os.path.exists(marker), "%s: the command ran despite bad input" % opts)
    r = subprocess.run([os.environ["CHASE_BIN"], "run", "--signal", "static:300"], env=w.env, capture_output=True,
                       text=True)
    check(r.returncode == 2 and "no command" in r.stderr, "missing command: %s" % r.stderr)
    r = subprocess.run([os.environ["CHASE_BIN"], "run", "--help"], env=w.env, capture_output=True, text=True)
    check(r.returncode == 0 and "Examples:" in r.stdout, "--help")
    r = subprocess.run([os.environ["CHASE_BIN"], "run", "--signal", "static:300", "--policy", "max", "--",
                        "/nonexistent/cmd"], env=w.env, capture_output=True, text=True, timeout=30)
    check(r.returncode == 127 and "/nonexistent/cmd" in r.stderr, "command not found: %d %s" % (r.returncode,
                                                                                              r.stderr))
    r = subprocess.run([os.environ["CHASE_BIN"], "run", "--signal", "static:300", "--", "/bin/sh", "-c",
                        "touch " + marker], env=dict(w.env, CHASE_NVML_LIBRARY="/nonexistent/libnvidia-ml.so"),
                       capture_output=True, text=True, timeout=30)
    check(r.returncode == 1 and "NVML" in r.stderr, "no NVML: exit %d, %s" % (r.returncode, r.stderr))
    check(not os.path.exists(marker), "the command ran without NVML")
    # The child's own exit status comes back, and no limit changed under policy max at the original... max is 300.
    r = subprocess.run([os.environ["CHASE_BIN"], "run", "--signal", "static:300", "--policy", "max", "--period", "1s",
                        "--", "/bin/sh", "-c", "sleep 1.5; exit 7"], env=w.env, capture_output=True, text=True,
                       timeout=30)
    check(r.returncode == 7, "child status 7 came back as %d: %s" % (r.returncode, r.stderr))
    check_restored(w, "after a short run under policy max")


CASES = {name[5:]: fn for name, fn in globals().items() if name.startswith("case_")}

if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in CASES:
        print("usage: e2e_run.py CASE (%s)" % ", ".join(sorted(CASES)))
        sys.exit(2)
    for v in ("CHASE_BIN", "CHASE_NVML_LIBRARY", "FAKE_NVML_STATE_TOOL", "CHASE_SOURCE_DIR"):
        if not os.environ.get(v):
            skip("%s is not set (run through ctest)" % v)
    if not os.path.exists(os.environ["CHASE_NVML_LIBRARY"]):
        skip("the fake NVML library was not built")
    case = sys.argv[1]
    # These cases profile online: their checks rest on step rates measured over fractions of a second, which a busy
    # machine can skew (about one run in 40 failed in CI-like runs). A second failure in a row is a real one.
    attempts = 2 if case in ("chase", "ddp") else 1
    for attempt in range(1, attempts + 1):
        try:
            CASES[case]()
            break
        except Failed as e:
            if attempt == attempts:
                sys.exit(1)
            print("retrying once: the online profile's timing may have been disturbed (%s)" % e)
    print("ok " + case)
