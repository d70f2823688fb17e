#!/usr/bin/python3
"""A strict checker of Prometheus's text exposition format (version 0.0.4), as node_exporter's textfile collector
reads a .prom file, and of the naming rules `promtool check metrics` applies (promlint). Debian 12 packages promtool
only inside the whole Prometheus server (a daemon that starts on install), so the tests check with this instead; when
promtool is on PATH, check_file() runs it too.

Stricter than Prometheus where chase's own files should be: no timestamps (the textfile collector refuses them),
every family with HELP and TYPE before its samples, no empty label set "{}" and no trailing comma.

Usage: prom_check.py FILE...     (exit 1 naming the file, line and rule at fault)
       prom_check.py --selftest   (the checker rejects each kind of bad file it should)
"""

import math
import re
import shutil
import subprocess
import sys

NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
# Go's ParseFloat as Prometheus writes values: decimal or exponent form, NaN, +Inf, -Inf.
VALUE = re.compile(r"(?:[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|NaN|[+-]Inf)\Z")
TYPES = ("counter", "gauge", "histogram", "summary", "untyped")
BASE_UNITS = {"minutes": "seconds", "hours": "seconds", "days": "seconds", "weeks": "seconds",
              "kelvins": "kelvin", "fahrenheit": "celsius", "rankine": "celsius", "inches": "meters",
              "yards": "meters", "miles": "meters", "bits": "bytes", "calories": "joules", "pounds": "grams",
              "ounces": "grams"}
KNOWN_UNITS = ("amperes", "bytes", "celsius", "grams", "joules", "kelvin", "meters", "metres", "seconds", "volts")
PREFIXES = ("pico", "nano", "micro", "milli", "centi", "deci", "deca", "hecto", "kilo", "kibi", "mega", "mibi",
            "giga", "gibi", "tera", "tebi", "peta", "pebi")
ABBREVIATIONS = ("s", "ms", "us", "ns", "sec", "b", "kb", "mb", "gb", "tb", "pb", "m", "h", "d")


class PromError(Exception):
    pass


def unescape(text, allowed, lineno, what):
    """Undoes the format's escapes; a backslash before anything but the allowed characters is an error."""
    out, i = [], 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            if i + 1 >= len(text) or text[i + 1] not in allowed:
                raise PromError("line %d: bad escape in %s: %r" % (lineno, what, text[i:i + 2]))
            out.append("\n" if text[i + 1] == "n" else text[i + 1])
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def parse_labels(text, lineno):
    """text starts after '{'; returns (labels dict, rest after '}')."""
    labels, i = {}, 0
    while True:
        m = re.match(r"([a-zA-Z_][a-zA-Z0-9_]*)=\"", text[i:])
        if not m:
            raise PromError("line %d: expected label=\"value\" at %r" % (lineno, text[i:i + 30]))
        name = m.group(1)
        if name.startswith("__"):
            raise PromError("line %d: label %s: names starting with __ are reserved" % (lineno, name))
        if name in labels:
            raise PromError("line %d: label %s given twice" % (lineno, name))
        i += m.end()
        j = i
        while j < len(text) and text[j] != '"':
            j += 2 if text[j] == "\\" else 1
        if j >= len(text):
            raise PromError("line %d: label %s: unterminated value" % (lineno, name))
        raw = text[i:j]
        if "\n" in raw:
            raise PromError("line %d: label %s: raw line break in the value" % (lineno, name))
        labels[name] = unescape(raw, '\\"n', lineno, "label " + name)
        i = j + 1
        if text[i:i + 1] == ",":
            i += 1
            if text[i:i + 1] == "}":
                raise PromError("line %d: trailing comma in the label set" % lineno)
            continue
        if text[i:i + 1] == "}":
            return labels, text[i + 1:]
        raise PromError("line %d: expected ',' or '}' after label %s" % (lineno, name))


def family_of(sample_name, families):
    """The family a sample belongs to: itself, or a histogram/summary whose _sum/_count/_bucket it is."""
    for suffix in ("_bucket", "_sum", "_count"):
        base = sample_name[:-len(suffix)]
        if sample_name.endswith(suffix) and families.get(base, {}).get("type") in ("histogram", "summary"):
            return base
    return sample_name


def parse(text):
    """Families {name: {"type", "help", "samples": [(labels, value)]}}; PromError on the first fault."""
    if not text.endswith("\n"):
        raise PromError("the file does not end with a line break")
    families, order, series, closed, current = {}, [], set(), set(), None
    for lineno, line in enumerate(text.split("\n")[:-1], 1):
        if line.strip() == "":
            continue
        if line.startswith("#"):
            m = re.match(r"#[ \t]+(HELP|TYPE)[ \t]+(\S+)(?:[ \t]+(.*))?\Z", line)
            if not m:
                continue  # a plain comment
            kind, name, rest = m.group(1), m.group(2), m.group(3) or ""
            if not NAME.match(name):
                raise PromError("line %d: bad metric name %r" % (lineno, name))
            fam = families.setdefault(name, {"type": None, "help": None, "samples": []})
            if name in closed or (current not in (None, name) and fam["samples"]):
                raise PromError("line %d: %s %s after the family's samples ended" % (lineno, kind, name))
            if kind == "HELP":
                if fam["help"] is not None:
                    raise PromError("line %d: second HELP for %s" % (lineno, name))
                fam["help"] = unescape(rest, "\\n", lineno, "HELP of " + name)
            else:
                if fam["type"] is not None:
                    raise PromError("line %d: second TYPE for %s" % (lineno, name))
                if fam["samples"]:
                    raise PromError("line %d: TYPE for %s after its samples" % (lineno, name))
                if rest not in TYPES:
                    raise PromError("line %d: unknown type %r for %s" % (lineno, rest, name))
                fam["type"] = rest
            if current is not None and current != name:
                closed.add(current)
            current = name
            if name not in order:
                order.append(name)
            continue
        m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(.*)\Z", line)
        if not m:
            raise PromError("line %d: expected a sample, got %r" % (lineno, line[:40]))
        name, rest = m.group(1), m.group(2)
        labels = {}
        if rest.startswith("{"):
            if rest.startswith("{}"):
                raise PromError("line %d: empty label set" % lineno)
            labels, rest = parse_labels(rest[1:], lineno)
        parts = rest.split()
        if not rest[:1] in (" ", "\t") or len(parts) == 0:
            raise PromError("line %d: %s has no value" % (lineno, name))
        if len(parts) > 1:
            raise PromError("line %d: %s has a timestamp or trailing text %r (the textfile collector refuses "
                            "timestamps)" % (lineno, name, " ".join(parts[1:])))
        if not VALUE.match(parts[0]):
            raise PromError("line %d: %s: bad value %r" % (lineno, name, parts[0]))
        value = float(parts[0].replace("Inf", "inf"))
        fname = family_of(name, families)
        fam = families.get(fname)
        if fam is None or fam["type"] is None or fam["help"] is None:
            raise PromError("line %d: sample of %s before its HELP and TYPE" % (lineno, fname))
        if fname in closed or current != fname:
            raise PromError("line %d: sample of %s outside its family's group" % (lineno, fname))
        key = (name, tuple(sorted(labels.items())))
        if key in series:
            raise PromError("line %d: %s%s given twice" % (lineno, name, labels or ""))
        series.add(key)
        if fam["type"] == "counter" and not (value >= 0 or math.isnan(value)):
            raise PromError("line %d: counter %s is negative (%s)" % (lineno, name, parts[0]))
        fam["samples"].append((labels, value))
    return families


def metric_units(name):
    for part in name.split("_"):
        if part in KNOWN_UNITS or part in BASE_UNITS:
            return part, BASE_UNITS.get(part, part)
        for p in PREFIXES:
            rest = part[len(p):]
            if part.startswith(p) and (rest in KNOWN_UNITS or rest in BASE_UNITS):
                return part, BASE_UNITS.get(rest, rest)
    return None, None


def lint(families):
    """The naming problems promtool check metrics reports, as a list of strings."""
    problems = []
    for name, fam in families.items():
        t = fam["type"]
        if not fam["help"]:
            problems.append("%s: no help text" % name)
        if t == "counter" and not name.endswith("_total"):
            problems.append('%s: counter metrics should have "_total" suffix' % name)
        if t not in ("counter", "untyped") and name.endswith("_total"):
            problems.append('%s: non-counter metrics should not have "_total" suffix' % name)
        if t not in ("gauge", "untyped") and name.endswith("_timestamp_seconds"):
            problems.append('%s: non-gauge metrics should not have "_timestamp_seconds" suffix' % name)
        if t not in ("histogram", "summary"):
            for suffix in ("_count", "_sum", "_bucket"):
                if name.endswith(suffix):
                    problems.append("%s: non-histogram and non-summary metrics should not have %r suffix"
                                    % (name, suffix))
            for labels, _ in fam["samples"]:
                for reserved in ("le", "quantile"):
                    if reserved in labels:
                        problems.append("%s: label %r is reserved for histograms and summaries" % (name, reserved))
        unit, base = metric_units(name)
        if unit and unit != base:
            problems.append("%s: use base unit %r instead of %r" % (name, base, unit))
        low = name.lower()
        for typename in ("counter", "gauge", "histogram", "summary"):
            if "_%s_" % typename in low or low.endswith("_" + typename):
                problems.append("%s: metric name should not include type %r" % (name, typename))
        if ":" in name:
            problems.append("%s: metric names should not contain ':'" % name)
        if re.search(r"[a-z][A-Z]", name):
            problems.append("%s: metric names should be written in snake_case" % name)
        for labels, _ in fam["samples"]:
            for label in labels:
                if re.search(r"[a-z][A-Z]", label):
                    problems.append("%s: label %s should be snake_case" % (name, label))
        for a in ABBREVIATIONS:
            if "_%s_" % a in low or low.endswith("_" + a):
                problems.append("%s: metric names should not contain abbreviated units" % name)
    return problems


def check_text(text):
    """Families of text; PromError when the format is broken or a naming rule is not kept."""
    families = parse(text)
    problems = lint(families)
    if problems:
        raise PromError("; ".join(sorted(set(problems))))
    return families


def check_file(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        families = check_text(text)
    except PromError as e:
        raise PromError("%s: %s" % (path, e))
    promtool = shutil.which("promtool")
    if promtool:
        r = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True)
        if r.returncode != 0:
            raise PromError("%s: promtool check metrics: %s%s" % (path, r.stdout, r.stderr))
    return families


GOOD = """# HELP x_joules_total Energy.
# TYPE x_joules_total counter
x_joules_total{run="a",gpu="0"} 12.5
x_joules_total{run="a",gpu="1"} 1e+06
# HELP x_info Info, with a \\\\ and a \\n.
# TYPE x_info gauge
x_info{run="a \\"quoted\\" \\\\ and\\nnewline"} 1
"""

BAD = [
    ("no final line break", GOOD.rstrip("\n")),
    ("sample before TYPE", "x_g 1\n# HELP x_g H.\n# TYPE x_g gauge\n"),
    ("no HELP", "# TYPE x_g gauge\nx_g 1\n"),
    ("second TYPE", "# HELP x_g H.\n# TYPE x_g gauge\n# TYPE x_g gauge\nx_g 1\n"),
    ("unknown type", "# HELP x_g H.\n# TYPE x_g meter\nx_g 1\n"),
    ("bad name", "# HELP 1x H.\n# TYPE 1x gauge\n1x 1\n"),
    ("bad label escape", '# HELP x_g H.\n# TYPE x_g gauge\nx_g{a="\\t"} 1\n'),
    ("unterminated label", '# HELP x_g H.\n# TYPE x_g gauge\nx_g{a="b} 1\n'),
    ("trailing comma", '# HELP x_g H.\n# TYPE x_g gauge\nx_g{a="b",} 1\n'),
    ("duplicate label", '# HELP x_g H.\n# TYPE x_g gauge\nx_g{a="b",a="c"} 1\n'),
    ("reserved label", '# HELP x_g H.\n# TYPE x_g gauge\nx_g{__a="b"} 1\n'),
    ("duplicate series", '# HELP x_g H.\n# TYPE x_g gauge\nx_g{a="b"} 1\nx_g{a="b"} 2\n'),
    ("timestamp", "# HELP x_g H.\n# TYPE x_g gauge\nx_g 1 1700000000000\n"),
    ("bad value", "# HELP x_g H.\n# TYPE x_g gauge\nx_g nan\n"),
    ("no value", "# HELP x_g H.\n# TYPE x_g gauge\nx_g\n"),
    ("split family", "# HELP x_g H.\n# TYPE x_g gauge\nx_g{a=\"1\"} 1\n# HELP y_g H.\n# TYPE y_g gauge\ny_g 1\n"
                     "x_g{a=\"2\"} 1\n"),
    ("negative counter", "# HELP x_total H.\n# TYPE x_total counter\nx_total -1\n"),
    ("counter without _total", "# HELP x_joules H.\n# TYPE x_joules counter\nx_joules 1\n"),
    ("gauge with _total", "# HELP x_total H.\n# TYPE x_total gauge\nx_total 1\n"),
    ("non-base unit", "# HELP x_minutes H.\n# TYPE x_minutes gauge\nx_minutes 1\n"),
    ("abbreviated unit", "# HELP x_ms H.\n# TYPE x_ms gauge\nx_ms 1\n"),
    ("camelCase", "# HELP xJoules H.\n# TYPE xJoules gauge\nxJoules 1\n"),
    ("type in name", "# HELP x_gauge H.\n# TYPE x_gauge gauge\nx_gauge 1\n"),
    ("empty HELP", "# HELP x_g\n# TYPE x_g gauge\nx_g 1\n"),
]


def selftest():
    fams = check_text(GOOD)
    assert fams["x_info"]["samples"][0][0]["run"] == 'a "quoted" \\ and\nnewline', fams["x_info"]
    assert fams["x_info"]["help"] == "Info, with a \\ and a \n.", fams["x_info"]["help"]
    assert [v for _, v in fams["x_joules_total"]["samples"]] == [12.5, 1e6]
    failed = 0
    for what, text in BAD:
        try:
            check_text(text)
        except PromError as e:
            print("rejected %-24s %s" % (what + ":", e))
            continue
        print("FAIL: accepted a file with %s" % what)
        failed += 1
    return failed


def main(argv):
    if argv == ["--selftest"]:
        sys.exit(1 if selftest() else 0)
    if not argv:
        print(__doc__)
        sys.exit(2)
    for path in argv:
        try:
            fams = check_file(path)
        except (PromError, OSError, UnicodeDecodeError) as e:
            print("FAIL: %s" % e)
            sys.exit(1)
        print("%s: %d families, %d samples" % (path, len(fams), sum(len(f["samples"]) for f in fams.values())))


if __name__ == "__main__":
    main(sys.argv[1:])
