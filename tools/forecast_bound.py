#!/usr/bin/python3
"""How good can a 24-h carbon-intensity forecast from a trace's own past be? A hindsight bound.

For every trace, builds the features of chase's forecaster (docs/forecasting.md: recent changes, yesterday at the
target's time, 7-day and 4-week profiles, means, harmonics of the time of day and week) for the 24-h-ahead model,
plus a dozen more (3- and 14-day profiles, the last day's minimum and maximum, moving averages of 1, 3 and 30 days,
the value two days back, the 6-h mean), and fits ONE linear model with hindsight: on the very points that are scored
(the second half of the trace), minimising their mean absolute percentage error (iteratively reweighted least
squares). No online model restricted to the past can beat that fit with the same inputs, so its MAPE ratio to
seasonal naive is a lower bound for every linear model on these features.

    /usr/bin/python3 tools/forecast_bound.py ../shared/data/carbon

Needs numpy (Debian: python3-numpy). About a minute for the 22 shared traces.
"""
import csv
import glob
import math
import os
import sys
import warnings
from datetime import datetime, timezone

import numpy as np


def read_trace(path):
    """Samples on a regular grid (NaN where missing), and the step in seconds. Reads `ci`, else `actual`, else the
    Electricity Maps "direct" column, as chase does by default."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = csv.reader(f)
        head = [h.strip() for h in next(rows)]
        if "ci" in head:
            col = head.index("ci")
        elif "actual" in head:
            col = head.index("actual")
        else:
            col = next(i for i, h in enumerate(head) if "(direct)" in h)
        times, values = [], []
        for row in rows:
            if not row or not row[0].strip():
                continue
            stamp = row[0].strip().replace("Z", "").replace("T", " ").split("+")[0]
            when = datetime.strptime(stamp[:19], "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc)
            times.append(int(when.timestamp()))
            values.append(float(row[col]) if row[col].strip() else math.nan)
    times = np.array(times)
    step = int(np.min(np.diff(times)))
    z = np.full((times[-1] - times[0]) // step + 1, np.nan)
    z[(times - times[0]) // step] = values
    return times[0] + np.arange(len(z)) * step, z, step


def back(z, j):
    """b[t] = z[t - j]."""
    b = np.full_like(z, np.nan)
    if j < len(z):
        b[j:] = z[: len(z) - j]
    return b


def lag_mean(z, first, stride, n):
    """Mean of z[t - first - i*stride], i < n, without the extremes when there are at least 5 (as chase does)."""
    s = np.stack([back(z, first + i * stride) for i in range(n)])
    real = ~np.isnan(s)
    count = real.sum(0)
    total = np.where(real, s, 0).sum(0)
    lo = np.where(real, s, np.inf).min(0)
    hi = np.where(real, s, -np.inf).max(0)
    with np.errstate(all="ignore"):
        m = np.where(count >= 5, (total - lo - hi) / np.maximum(count - 2, 1), total / np.maximum(count, 1))
    return np.where(count > 0, m, np.nan)


def rolling(z, n, fn):
    """fn over the last n samples (ignoring missing ones)."""
    from numpy.lib.stride_tricks import sliding_window_view

    w = sliding_window_view(np.concatenate([np.full(n - 1, np.nan), z]), n)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # all-missing windows give NaN, which is what is wanted
        return fn(w, axis=1)


def ewma(z, half_life):
    lam, e, out = 0.5 ** (1.0 / half_life), math.nan, np.empty_like(z)
    for i, v in enumerate(z):
        if not math.isnan(v):
            e = v if math.isnan(e) else lam * e + (1 - lam) * v
        out[i] = e
    return out


def features(t, z, step, k, extra):
    """Columns of the k-step model at every origin (row = origin), each relative to the origin's value."""
    d, wk = 86400 // step, 7 * 86400 // step
    k0, kw = -(-k // d), -(-k // wk)
    prof = lag_mean(z, k0 * d - k, d, 7)
    week = lag_mean(z, kw * wk - k, wk, 4)
    cols = [np.ones_like(z), z - back(z, 1), back(z, 1) - back(z, 2), back(z, k0 * d - k) - z,
            back(z, k0 * d - k) - back(z, k0 * d), prof - z, prof - lag_mean(z, d, d, 7), back(z, kw * wk - k) - z,
            rolling(z, d, np.nanmean) - z, ewma(z, 7 * d) - z, week - z, week - lag_mean(z, kw * wk, wk, 4)]
    for period in (86400, 7 * 86400):
        a = 2 * np.pi * ((t + k * step) % period) / period
        cols += [np.sin(a), np.cos(a), np.sin(2 * a), np.cos(2 * a)]
    if extra:
        cols += [lag_mean(z, k0 * d - k, d, 3) - z, lag_mean(z, k0 * d - k, d, 14) - z,
                 rolling(z, d, np.nanmin) - z, rolling(z, d, np.nanmax) - z, ewma(z, d) - z, ewma(z, 3 * d) - z,
                 ewma(z, 30 * d) - z, back(z, (k0 + 1) * d - k) - z, rolling(z, max(1, d // 4), np.nanmean) - z,
                 rolling(z, d, np.nanmean) - rolling(z, 7 * d, np.nanmean)]
    return np.nan_to_num(np.stack(cols, 1))


def mape_fit(x, y, actual, rounds=40):
    """Weights minimising sum |y - x w| / actual (iteratively reweighted least squares)."""
    w = np.linalg.lstsq(x, y, rcond=None)[0]
    floor = 1e-3 * np.mean(np.abs(y)) + 1e-9
    for _ in range(rounds):
        r = 1.0 / (actual * np.maximum(np.abs(y - x @ w), floor))
        w = np.linalg.solve(x.T @ (x * r[:, None]) + 1e-8 * np.eye(x.shape[1]), (x * r[:, None]).T @ y)
    return w


def main():
    folder = sys.argv[1] if len(sys.argv) > 1 else "../shared/data/carbon"
    paths = sorted(glob.glob(folder + "/*.csv")) + sorted(glob.glob(folder + "/electricitymaps-format/*.csv"))
    if not paths:
        sys.exit(f"forecast_bound: no traces under {folder}")
    print("24-h MAPE ratio to seasonal naive of the best linear model fitted with hindsight on the scored points")
    print(f"{'trace':36s} {'seasonal %':>10s} {'chase features':>15s} {'+ 10 more':>10s}")
    ratios = [[], []]
    for path in paths:
        t, z, step = read_trace(path)
        k = 86400 // step
        n = len(z)
        target = np.concatenate([z[k:], np.full(k, np.nan)])
        scored = ~np.isnan(z) & ~np.isnan(target) & (target > 0) & (np.arange(n) + k >= n // 2)
        seasonal = np.mean(np.abs(z[scored] - target[scored]) / target[scored])
        row = []
        for i, extra in enumerate((False, True)):
            x = features(t, z, step, k, extra)[scored]
            w = mape_fit(x, target[scored] - z[scored], target[scored])
            fc = np.maximum(z[scored] + x @ w, 0)
            ratio = np.mean(np.abs(fc - target[scored]) / target[scored]) / seasonal
            ratios[i].append(ratio)
            row.append(ratio)
        name = os.path.basename(path)[:-4]
        print(f"{name:36s} {100 * seasonal:10.2f} {row[0]:15.3f} {row[1]:10.3f}", flush=True)
    for i, label in enumerate(("chase features", "+ 10 more")):
        r = np.array(ratios[i])
        print(f"{label}: geometric mean {np.exp(np.mean(np.log(r))):.3f}, worst {r.max():.3f}, "
              f"{int((r > 0.9).sum())} of {len(r)} traces above 0.9")


if __name__ == "__main__":
    main()
