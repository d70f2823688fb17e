"""What the end-to-end tests of `chase run` share: a world of fake NVML GPUs and a carbon trace in a temp dir, and
the checks every case makes of a run report (accounting, restore, following the carbon signal)."""

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


def fake_profile(w, name="profile.json"):
    """Writes the fake job's own profile (see train_fake_gpu.py: throughput (min(pl,235)/235)^0.4, power
    min(pl,235)) as a --profile-file in w's temp dir and returns its path."""
    path = os.path.join(w.tmp, name)
    pts = [{"power_limit_w": pl, "throughput": 30 * (min(pl, 235) / 235) ** 0.4, "power_w": min(pl, 235)}
           for pl in (100, 150, 200, 250, 300)]
    with open(path, "w") as f:
        json.dump({"name": "fake-cnn", "gpu": "fake", "unit": "step", "points": pts}, f)
    return path


def plain_job(steps, sleep=0.02, samples=4, mark=None, mark_at=0, tail=""):
    """A training loop in plain Python (no torch) that reports through the chase package; with mark, it creates
    that file after mark_at steps, so a test knows the job trains under chase. tail: code run after the loop."""
    pkg = os.path.join(os.environ["CHASE_SOURCE_DIR"], "python")
    code = ("import sys,time; sys.path.insert(0, %r); import chase\n"
            "for i in range(%d):\n"
            "    time.sleep(%g); chase.step(%d)\n"
            "    if %r and i + 1 == %d: open(%r, 'w').close()\n"
            "%s\n") % (pkg, steps, sleep, samples, mark, mark_at, mark or "", tail)
    return [PY, "-c", code]


def wait_for(path, proc, timeout=60):
    """Waits until path exists (the job trains); fails when proc ends first or after timeout seconds."""
    t_end = time.monotonic() + timeout
    while time.monotonic() < t_end:
        if os.path.exists(path):
            return
        if proc.poll() is not None:
            fail("chase ended before the job started training")
        time.sleep(0.05)
    proc.kill()
    fail("the job never started training")


def wait_limit(w, proc, watts, timeout=60):
    """Waits until every GPU holds watts (chase applied its decision); fails when proc ends first or on timeout."""
    t_end = time.monotonic() + timeout
    while time.monotonic() < t_end:
        if all(g["power_limit_w"] == watts for g in w.gpus()):
            return
        if proc.poll() is not None:
            fail("chase ended before it set the GPUs to %g W" % watts)
        time.sleep(0.05)
    proc.kill()
    fail("the GPUs never reached %g W" % watts)


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


def main(cases):
    """Runs the case named by argv[1] among cases (a dict of name: function); exit 77 when it cannot run here."""
    if len(sys.argv) != 2 or sys.argv[1] not in cases:
        print("usage: %s CASE (%s)" % (os.path.basename(sys.argv[0]), ", ".join(sorted(cases))))
        sys.exit(2)
    for v in ("CHASE_BIN", "CHASE_NVML_LIBRARY", "FAKE_NVML_STATE_TOOL", "CHASE_SOURCE_DIR"):
        if not os.environ.get(v):
            skip("%s is not set (run through ctest)" % v)
    if not os.path.exists(os.environ["CHASE_NVML_LIBRARY"]):
        skip("the fake NVML library was not built")
    try:
        cases[sys.argv[1]]()
    except Failed:
        sys.exit(1)
