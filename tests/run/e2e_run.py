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
import time

from e2e_common import *  # noqa: F401,F403 (World, check, fail, ...)

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
    check_eq6(rep)
    check(rep["progress"]["ranks"] == 1 and rep["progress"]["malformed"] == 0, "progress %s" % rep["progress"])
    check(rep["progress"]["samples"] == steps * 16, "samples %s" % rep["progress"]["samples"])
    check_restored(w)
    check("gCO2eq" in err, "no human summary on stderr")


def check_eq6(rep):
    """Every control period's limit is the paper's Eq. 6 recomputed here from the report's own profile, forecast,
    eta, MaxPower and MaxCI: argmin over the measured limits of (eta P CI + (1 - eta) MaxPower MaxCI) / X."""
    info = rep["policy_info"]
    eta, max_p, max_ci = info["eta"], info["max_power_w"], info["max_ci_g_per_kwh"]
    check(max_ci is not None and max_ci > 0, "the report has no MaxCI: %s" % info)
    check("24 h before the job" in info["note"], "MaxCI not explained: %s" % info)
    pts = sorted(rep["profile"]["points"], key=lambda p: p["power_limit_w"])
    n = 0
    for row in rep["periods"]:
        if row["phase"] != "control" or row["forecast_g_per_kwh"] is None:
            continue
        ci = row["forecast_g_per_kwh"]
        costs = [((eta * p["power_w"] * ci + (1 - eta) * max_p * max_ci) / p["throughput"], -p["power_limit_w"])
                 for p in pts]
        best = -min(costs)[1]  # ties go to the higher limit
        check(row["decided_power_limit_w"] == best, "period at %s: limit %s, Eq. 6 gives %s at forecast %g" % (
            row["start_time"], row["decided_power_limit_w"], best, ci))
        n += 1
    check(n >= 5, "only %d control periods to check Eq. 6 on" % n)


def case_budget():
    """Policy budget on a saved profile (no profiling): lower limits in high-CI periods, limits restored."""
    need_torch()
    w = World()
    prof = fake_profile(w)
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
    prof = fake_profile(w)
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
        (base + ["--report", "/nonexistent/dir/run.json"], "does not exist"),
        (base + ["--report", "/"], "is a folder"),
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
    main(CASES)
