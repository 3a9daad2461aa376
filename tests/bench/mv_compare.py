#!/usr/bin/env python3
"""kilowatch vs eemeter: savings estimates on synthetic daily data with known savings.

Each case is two years of daily energy (365-day baseline, 365-day reporting) driven by
weather (heating below 55 °F, cooling above 68 °F), a weekday/weekend pattern and AR(1) noise;
the reporting year uses (1 - s) of the counterfactual, so the true savings are known exactly.
Both tools see the same data: kilowatch a daily CSV (`mv --csv ... --json`), eemeter 4's
DailyModel the daily energy with hourly temperatures whose daily means are the CSV's.

Intervals (90 %):
- kilowatch: `savings.uncertainty_90` (ASHRAE Guideline 14 fractional savings uncertainty).
- eemeter: DailyModel.predict() gives `predicted_unc` per day, the half-width of the 90 %
  prediction interval of one day (alpha = 0.1, autocorrelation-corrected degrees of freedom);
  the period's half-width is their root sum of squares, sqrt(sum(predicted_unc^2)), i.e. days
  taken as independent.

Usage (one command, deterministic, a few minutes):
    python3 tests/bench/mv_compare.py --bin target/debug/kilowatch-gateway [--md OUT.md]
Python: a venv with eemeter 4.1.1 (see BENCHMARKS.md, "kilowatch vs eemeter").
"""

import argparse
import json
import logging
import math
import os
import subprocess
import sys
import tempfile
import time

try:
    import numpy as np
    import pandas as pd
    from eemeter.eemeter import DailyBaselineData, DailyModel, DailyReportingData
    import eemeter
except ImportError as e:  # a benchmark without its reference is no benchmark
    sys.exit(
        f"mv_compare: eemeter is not importable ({e}).\n"
        "Install it: python3 -m venv target/eemeter-venv && "
        "target/eemeter-venv/bin/pip install eemeter==4.1.1 'pandas<3' pytz\n"
        "then run this script with target/eemeter-venv/bin/python."
    )

# (seed, true savings fraction): three cases with no savings.
CASES = [(1, 0.10), (2, 0.05), (3, 0.0), (4, 0.15), (5, 0.08), (6, 0.0), (7, 0.12), (8, 0.03), (9, 0.0), (10, 0.20)]
START = pd.Timestamp("2023-01-01")
DAYS = 730
SPLIT = 365


def synthesize(seed, saving):
    rng = np.random.default_rng(seed)
    days = pd.date_range(START, periods=DAYS, freq="D")
    doy = days.dayofyear.values
    # Seasonal temperature with persistent weather anomalies (AR(1)).
    anomaly = np.zeros(DAYS)
    for i in range(1, DAYS):
        anomaly[i] = 0.7 * anomaly[i - 1] + rng.normal(0, 4.0)
    temp = 58 + 22 * np.cos(2 * np.pi * (doy - 200) / 365.0) + anomaly
    weekend = days.dayofweek.values >= 5
    base = np.where(weekend, 650.0, 1000.0) * rng.uniform(0.95, 1.05)
    heat = rng.uniform(8, 14) * np.clip(55 - temp, 0, None)
    cool = rng.uniform(12, 20) * np.clip(temp - 68, 0, None)
    noise = np.zeros(DAYS)
    for i in range(DAYS):
        noise[i] = (0.3 * noise[i - 1] if i else 0) + rng.normal(0, 45.0)
    counterfactual = base + heat + cool + noise
    actual = counterfactual.copy()
    actual[SPLIT:] *= 1 - saving
    truth = counterfactual[SPLIT:].sum() - actual[SPLIT:].sum()
    return days, temp, actual, truth


def run_kilowatch(binary, days, temp, energy, workdir, seed):
    path = os.path.join(workdir, f"case{seed}.csv")
    pd.DataFrame({"time": days.strftime("%Y-%m-%d"), "kwh": energy, "temp": temp.round(3)}).to_csv(path, index=False)
    b = f"{days[0].date()}..{days[SPLIT - 1].date()}"
    r = f"{days[SPLIT].date()}..{days[-1].date()}"
    out = subprocess.run(
        [binary, "mv", "--csv", path, "--time", "time", "--energy", "kwh", "--temp", "temp",
         "--temp-unit", "F", "--baseline", b, "--reporting", r, "--json"],
        capture_output=True, text=True, check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"kilowatch failed on case {seed}: {out.stderr}")
    rep = json.loads(out.stdout)
    s = rep["savings"]
    return s["avoided"], s["uncertainty_90"], rep["model"]["form"]


def run_eemeter(days, temp, energy):
    tz = "UTC"
    idx = days.tz_localize(tz)
    meter = pd.Series(energy, index=idx, name="observed")
    hours = pd.date_range(idx[0], periods=DAYS * 24, freq="h")
    # Hourly temperatures with a diurnal swing whose daily mean is the day's temperature.
    swing = 6 * np.sin(2 * np.pi * (np.arange(DAYS * 24) % 24 - 9) / 24)
    hourly = pd.Series(np.repeat(temp, 24) + swing, index=hours, name="temperature")
    base = DailyBaselineData.from_series(meter[:SPLIT], hourly[hourly.index < idx[SPLIT]], is_electricity_data=True)
    rep_t = hourly[hourly.index >= idx[SPLIT]]
    report = DailyReportingData.from_series(meter[SPLIT:], rep_t, is_electricity_data=True)
    model = DailyModel().fit(base, ignore_disqualification=True)
    pred = model.predict(report, ignore_disqualification=True)
    pred = pred.dropna(subset=["predicted", "observed"])
    est = pred["predicted"].sum() - pred["observed"].sum()
    half = math.sqrt((pred["predicted_unc"] ** 2).sum())
    return est, half, model.best_combination


def main():
    # eemeter warns on every UTC index; the synthetic data has no other zone.
    logging.getLogger("eemeter").setLevel(logging.ERROR)
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default="target/debug/kilowatch-gateway")
    ap.add_argument("--md", help="also write the markdown tables to this file")
    a = ap.parse_args()
    if not os.access(a.bin, os.X_OK):
        sys.exit(f"mv_compare: no kilowatch-gateway at {a.bin} (cargo build -p gateway --bin kilowatch-gateway)")
    t0 = time.time()
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for seed, saving in CASES:
            days, temp, energy, truth = synthesize(seed, saving)
            kw, kw_u, kw_form = run_kilowatch(a.bin, days, temp, energy, work, seed)
            ee, ee_u, ee_form = run_eemeter(days, temp, energy)
            rows.append((seed, saving, truth, kw, kw_u, kw_form, ee, ee_u, ee_form))
            print(f"case {seed}: truth {truth:.0f}, kilowatch {kw:.0f} ± {kw_u:.0f} ({kw_form}), "
                  f"eemeter {ee:.0f} ± {ee_u:.0f} ({ee_form})", file=sys.stderr)
    lines = [
        f"eemeter {getattr(eemeter, '__version__', '?')}, {len(CASES)} cases, {time.time() - t0:.0f} s",
        "",
        "| case | true savings % | true kWh | kilowatch kWh | ± 90 % | in | eemeter kWh | ± 90 % | in |",
        "|---:|---:|---:|---:|---:|:-:|---:|---:|:-:|",
    ]
    for seed, saving, truth, kw, kw_u, _, ee, ee_u, _ in rows:
        mark = lambda est, u: "yes" if abs(est - truth) <= u else "no"
        lines.append(f"| {seed} | {100 * saving:.0f} | {truth:.0f} | {kw:.0f} | {kw_u:.0f} | {mark(kw, kw_u)} | "
                     f"{ee:.0f} | {ee_u:.0f} | {mark(ee, ee_u)} |")
    lines += ["", "| tool | mean absolute error kWh | mean bias kWh | coverage of the 90 % interval | mean half-width kWh |",
              "|---|---:|---:|---:|---:|"]
    for name, ei, ui in [("kilowatch", 3, 4), ("eemeter", 6, 7)]:
        err = np.array([r[ei] - r[2] for r in rows])
        half = np.array([r[ui] for r in rows])
        cover = 100 * np.mean(np.abs(err) <= half)
        lines.append(f"| {name} | {np.abs(err).mean():.0f} | {err.mean():+.0f} | {cover:.0f} % | {half.mean():.0f} |")
    text = "\n".join(lines)
    print(text)
    if a.md:
        with open(a.md, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
