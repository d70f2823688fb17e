#!/usr/bin/env python3
"""Derives chase's built-in grid models from public carbon-intensity traces and prints them as a C table.

Usage: python3 tools/derive_gridmodels.py ../shared/data > src/signal/gridmodel_data.c

For each model it reads one hourly trace (empty values are gaps and are skipped) and derives:
  * level[m][h]: a smooth seasonal-diurnal mean, by month (12) and UTC hour (24). The stored values are the knots of
    a curve that is linear between mid-month points and whose average over each month equals the observed mean of
    that month and hour (so generation, which interpolates between knots, keeps the monthly means).
  * sd[m][h]: the standard deviation of the residual (observed minus that curve) by month and hour.
  * the standardised residual's autocorrelation, fitted over lags 1..48 h as a mix of a slow, smooth AR(2) (roots a,
    c: the multi-day weather swings of wind, hydro, cloudy spells) and a fast AR(1) (b: hour-to-hour noise):
    rho(k) = w * ar2(a, c; k) + (1 - w) * b**k.
  * a persistent volatility (power q, persistence psi) that makes the residual move in bursts as real grids do,
    calibrated by simulation to the observed mean hourly change and mean daily range of the residual.
  * a floor and a ceiling for clamping (0.9 x the lowest and 1.1 x the highest observed value; the floor is >= 1).
No value of the source is copied; only these statistics are written.
Plain Python 3 standard library, deterministic output.
"""

import csv
import datetime as dt
import math
import os
import random
import sys

# name, source file (relative to the data folder), column, source and licence, summary (one line)
MODELS = [
    ("us-caiso-solar", "carbon/dacf-CISO-2020-2021.csv", "ci",
     "DACF (Maji et al., e-Energy '22), github carbonfirst/DACF, Apache-2.0",
     "California (CAISO): solar-driven, deep midday dip, gas at night; from DACF CISO 2020-2021"),
    ("us-ercot-wind", "carbon/eia-ERCO-2022.csv", "ci",
     "US EIA generation data via github HewlettPackard/dc-rl, MIT",
     "Texas (ERCOT): gas and much wind, lowest at night when wind peaks; from EIA ERCO 2022"),
    ("de-wind", "carbon/dacf-forecast-DE-2021H2.csv", "actual",
     "DACF (Maji et al., e-Energy '22), github carbonfirst/DACF, Apache-2.0",
     "Germany: coal/gas swung by wind and solar; from DACF DE Jul-Dec 2021, Jan-Jun mirrored"),
    ("se-hydro", "carbon/dacf-SE-2020-2021.csv", "ci",
     "DACF (Maji et al., e-Energy '22), github carbonfirst/DACF, Apache-2.0",
     "Sweden: hydro and nuclear, very low and flat CI; from DACF SE 2020-2021"),
    ("us-bpa-hydro", "carbon/eia-BPAT-2022.csv", "ci",
     "US EIA generation data via github HewlettPackard/dc-rl, MIT",
     "Pacific Northwest (BPA): hydro, lowest in the May-June snowmelt; from EIA BPAT 2022"),
    ("us-miso-fossil", "carbon/eia-MISO-2022.csv", "ci",
     "US EIA generation data via github HewlettPackard/dc-rl, MIT",
     "Midwest (MISO): coal and gas, high CI, dips when wind blows (mostly at night); from EIA MISO 2022"),
    ("us-pjm-mixed", "carbon/dacf-PJM-2020-2021.csv", "ci",
     "DACF (Maji et al., e-Energy '22), github carbonfirst/DACF, Apache-2.0",
     "Mid-Atlantic (PJM): nuclear, gas and coal mix, moderate and steady CI; from DACF PJM 2020-2021"),
]

MAX_LAG = 48
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
POWER_GRID = [i * 0.5 for i in range(9)]  # volatility power q: 0 (Gaussian) .. 4
PSI_GRID = (0.0, 0.5, 0.8, 0.9, 0.95)


def read_trace(path, column):
    """Returns a list of (datetime UTC, value or None) for an hourly CSV with a header."""
    rows = []
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        if column not in header:
            sys.exit(f"{path}: no column '{column}' in header {header}")
        ci = header.index(column)
        ti = header.index("time")
        for lineno, row in enumerate(reader, start=2):
            t = dt.datetime.fromisoformat(row[ti].replace("Z", "+00:00")).astimezone(dt.timezone.utc)
            v = row[ci].strip() if ci < len(row) else ""
            if v == "":
                rows.append((t, None))
                continue
            x = float(v)
            if not math.isfinite(x) or x < 0:
                sys.exit(f"{path}:{lineno}: bad value '{v}'")
            rows.append((t, x))
    for (t0, _), (t1, _) in zip(rows, rows[1:]):
        if (t1 - t0) != dt.timedelta(hours=1):
            sys.exit(f"{path}: not hourly at {t0.isoformat()} -> {t1.isoformat()}")
    return rows


def month_position(t):
    """Position in months from mid-January: knot m sits at the middle of month m (0-based), as in gridmodel.c."""
    if t.month == 12:
        nxt = dt.datetime(t.year + 1, 1, 1, tzinfo=dt.timezone.utc)
    else:
        nxt = dt.datetime(t.year, t.month + 1, 1, tzinfo=dt.timezone.utc)
    first = dt.datetime(t.year, t.month, 1, tzinfo=dt.timezone.utc)
    days = (nxt - first).days
    frac = ((t - first).total_seconds() / 3600.0 + 0.5) / (days * 24.0)  # middle of the hour
    return (t.month - 1) + frac - 0.5


def interp(knots, t):
    """Value at time t of the curve through knots[12] (one per month), linear between mid-month points, cyclic."""
    p = month_position(t)
    m0 = math.floor(p)
    f = p - m0
    return (1.0 - f) * knots[m0 % 12] + f * knots[(m0 + 1) % 12]


def mean_preserving_knots(cell):
    """Knots v such that the month average of the interpolated curve, (v[m-1] + 6 v[m] + v[m+1]) / 8, is cell[m]."""
    v = list(cell)
    for _ in range(200):  # Jacobi iteration; the system is diagonally dominant (6 > 1 + 1)
        v = [(8.0 * cell[m] - v[(m - 1) % 12] - v[(m + 1) % 12]) / 6.0 for m in range(12)]
    return v


def mirror_missing_months(cells, name):
    """A half-year source has no data for some months: take the month mirrored about the solstice (Jan<-Dec,
    Feb<-Nov, ..., Jun<-Jul, and the reverse), which has the same day length. Returns the filled months."""
    filled = []
    for m in range(12):
        if cells[m] is None:
            src = 11 - m
            if cells[src] is None:
                sys.exit(f"{name}: neither month {m + 1} nor its mirror {src + 1} has data")
            cells[m] = list(cells[src])
            filled.append(m + 1)
    return filled


def sample_acf(z, max_lag):
    """Sample autocorrelation of z (None = gap) at lags 1..max_lag, over the pairs where both values exist."""
    n = len(z)
    var = sum(x * x for x in z if x is not None) / sum(1 for x in z if x is not None)
    rho = []
    for k in range(1, max_lag + 1):
        s = 0.0
        c = 0
        for i in range(n - k):
            a, b = z[i], z[i + k]
            if a is not None and b is not None:
                s += a * b
                c += 1
        rho.append(s / c / var)
    return rho


def ar2_acf(a, c, max_lag):
    """Autocorrelation at lags 1..max_lag of the AR(2) process with real roots a > c >= 0."""
    return [(a * (1 - c * c) * a ** k - c * (1 - a * a) * c ** k) / ((a - c) * (1 + a * c))
            for k in range(1, max_lag + 1)]


def model_acf(th, max_lag):
    w, a, c, b = th
    slow = ar2_acf(a, c, max_lag)
    return [w * s + (1 - w) * b ** k for k, s in zip(range(1, max_lag + 1), slow)]


def acf_loss(th, rho):
    """Squared error of log(1 - rho): the structure function 1 - rho(k) sets how far the residual moves in k
    hours, so short lags (small 1 - rho) must be matched in relative terms, not absolute ones."""
    w, a, c, b = th
    if not (0.0 <= w <= 1.0 and 0.0 < a <= 0.998 and 0.0 <= c <= a - 0.001 and 0.0 <= b <= 0.99):
        return float("inf")
    return sum((math.log(max(1.0 - m, 1e-12)) - math.log(max(1.0 - r, 1e-12))) ** 2
               for m, r in zip(model_acf(th, len(rho)), rho))


def fit_acf(rho):
    """Fits rho(k) = w * slow(k) + (1 - w) * b**k, slow an AR(2) with roots a, c (smooth multi-day swings) and
    b**k a fast AR(1) (hour-to-hour noise): a coarse start grid, then a pattern search. Returns (w, a, c, b, rmse)."""
    best = None
    for w in (0.5, 0.8, 0.95):
        for a in (0.95, 0.98, 0.995):
            for c in (0.3, 0.8):
                for b in (0.3, 0.8):
                    th = [w, a, c, b]
                    loss = acf_loss(th, rho)
                    if best is None or loss < best[0]:
                        best = (loss, th)
    loss, th = best
    steps = [0.05, 0.005, 0.05, 0.05]
    while max(steps) > 1e-5:
        improved = False
        for i in range(4):
            for sign in (1, -1):
                t2 = list(th)
                t2[i] += sign * steps[i]
                l2 = acf_loss(t2, rho)
                if l2 < loss:
                    loss, th, improved = l2, t2, True
        if not improved:
            steps = [s / 2 for s in steps]
    rmse = math.sqrt(sum((m - r) ** 2 for m, r in zip(model_acf(th, len(rho)), rho)) / len(rho))
    return th[0], th[1], th[2], th[3], rmse


def abs_normal_moment(q):
    """E|h|^q for a standard normal h (the same formula is in gridmodel.c)."""
    return 2 ** (q / 2) * math.gamma((q + 1) / 2) / math.sqrt(math.pi)


def simulate_z(rng, w, a, c, b, q, psi, n):
    """The standardised residual as gridmodel.c generates it (same equations, Python's PRNG)."""
    p1, p2 = a + c, -a * c
    r1 = p1 / (1 - p2)
    ve = 1 - p1 * r1 - p2 * (p1 * r1 + p2)
    vol_norm = 1.0 / math.sqrt(abs_normal_moment(q))
    s1 = rng.gauss(0, 1)
    s0 = r1 * s1 + math.sqrt(1 - r1 * r1) * rng.gauss(0, 1)
    f = rng.gauss(0, 1)
    h = rng.gauss(0, 1)
    out = []
    for _ in range(n):
        h = psi * h + math.sqrt(1 - psi * psi) * rng.gauss(0, 1)
        vol = abs(h) ** (0.5 * q) * vol_norm
        s = p1 * s0 + p2 * s1 + math.sqrt(ve) * vol * rng.gauss(0, 1)
        s1, s0 = s0, s
        f = b * f + math.sqrt(1 - b * b) * vol * rng.gauss(0, 1)
        out.append(math.sqrt(w) * s + math.sqrt(1 - w) * f)
    return out


def roughness_moments(z):
    """(mean |change| over one hour, mean range within 24-hour blocks) of z (None = gap)."""
    dz = [y - x for x, y in zip(z, z[1:]) if x is not None and y is not None]
    step = sum(abs(d) for d in dz) / len(dz)
    ranges = []
    for i in range(0, len(z) - 23, 24):
        block = z[i:i + 24]
        if all(x is not None for x in block):
            ranges.append(max(block) - min(block))
    return step, sum(ranges) / len(ranges)


def fit_volatility(z, w, a, c, b):
    """Real residuals move in bursts: calm spells with tiny hourly changes, then fronts and ramps. A Gaussian
    process with the same autocorrelation is too evenly rough and overstates the daily swing. The innovations are
    therefore scaled by |h|^(q/2) / sqrt(E|h|^q), h a unit AR(1) with coefficient psi (volatility that persists;
    the scale's square has mean 1, so the autocorrelation is unchanged). A power of a Gaussian, rather than a
    lognormal, keeps the variance of the volatility small (at most 104/9 - 1 for q = 4), so one year of a model has
    a steady variance. q and psi are calibrated by simulation (fixed seed, common random numbers) to match two
    moments of the observed standardised residual: the mean |hourly change| and the mean range within a day."""
    target = roughness_moments(z)
    best = None
    for q in POWER_GRID:
        for psi in PSI_GRID:
            sim = roughness_moments(simulate_z(random.Random(20240601), w, a, c, b, q, psi, 24 * 400))
            loss = (sim[0] / target[0] - 1) ** 2 + (sim[1] / target[1] - 1) ** 2
            if best is None or loss < best[0]:
                best = (loss, q, psi, sim)
            if q == 0:
                break  # psi has no effect without volatility
    return best[1], best[2], target, best[3]


def derive(data_dir, model):
    name, rel, column, licence, summary = model
    rows = read_trace(os.path.join(data_dir, rel), column)
    values = [x for _, x in rows if x is not None]
    # Cell means by month and hour.
    sums = [[0.0] * 24 for _ in range(12)]
    counts = [[0] * 24 for _ in range(12)]
    for t, x in rows:
        if x is not None:
            sums[t.month - 1][t.hour] += x
            counts[t.month - 1][t.hour] += 1
    cells = [None] * 12
    for m in range(12):
        if all(counts[m][h] > 0 for h in range(24)):
            cells[m] = [sums[m][h] / counts[m][h] for h in range(24)]
        elif any(counts[m][h] > 0 for h in range(24)):
            sys.exit(f"{name}: month {m + 1} has data for only some hours")
    mirrored = mirror_missing_months(cells, name)
    level = [[0.0] * 12 for _ in range(24)]  # level[h][m] while solving per hour
    for h in range(24):
        level[h] = mean_preserving_knots([cells[m][h] for m in range(12)])
    level_mh = [[level[h][m] for h in range(24)] for m in range(12)]
    # Residuals from the smooth curve, and their spread by month and hour.
    resid = []
    ss = [[0.0] * 24 for _ in range(12)]
    for t, x in rows:
        if x is None:
            resid.append(None)
            continue
        knots = [level_mh[m][t.hour] for m in range(12)]
        r = x - interp(knots, t)
        resid.append(r)
        ss[t.month - 1][t.hour] += r * r
    sd = [[0.0] * 24 for _ in range(12)]
    for m in range(12):
        if counts[m][0] > 0:
            sd[m] = [math.sqrt(ss[m][h] / counts[m][h]) for h in range(24)]
    for m in range(12):
        if counts[m][0] == 0:
            sd[m] = list(sd[11 - m])
    # Standardised residual for the autocorrelation fit.
    z = []
    for (t, _), r in zip(rows, resid):
        if r is None:
            z.append(None)
        else:
            s = sd[t.month - 1][t.hour]
            z.append(r / s if s > 0 else 0.0)
    rho = sample_acf(z, MAX_LAG)
    w, a, c, b, rmse = fit_acf(rho)
    power, psi, target, sim = fit_volatility(z, w, a, c, b)
    gaps = sum(1 for _, x in rows if x is None)
    return {
        "name": name, "rel": rel, "column": column, "licence": licence, "summary": summary,
        "start": rows[0][0], "end": rows[-1][0], "n": len(rows), "gaps": gaps, "mirrored": mirrored,
        "floor": max(1.0, 0.9 * min(values)), "ceil": 1.1 * max(values),
        "level": level_mh, "sd": sd, "w": w, "a": a, "c": c, "b": b, "rmse": rmse,
        "power": power, "psi": psi, "moments": target, "sim_moments": sim,
    }


def c_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def emit(models):
    out = []
    p = out.append
    p("/* GENERATED by tools/derive_gridmodels.py from the shared carbon-intensity traces; do not edit by hand.")
    p(" * Regenerate: python3 tools/derive_gridmodels.py ../shared/data > src/signal/gridmodel_data.c")
    p(" *")
    p(" * Only derived statistics are stored (smooth month x hour means, residual spread by month and hour, a fitted")
    p(" * two-timescale autocorrelation, clamping bounds); no observed value is copied. Sources and their licences:")
    for d in models:
        p(f" *   {d['name']}: {d['rel']} column '{d['column']}', "
          f"{d['start']:%Y-%m-%d} .. {d['end']:%Y-%m-%d}, {d['n']} hours, {d['gaps']} gaps")
        if d["mirrored"]:
            p(f" *     months {','.join(str(m) for m in d['mirrored'])} are not in the source: mirrored about the "
              "solstice from the other half-year")
        p(f" *     source: {d['licence']}")
    p(" */")
    p('#include "signal/gridmodel_data.h"')
    p("")
    p("#include <stddef.h>")
    p("")
    p("/* A table laid out for reading: 12 hours a line. */")
    p("/* clang-format off */")
    p("const chase_gridmodel_def_t chase_gridmodel_defs[] = {")
    for d in models:
        p("    {")
        p(f"        .name = {c_str(d['name'])},")
        p(f"        .summary = {c_str(d['summary'])},")
        p(f"        .source_file = {c_str(d['rel'])},")
        p(f"        .source_column = {c_str(d['column'])},")
        p(f"        .licence = {c_str(d['licence'])},")
        p(f"        .source_start = {c_str(d['start'].strftime('%Y-%m-%dT%H:%M:%SZ'))},")
        p(f"        .source_hours = {d['n']},")
        p(f"        .floor_g = {d['floor']:.2f},")
        p(f"        .ceil_g = {d['ceil']:.2f},")
        p(f"        /* autocorrelation fit: rmse {d['rmse']:.4f} over lags 1..{MAX_LAG} h */")
        p(f"        .w_slow = {d['w']:.4f},")
        p(f"        .slow_root1 = {d['a']:.4f},")
        p(f"        .slow_root2 = {d['c']:.4f},")
        p(f"        .fast_phi = {d['b']:.4f},")
        m, sm = d["moments"], d["sim_moments"]
        p(f"        /* volatility: observed mean |dz| {m[0]:.3f}, daily z range {m[1]:.3f}; "
          f"simulated {sm[0]:.3f}, {sm[1]:.3f} */")
        p(f"        .vol_power = {d['power']:.2f},")
        p(f"        .vol_psi = {d['psi']:.2f},")
        for key in ("level", "sd"):
            p(f"        .{key} = {{ /* by month, then UTC hour 0..11 and 12..23 */")
            for m in range(12):
                first = ", ".join(f"{v:.1f}" for v in d[key][m][:12])
                second = ", ".join(f"{v:.1f}" for v in d[key][m][12:])
                p(f"            /* {MONTHS[m]} */ {{{first},")
                p(f"                       {second}}},")
            p("        },")
        p("    },")
    p("};")
    p("")
    p(f"const size_t chase_gridmodel_count = {len(models)};")
    p("")
    p("const char *const chase_gridmodel_name_list[] = {")
    for d in models:
        p(f"    {c_str(d['name'])},")
    p("    NULL,")
    p("};")
    p("/* clang-format on */")
    return "\n".join(out) + "\n"


def main(argv):
    if len(argv) != 2 or argv[1] in ("-h", "--help"):
        sys.stderr.write(__doc__)
        return 2
    data_dir = argv[1]
    if not os.path.isdir(os.path.join(data_dir, "carbon")):
        sys.stderr.write(f"derive_gridmodels: {data_dir}/carbon is not a folder (pass the shared data folder)\n")
        return 2
    models = [derive(data_dir, m) for m in MODELS]
    for d in models:
        sys.stderr.write(f"{d['name']:16s} w={d['w']:.3f} a={d['a']:.4f} c={d['c']:.3f} b={d['b']:.3f} "
                         f"rmse={d['rmse']:.4f} q={d['power']:.2f} psi={d['psi']:.2f} "
                         f"floor={d['floor']:.1f} ceil={d['ceil']:.1f}\n")
    sys.stdout.write(emit(models))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
