#!/usr/bin/python3
"""End-to-end tests of `chase run` under faults: every way a run can end must leave each GPU at the limit it had.

Usage: e2e_faults.py CASE   (cases: the case_* functions below; ctest runs each one as its own test)

The jobs are plain Python loops that report through the chase package (no torch needed); the GPUs are the fake
NVML's, with faults injected through its environment (FAKE_NVML_FAIL_SET, FAKE_NVML_INIT_DELAY_MS, ...).
"""

import json
import os
import signal
import subprocess
import time

from e2e_common import *  # noqa: F401,F403 (World, check, fail, plain_job, ...)


def run_fixed(w, sig_after_mark=None, policy="fixed:150", extra=None, steps=100000):
    """chase run --policy POLICY on a long plain job; with sig_after_mark, that signal goes to chase once the job
    trains under the changed limit."""
    mark = os.path.join(w.tmp, "training")

    def on_start(p):
        wait_for(mark, p)
        wait_limit(w, p, 150)
        p.send_signal(sig_after_mark)

    return w.chase(["--signal", "static:300", "--policy", policy, "--period", "1s", "--forecaster", "persistence"]
                   + (extra or []),
                   plain_job(steps, 0.01, mark=mark, mark_at=20), on_start=on_start if sig_after_mark else None)


def case_signals():
    """SIGQUIT, SIGUSR1, SIGALRM and SIGHUP end a run as SIGTERM does: forwarded, period closed, limits back."""
    for sig in (signal.SIGQUIT, signal.SIGUSR1, signal.SIGALRM, signal.SIGHUP):
        w = World()
        rc, rep, err, dt = run_fixed(w, sig)
        name = signal.Signals(sig).name
        check(rc == 128 + sig, "%s: exit status %d, expected %d (the child killed by the forwarded signal)" % (
            name, rc, 128 + sig))
        check(rep is not None and rep["interrupted_by"] == name, "%s: report interrupted_by %s" % (
            name, rep and rep["interrupted_by"]))
        check(all(g["restored"] for g in rep["gpus"]), "%s: the report says a GPU was not restored" % name)
        check("power limits restored" in err, "%s: no word that the limits are back:\n%s" % (name, err))
        check_accounting(rep)
        check_restored(w, "after %s" % name)


def case_sigterm_profiling():
    """SIGTERM while chase profiles the job online: the limits being measured are put back too."""
    w = World()
    mark = os.path.join(w.tmp, "training")

    def on_start(p):
        wait_for(mark, p)
        time.sleep(0.3)  # into the grid of limits
        p.send_signal(signal.SIGTERM)

    rc, rep, err, dt = w.chase(["--signal", "static:300", "--policy", "chase", "--warmup-steps", "5",
                                "--profile-steps", "400", "--period", "1s"],
                               plain_job(100000, 0.005, mark=mark, mark_at=6), on_start=on_start)
    check(rc == 128 + signal.SIGTERM, "exit status %d" % rc)
    check(rep["interrupted_by"] == "SIGTERM", "interrupted_by %s" % rep["interrupted_by"])
    rows = [p for p in rep["periods"] if p["phase"] == "profile"]
    check(any(p["power_limit_w"] != ORIGINAL_W for p in rows), "the signal came before profiling changed a limit")
    check(not any(p["phase"] == "control" for p in rep["periods"]), "the signal came after profiling")
    check_accounting(rep)
    check_restored(w, "after SIGTERM during profiling")


def case_sigpipe():
    """`chase run ... 2>&1 | head -n1`: head exits, chase's stderr is a closed pipe; chase goes on and restores."""
    w = World()
    rcfile, report = os.path.join(w.tmp, "rc"), os.path.join(w.tmp, "report.json")
    argv = [os.environ["CHASE_BIN"], "run", "--report", report, "--signal", "static:300", "--policy", "fixed:150",
            "--period", "1s", "--"] + plain_job(150, 0.02)
    script = "%s 2>&1 | head -n1 >/dev/null; echo ${PIPESTATUS[0]} > %s" % (
        " ".join("'%s'" % a.replace("'", "'\\''") for a in argv), rcfile)
    r = subprocess.run(["bash", "-c", script], env=w.env, timeout=120)
    check(r.returncode == 0, "bash failed")
    with open(rcfile) as f:
        rc = int(f.read())
    check(rc == 0, "chase exited with %d after its stderr pipe closed" % rc)
    with open(report) as f:
        rep = json.load(f)
    check_accounting(rep, 150)
    check(any(p["power_limit_w"] == 150 for p in rep["periods"]), "fixed:150 never applied")
    check_restored(w, "after stderr became a closed pipe")


def case_tee_ctrlc():
    """Ctrl-C on `chase run ... 2>&1 | tee log`: the terminal's SIGINT reaches chase, the job and tee at once."""
    w = World()
    mark, report = os.path.join(w.tmp, "training"), os.path.join(w.tmp, "report.json")
    argv = [os.environ["CHASE_BIN"], "run", "--report", report, "--signal", "static:300", "--policy", "fixed:150",
            "--period", "1s", "--forecaster", "persistence", "--"] + plain_job(100000, 0.01, mark=mark, mark_at=20)
    script = "%s 2>&1 | tee %s/log" % (" ".join("'%s'" % a.replace("'", "'\\''") for a in argv), w.tmp)
    p = subprocess.Popen(["bash", "-c", script], env=w.env, start_new_session=True, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    try:
        wait_for(mark, p)
        wait_limit(w, p, 150)
        os.killpg(p.pid, signal.SIGINT)  # what the terminal does for Ctrl-C: the whole foreground process group
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            fail("the pipeline did not end within 30 s of Ctrl-C")
    finally:
        kill_group(p)
    t_end = time.monotonic() + 10  # chase may outlive tee by a moment
    while time.monotonic() < t_end and not os.path.exists(report):
        time.sleep(0.05)
    check(os.path.exists(report), "no report after Ctrl-C")
    check_restored(w, "after Ctrl-C on a pipeline into tee")


def kill_group(p):
    """SIGKILL to p's whole process group (a no-op when it is gone), then reaps p."""
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    p.wait(timeout=30)


def journal_entries(w):
    d = w.env["CHASE_JOURNAL_DIR"]
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


def killed_run(w):
    """Starts chase with fixed:150 in its own process group and SIGKILLs the group once the job trains."""
    mark = os.path.join(w.tmp, "training")
    argv = [os.environ["CHASE_BIN"], "run", "--signal", "static:300", "--policy", "fixed:150", "--period", "1s",
            "--forecaster", "persistence", "--"] + plain_job(100000, 0.01, mark=mark, mark_at=20)
    p = subprocess.Popen(argv, env=w.env, start_new_session=True, stderr=subprocess.DEVNULL)
    try:
        wait_for(mark, p)
        wait_limit(w, p, 150)
    finally:
        kill_group(p)  # SIGKILL to chase and its job at once, as the OOM killer or a scheduler would
    check(len(journal_entries(w)) == 2, "the journal holds %s, not one entry per GPU" % journal_entries(w))


def case_sigkill_restore():
    """SIGKILL leaves the limits lowered and the journal behind; `chase restore` puts them back."""
    w = World()
    killed_run(w)
    r = subprocess.run([os.environ["CHASE_BIN"], "restore", "--dry-run"], env=w.env, capture_output=True, text=True)
    check(r.returncode == 0 and r.stdout.count("would be put back to 275 W") == 2, "dry run: %s" % r.stdout)
    check(all(g["power_limit_w"] == 150 for g in w.gpus()), "--dry-run changed a limit")
    r = subprocess.run([os.environ["CHASE_BIN"], "restore"], env=w.env, capture_output=True, text=True)
    check(r.returncode == 0 and r.stdout.count("put back to 275 W") == 2, "restore: %s %s" % (r.stdout, r.stderr))
    check_restored(w, "after chase restore")
    check(journal_entries(w) == [], "the journal was not emptied: %s" % journal_entries(w))
    r = subprocess.run([os.environ["CHASE_BIN"], "restore"], env=w.env, capture_output=True, text=True)
    check(r.returncode == 0 and "Nothing to restore" in r.stdout, "second restore: %s" % r.stdout)


def case_sigkill_next_run():
    """After a SIGKILLed run the next chase run restores the GPUs first and never takes 150 W as their own."""
    w = World()
    killed_run(w)
    rc, rep, err, dt = w.chase(["--signal", "static:300", "--policy", "max", "--period", "1s"], plain_job(20, 0.01))
    check(rc == 0, "exit status %d" % rc)
    check(err.count("died without putting it back") == 2, "no word of the dead run's limits:\n" + err)
    check(all(g["original_power_limit_w"] == ORIGINAL_W for g in rep["gpus"]),
          "the report takes %s as the originals" % [g["original_power_limit_w"] for g in rep["gpus"]])
    check_restored(w, "after the run that followed a SIGKILL")
    check(journal_entries(w) == [], "the journal was not emptied: %s" % journal_entries(w))


def case_partial_set():
    """GPU 1 refuses a set after GPU 0 accepted it: GPU 0 is put back, chase says so and exits non-zero."""
    w = World()
    w.env["FAKE_NVML_FAIL_SET"] = "1,0,NO_PERMISSION"
    rc, rep, err, dt = run_fixed(w, steps=100)
    check(rc == 1, "exit status %d, expected 1 (control failed)" % rc)
    check("GPU 1" in err and "control stopped" in err, "stderr does not name GPU 1:\n" + err)
    check(rep["error"] and "GPU 1" in rep["error"], "report error %s" % rep["error"])
    check(all(g["restored"] for g in rep["gpus"]), "report: %s" % rep["gpus"])
    check("no period was completed" in err, "the summary pretends periods ran:\n" + err)
    check_restored(w, "after GPU 1 refused a set")


def finish_with_chase_restore(w):
    """The GPU chase could not put back is the one entry left in the journal; once the GPU answers again (the
    fault gone), `chase restore` puts it back."""
    check(len(journal_entries(w)) == 1, "journal %s" % journal_entries(w))
    del w.env["FAKE_NVML_FAIL_SET"]
    r = subprocess.run([os.environ["CHASE_BIN"], "restore"], env=w.env, capture_output=True, text=True)
    check(r.returncode == 0, "chase restore: %s %s" % (r.stdout, r.stderr))
    check_restored(w, "after chase restore")


def case_restore_fails():
    """Putting GPU 0 back fails: chase names it, never says the limits are back, exits non-zero; the journal
    keeps GPU 0's original, so `chase restore` can finish the job."""
    w = World()
    w.env["FAKE_NVML_FAIL_SET"] = "0,1,UNKNOWN"  # GPU 0 takes one set (150 W), then refuses every set
    rc, rep, err, dt = run_fixed(w, steps=100)
    check(rc == 1, "exit status %d, expected 1" % rc)
    check("GPU 0" in err and "not put back to 275 W" in err, "stderr does not name GPU 0:\n" + err)
    check("power limits restored" not in err, "chase claims the limits are back:\n" + err)
    g = {x["index"]: x for x in rep["gpus"]}
    check(g[0]["restored"] is False and g[1]["restored"] is True, "report restored flags %s" % rep["gpus"])
    gpus = w.gpus()
    check(gpus[0]["power_limit_w"] == 150 and gpus[1]["power_limit_w"] == ORIGINAL_W, "limits %s" % gpus)
    finish_with_chase_restore(w)


def case_permission_lost():
    """Permission is lost mid-run (GPU 0 refuses its third set): the other GPU is put back, GPU 0 is named."""
    w = World()
    w.env["FAKE_NVML_FAIL_SET"] = "0,2,NO_PERMISSION"
    prof = fake_profile(w)
    rc, rep, err, dt = w.chase(["--signal", w.signal, "--policy", "chase", "--eta", "0.7", "--period", "1s",
                                "--profile-file", prof] + w.forecast, plain_job(600, 0.01))
    check(rc == 1, "exit status %d, expected 1" % rc)
    check("not put back" in err and "GPU 0" in err, "stderr does not name GPU 0:\n" + err)
    gpus = w.gpus()
    check(gpus[1]["power_limit_w"] == ORIGINAL_W, "GPU 1 left at %g W" % gpus[1]["power_limit_w"])
    check(gpus[0]["power_limit_w"] != ORIGINAL_W, "the test never lowered GPU 0 (%s)" % gpus)
    finish_with_chase_restore(w)


def case_gpu_lost():
    """GPU 1 falls off the bus mid-run: chase stops control, puts GPU 0 back, names GPU 1, exits non-zero."""
    w = World()
    w.env["FAKE_NVML_LOSE_GPU"] = "1,16"  # after opening (about 12 calls) and a period or two
    rc, rep, err, dt = run_fixed(w, steps=300)
    check(rc == 1, "exit status %d, expected 1" % rc)
    check("GPU 1" in err and "lost" in err, "stderr does not say GPU 1 is lost:\n" + err)
    check(w.gpus()[0]["power_limit_w"] == ORIGINAL_W, "GPU 0 not restored")
    check(rep["error"] and "lost" in rep["error"], "report error %s" % rep["error"])


def case_slow_start():
    """Ctrl-C while NVML starts slowly: the command never starts, chase exits 130."""
    w = World()
    w.env["FAKE_NVML_INIT_DELAY_MS"] = "3000"
    marker = os.path.join(w.tmp, "ran")
    p = subprocess.Popen([os.environ["CHASE_BIN"], "run", "--signal", "static:300", "--policy", "max", "--",
                          "/bin/sh", "-c", "touch " + marker + "; sleep 30"], env=w.env, stderr=subprocess.PIPE,
                         text=True)
    time.sleep(1)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=30)
    check(p.returncode == 130, "exit status %d, expected 130: %s" % (p.returncode, err))
    check(not os.path.exists(marker), "the command started although chase was interrupted before")
    check("before the command started" in err, "stderr: %s" % err)


def case_visible_devices():
    """CUDA_VISIBLE_DEVICES=1 (by index, then by UUID): chase drives and bills GPU 1 only."""
    w = World()
    devs = json.loads(subprocess.run([os.environ["CHASE_BIN"], "devices", "--json", "-"], env=w.env,
                                     capture_output=True, text=True).stdout)["devices"]
    for visible in ("1", devs[1]["uuid"]):
        before = w.gpus()
        w.env["CUDA_VISIBLE_DEVICES"] = visible
        rc, rep, err, dt = run_fixed(w, steps=60)
        after = w.gpus()
        check(rc == 0, "exit status %d" % rc)
        check([g["index"] for g in rep["gpus"]] == [1], "CUDA_VISIBLE_DEVICES=%s: report GPUs %s" % (
            visible, [g["index"] for g in rep["gpus"]]))
        check(after[0]["set_calls"] == before[0]["set_calls"], "GPU 0 was set under CUDA_VISIBLE_DEVICES=%s" % visible)
        check(after[1]["set_calls"] > before[1]["set_calls"], "GPU 1 was never set")
        check(rep["total"]["energy_j"] < 1.1 * (after[1]["energy_j"] - before[1]["energy_j"]),
              "the report bills more than GPU 1 drew")
        check_restored(w)
    w.env["CUDA_VISIBLE_DEVICES"] = "MIG-GPU-1234/1/0"
    rc, rep, err, dt = run_fixed(w, steps=10)
    check(rc == 2 and "MIG" in err, "a MIG instance: exit %d, %s" % (rc, err))
    w.env["CUDA_VISIBLE_DEVICES"] = ""
    rc, rep, err, dt = run_fixed(w, steps=10)
    check(rc == 2 and "no GPU" in err, "empty CUDA_VISIBLE_DEVICES: exit %d, %s" % (rc, err))


def hanging_server():
    """A TCP server on localhost that accepts connections and never answers: a carbon API that stopped."""
    import socket
    import threading
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    held = []

    def serve():
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            held.append(conn)

    threading.Thread(target=serve, daemon=True).start()
    return srv, srv.getsockname()[1]


def case_hanging_api():
    """The carbon API hangs: SIGTERM still restores the limits and ends chase within 2 s; the spec's token never
    reaches the report and the API credentials never reach the command."""
    w = World()
    srv, port = hanging_server()
    w.env["ELECTRICITYMAPS_TOKEN"] = "env-secret-4711"
    envdump, mark = os.path.join(w.tmp, "env"), os.path.join(w.tmp, "training")
    job = plain_job(100000, 0.01, mark=mark, mark_at=20)
    job[-1] = ("import os; open(%r, 'w').write('\\n'.join(os.environ))\n" % envdump) + job[-1]
    spec = "electricitymaps:zone=DE,token=spec-secret-0815,url=http://127.0.0.1:%d,cache=%s/c.sqlite" % (port, w.tmp)
    timing = {}

    def on_start(p):
        wait_for(mark, p)
        wait_limit(w, p, 300)  # no carbon data: the safe policy runs at the top limit
        timing["t"] = time.monotonic()
        p.send_signal(signal.SIGTERM)

    rc, rep, err, dt = w.chase(["--signal", spec, "--policy", "budget", "--period", "1s", "--forecaster",
                                "persistence", "--profile-file", fake_profile(w)], job, on_start=on_start)
    took = time.monotonic() - timing.get("t", 0)
    srv.close()
    check(rc == 128 + signal.SIGTERM, "exit status %d: %s" % (rc, err))
    check(took < 2.0, "chase took %.2f s to restore and exit after SIGTERM with a hanging API" % took)
    check_restored(w, "after SIGTERM with a hanging API")
    check("spec-secret-0815" not in json.dumps(rep) and "spec-secret-0815" not in err, "the spec's token leaked")
    with open(envdump) as f:
        names = f.read().split("\n")
    check("ELECTRICITYMAPS_TOKEN" not in names, "the command inherited the API credentials")
    check("CHASE_PROGRESS" in names, "the command lost its own variables")


def case_burst():
    """A job that reports 3000 steps as fast as it can and exits: every step is counted."""
    w = World()
    rc, rep, err, dt = w.chase(["--signal", "static:300", "--policy", "max", "--period", "1s"],
                               plain_job(3000, 0, tail="time.sleep(0.2)"))
    check(rc == 0, "exit status %d" % rc)
    check(rep["progress"]["steps"] == 3000, "progress %s" % rep["progress"])
    check_accounting(rep, 3000)


CASES = {name[5:]: fn for name, fn in globals().items() if name.startswith("case_")}

if __name__ == "__main__":
    main(CASES)
