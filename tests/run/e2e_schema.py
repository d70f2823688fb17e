#!/usr/bin/python3
"""The run report holds exactly the fields docs/run.md documents, with their types; and the promises of `chase run`
that no other test covers: --report -, --quiet, a saved profile reused, --gpus subsets, --total-steps, stale CI.

Usage: e2e_schema.py CASE (the case_* functions below)."""

import json
import os
import re
import subprocess

from e2e_common import *  # noqa: F401,F403 (World, check, fail, plain_job, ...)

TYPES = {"number": (int, float), "string": str, "boolean": bool, "array": list, "object": dict}


def documented_fields(doc="run.md"):
    """{path: [allowed types]} from the field table of docs/DOC ("a.b", "a[].b" for array elements)."""
    with open(os.path.join(os.environ["CHASE_SOURCE_DIR"], "docs", doc)) as f:
        text = f.read()
    fields = {}
    for m in re.finditer(r"^\| `([a-z_.\[\]]+)` \| ([a-z ]+?) \|", text, re.M):
        kinds = [k.strip() for k in m.group(2).split(" or ")]
        check(all(k in TYPES or k == "null" for k in kinds), "docs/run.md: unknown type %r" % m.group(2))
        fields[m.group(1)] = kinds
    check(len(fields) > 20, "docs/%s: the field table was not found (%d rows)" % (doc, len(fields)))
    return fields


def walk(value, path, out):
    """Every (path, value) under value: object members as "a.b", members of array elements as "a[].b"."""
    if isinstance(value, dict):
        for k, v in value.items():
            child = (path + "." if path else "") + k
            out.append((child, v))
            walk(v, child, out)
    elif isinstance(value, list):
        for v in value:
            walk(v, path + "[]", out)


def type_ok(value, kinds):
    if value is None:
        return "null" in kinds
    return any(isinstance(value, TYPES[k]) and not (k == "number" and isinstance(value, bool))
               for k in kinds if k != "null")


def case_fields():
    """Every documented field is in a real report with its type, and every field of the report is documented."""
    doc = documented_fields()
    w = World()
    rc, rep, err, dt = w.chase(["--signal", w.signal, "--policy", "chase", "--period", "1s", "--total-steps", "200",
                                "--profile-file", fake_profile(w)] + w.forecast, plain_job(200, 0.01))
    check(rc == 0, "exit status %d" % rc)
    seen = {}
    items = []
    walk(rep, "", items)
    for path, value in items:
        seen.setdefault(path, []).append(value)
        if path.startswith("policy_info.") and path != "policy_info.note":
            check(isinstance(value, (int, float)) or value is None, "%s is not a number" % path)
            continue  # each policy names its own values
        check(path in doc, "the report has %s, which docs/run.md does not document" % path)
        check(type_ok(value, doc.get(path, [])), "%s = %r is not %s" % (path, value, doc.get(path)))
    for path in doc:
        check(path in seen, "docs/run.md documents %s, which the report lacks" % path)
    check(rep["total_steps"] == 200 and rep["policy_info"]["max_ci_g_per_kwh"] > 0, "total_steps/policy_info")
    # The mean limit is time-weighted: recompute it from the periods.
    periods = rep["periods"]
    t = sum(p["end"] - p["start"] for p in periods)
    mean = sum(p["power_limit_w"] * (p["end"] - p["start"]) for p in periods) / t
    check(near(rep["total"]["mean_power_limit_w"], mean, 1e-9), "mean_power_limit_w %s, time-weighted %s" % (
        rep["total"]["mean_power_limit_w"], mean))
    check(rep["progress"]["messages"] >= 1 and rep["progress"]["messages"] <= 200, "messages %s" % rep["progress"])
    check(rep["profile_source"] == "file", "profile_source %s" % rep["profile_source"])
    check(all(g["original_power_limit_w"] == ORIGINAL_W and g["restored"] for g in rep["gpus"]), "gpus %s" % rep["gpus"])
    check(rep["error"] is None and rep["backend"] == "nvml", "error %s backend %s" % (rep["error"], rep["backend"]))


def check_against_doc(rep, doc, free=()):
    """Every field of rep is documented in docs/DOC with its type, and every documented field is in rep; paths
    under a prefix in free are the report's own to name (numbers)."""
    fields = documented_fields(doc)
    items = []
    walk(rep, "", items)
    seen = set()
    for path, value in items:
        seen.add(path)
        if any(path.startswith(p) for p in free):
            check(isinstance(value, (int, float)) or value is None, "%s is not a number" % path)
            continue
        check(path in fields, "the report has %s, which docs/%s does not document" % (path, doc))
        check(type_ok(value, fields.get(path, [])), "%s = %r is not %s" % (path, value, fields.get(path)))
    for path in fields:
        check(path in seen, "docs/%s documents %s, which the report lacks" % (doc, path))


def case_simulate_fields():
    """chase simulate --json -: JSON alone on stdout, with exactly the fields docs/simulate.md documents."""
    r = subprocess.run([os.environ["CHASE_BIN"], "simulate", "--grid", "se-hydro", "--hours", "24", "--policy",
                        "max,static,budget,oracle", "--json", "-"], capture_output=True, text=True, timeout=120)
    check(r.returncode == 0, "exit status %d: %s" % (r.returncode, r.stderr))
    rep = json.loads(r.stdout)  # nothing but the JSON: the table is not printed
    check_against_doc(rep, "simulate.md")
    check([x["policy"] for x in rep["results"]] == ["max", "static", "budget", "oracle"], "results %s" % rep)
    for x in rep["results"]:
        check(near(x["efficiency_part_pct"] + x["timing_part_pct"], x["carbon_saving_pct"], 1e-9, 1e-9),
              "the split does not add up for %s" % x["policy"])


def case_stdout_quiet():
    """--report - writes the report alone on stdout; --quiet keeps stderr to the summary."""
    w = World()
    r = subprocess.run([os.environ["CHASE_BIN"], "run", "--report", "-", "--quiet", "--signal", "static:300",
                        "--policy", "fixed:200", "--period", "1s", "--"] + plain_job(120, 0.01),
                       env=w.env, capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, "exit status %d: %s" % (r.returncode, r.stderr))
    rep = json.loads(r.stdout)  # nothing but the report
    check_accounting(rep, 120)
    lines = [l for l in r.stderr.splitlines() if l]
    check(len(lines) == 1 and "gCO2eq" in lines[0], "--quiet still printed:\n" + r.stderr)
    check_restored(w)


def case_profile_reuse():
    """A profile measured online and saved is used by the next run, which then does not profile again."""
    w = World()
    prof = os.path.join(w.tmp, "saved.json")
    opts = ["--signal", "static:300", "--policy", "chase", "--period", "1s", "--profile-file", prof,
            "--warmup-steps", "3", "--profile-steps", "6", "--pl-step", "100"]
    rc, rep, err, dt = w.chase(opts, plain_job(150, 0.01))
    check(rc == 0 and rep["profile_source"] == "online" and os.path.exists(prof), "first run: %s" % err)
    with open(prof) as f:
        saved = json.load(f)
    rc, rep2, err, dt = w.chase(opts, plain_job(60, 0.01))
    check(rc == 0 and rep2["profile_source"] == "file", "second run profile_source %s" % rep2["profile_source"])
    check(not any(p["phase"] == "profile" for p in rep2["periods"]), "the second run profiled again")
    check([p["power_limit_w"] for p in rep2["profile"]["points"]] ==
          sorted(p["power_limit_w"] for p in saved["points"]), "the second run used another profile")
    check_restored(w)


def case_gpus_subset():
    """--gpus 1 drives GPU 1 only; GPU 0 is never set."""
    w = World()
    before = w.gpus()
    rc, rep, err, dt = w.chase(["--signal", "static:300", "--policy", "fixed:150", "--period", "1s", "--gpus", "1"],
                               plain_job(100, 0.01))
    after = w.gpus()
    check(rc == 0, "exit status %d" % rc)
    check([g["index"] for g in rep["gpus"]] == [1], "report GPUs %s" % rep["gpus"])
    check(after[0]["set_calls"] == before[0]["set_calls"], "GPU 0 was set")
    check(after[1]["set_calls"] > before[1]["set_calls"], "GPU 1 was never set")
    check_restored(w)


def case_stale():
    """The trace ends while the job runs: the last good CI carries on, flagged stale, and is said once."""
    w = World()
    trace = os.path.join(w.tmp, "short.csv")
    with open(trace, "w") as f:
        f.write("time,ci\n" + "".join("2021-01-01T%02d:%02d:00Z,%d\n" % (h, m, 200 + h)
                                      for h in range(3) for m in (0, 30)))
    rc, rep, err, dt = w.chase(["--signal", "trace:%s,start=2021-01-01T02:00:00Z,speed=1800" % trace,
                                "--policy", "fixed:200", "--period", "1s", "--forecaster", "persistence"],
                               plain_job(400, 0.01))
    check(rc == 0, "exit status %d: %s" % (rc, err))
    stale = [p["stale"] for p in rep["periods"]]
    check(any(stale) and not stale[0], "stale flags %s" % stale)
    check(all(p["ci_g_per_kwh"] is not None for p in rep["periods"]), "a period lost its CI")
    check_accounting(rep, 400)


CASES = {name[5:]: fn for name, fn in globals().items() if name.startswith("case_")}

if __name__ == "__main__":
    main(CASES)
