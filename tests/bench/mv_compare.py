#!/usr/bin/env python3
"""kilowatch vs eemeter 4.1.1: avoided energy, its 90 % interval and kilowatch's verdict, on
data whose savings are known.

Three sets (BENCHMARKS.md, "kilowatch vs eemeter"):
- daily: 24 synthetic cases (mv_cases.DAILY), a year of baseline and a year of reporting;
  kilowatch `mv --csv` (day, plant holidays via --holidays) vs eemeter's DailyModel;
- hourly: 6 synthetic cases (mv_cases.HOURLY), a year of baseline and eight weeks of
  reporting; kilowatch `mv --granularity hour` vs eemeter's CalTRACK 2 hourly model and its
  default HourlyModel (with the holiday flag as a supplemental categorical column);
- demo: the demo plant's simulated retrofits (`kilowatch-bench mv-demo-data`), 45 days of
  baseline and 45 of reporting, chiller (with and without production) and compressed air, by
  day and by hour, against the simulator's truth.

Intervals (90 %): kilowatch's `savings.uncertainty_90`; eemeter's root sum of squares of its
per-period half-widths (see mv_tools.py). "verified" is kilowatch's verdict; eemeter gives
none, so its column counts intervals that exclude zero.

Usage (one command, deterministic):
    python3 tests/bench/mv_compare.py --bin target/debug/kilowatch-gateway --demo DIR [--md OUT.md]
Python: a venv with eemeter 4.1.1 (tests/bench/mv-compare.sh makes it).
"""

import argparse
import csv
import json
import logging
import os
import sys
import tempfile
import time
import warnings
from concurrent.futures import ProcessPoolExecutor

try:
    import numpy as np
    import pandas as pd
    import eemeter
    import mv_cases as cases
    import mv_tools as tools
except ImportError as e:  # a benchmark without its reference is no benchmark
    sys.exit(f"mv_compare: eemeter is not importable ({e}); run tests/bench/mv-compare.sh")

TOOLS_DAILY = [("kilowatch", "kw"), ("eemeter DailyModel", "ee")]
TOOLS_HOURLY = [("kilowatch", "kw"), ("eemeter CalTRACK hourly", "ct"), ("eemeter HourlyModel", "hm")]


def fmt(v, spec=".0f"):
    return "–" if v is None else format(v, spec)


def inside(r, truth):
    if r.est is None or r.half is None:
        return "–"
    return "yes" if abs(r.est - truth) <= r.half else "no"


def called(r):
    """kilowatch's verdict; for eemeter whether its interval excludes zero (on the savings side)."""
    if r.verified is not None:
        return "verified" if r.verified else r.status or "not verified"
    if r.est is None or r.half is None:
        return "–"
    return "excl. 0" if r.est - r.half > 0 else "incl. 0"


def summary(rows, names):
    out = ["| tool | cases | mean absolute error kWh | mean bias kWh | coverage of the 90 % interval "
           "| mean half-width kWh | no savings, called verified / excl. 0 | savings, called verified / excl. 0 |",
           "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, key in names:
        ran = [(row, row[key]) for row in rows if row[key].est is not None]
        if not ran:
            out.append(f"| {name} | 0 | – | – | – | – | – | – |")
            continue
        err = np.array([r.est - row["truth"] for row, r in ran])
        halves = [r.half for _, r in ran if r.half is not None]
        cov = (f"{100 * np.mean([abs(r.est - row['truth']) <= r.half for row, r in ran if r.half is not None]):.0f} %"
               if halves else "none given")
        pos = lambda r: (r.verified if r.verified is not None else (r.half is not None and r.est - r.half > 0))
        zero = [r for row, r in ran if row["saving"] == 0]
        some = [r for row, r in ran if row["saving"] > 0]
        fp = f"{sum(map(pos, zero))} of {len(zero)}" if halves else "–"
        tp = f"{sum(map(pos, some))} of {len(some)}" if halves else "–"
        out.append(f"| {name} | {len(ran)} | {np.abs(err).mean():.0f} | {err.mean():+.0f} | {cov} | "
                   f"{fmt(np.mean(halves) if halves else None)} | {fp} | {tp} |")
    return out


def daily_one(binary, work, seed, saving):
    days, temp, energy, truth, hol = cases.daily_case(seed, saving)
    path = os.path.join(work, f"daily{seed}.csv")
    pd.DataFrame({"time": days.strftime("%Y-%m-%d"), "kwh": energy, "temp": temp.round(3)}).to_csv(path, index=False)
    split = cases.DAILY_BASELINE
    b = f"{days[0].date()}..{days[split - 1].date()}"
    r = f"{days[split].date()}..{days[-1].date()}"
    kw = tools.kilowatch(binary, path, "kwh", b, r, holidays=hol)
    idx = days.tz_localize("UTC")
    hours = pd.date_range(idx[0], periods=len(days) * 24, freq="h")
    # Hourly temperatures with a diurnal swing whose daily mean is the day's temperature.
    swing = 6 * np.sin(2 * np.pi * (np.arange(len(hours)) % 24 - 9) / 24)
    ee = tools.eemeter_daily(idx, energy, pd.Series(np.repeat(temp, 24) + swing, index=hours, name="temperature"), split)
    return {"case": seed, "saving": saving, "holidays": bool(hol), "truth": truth, "kw": kw, "ee": ee}


def hourly_one(binary, work, seed, saving):
    hours, temp, energy, truth, hol, hol_flag = cases.hourly_case(seed, saving)
    path = os.path.join(work, f"hourly{seed}.csv")
    pd.DataFrame({"time": hours.strftime("%Y-%m-%d %H:%M"), "kwh": energy, "temp": temp.round(3)}).to_csv(path, index=False)
    split = cases.HOURLY_BASELINE * 24
    b = f"{hours[0].date()}..{hours[split - 1].date()}"
    r = f"{hours[split].date()}..{hours[-1].date()}"
    kw = tools.kilowatch(binary, path, "kwh", b, r, granularity="hour", holidays=hol)
    frame = pd.DataFrame({"observed": energy, "temperature": temp}, index=hours.tz_localize("UTC"))
    ct = tools.eemeter_caltrack_hourly(frame, split)
    frame["holiday"] = hol_flag.astype(int)
    hm = tools.eemeter_hourly(frame, split, categorical="holiday" if hol else None)
    return {"case": seed, "saving": saving, "holidays": bool(hol), "truth": truth, "kw": kw, "ct": ct, "hm": hm}


def quiet():
    logging.getLogger("eemeter").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")


def run_set(pool, one, binary, work, case_list, log):
    """Runs the cases on the pool, logging each as it finishes; rows in case order."""
    futures = [pool.submit(one, binary, work, seed, saving) for seed, saving in case_list]
    rows = []
    for f in futures:
        row = f.result()
        rows.append(row)
        extra = ", ".join(f"{k} {fmt(row[k].est)} ± {fmt(row[k].half)} ({row[k].form or row[k].error})"
                          for k in ("ee", "ct", "hm") if k in row)
        kw = row["kw"]
        log(f"{row['case']}: truth {row['truth']:.0f}, kilowatch {kw.est:.0f} ± {kw.half:.0f} ({kw.form}, {called(kw)}), {extra}")
    return rows


def run_demo(binary, demo, log):
    meta = json.load(open(os.path.join(demo, "meta.json")))
    truth_by = {}
    r_from, r_to = meta["reporting"].split("..")
    for t in csv.DictReader(open(os.path.join(demo, "truth.csv"))):
        if r_from <= t["date"] <= r_to:
            truth_by[t["measure"]] = truth_by.get(t["measure"], 0.0) + float(t["kwh"])
    tz = meta["time_zone"]
    hourly = pd.read_csv(os.path.join(demo, "hourly.csv"))
    hidx = pd.DatetimeIndex(pd.to_datetime(hourly["time"])).tz_localize(tz)
    temp_f = pd.Series(hourly["temp_c"].values * 9 / 5 + 32, index=hidx, name="temperature")
    daily = pd.read_csv(os.path.join(demo, "daily.csv"))
    didx = pd.DatetimeIndex(pd.to_datetime(daily["time"])).tz_localize(tz)
    b_from, b_to = meta["baseline"].split("..")
    dsplit = int((daily["time"] < r_from).sum())
    hsplit = int((hourly["time"] < r_from).sum())
    assert daily["time"].iloc[0] == b_from and daily["time"].iloc[dsplit - 1] == b_to
    rows = []
    for asset, col, measure in [("chiller", "chiller_kwh", "chiller_retrofit"),
                                ("compressed-air", "air_kwh", "leak_repair")]:
        for production in [False, True]:
            for g in ["day", "hour"]:
                path = os.path.join(demo, "daily.csv" if g == "day" else "hourly.csv")
                kw = tools.kilowatch(binary, path, col, meta["baseline"], meta["reporting"], granularity=g,
                                     temp="temp_c", temp_unit="C", tz=tz, holidays=meta["holidays"],
                                     var="production" if production else None)
                # The store's runs use an asset's own production counter (the compressor room's).
                store = next((s for s in meta["from_store"] if s["asset"] == asset and s["granularity"] == g
                              and ("production" in s["source"]) == production), None)
                drift = abs(kw.est - store["avoided"]) if store else None
                if g == "day":
                    ee = tools.eemeter_daily(didx, daily[col].values, temp_f, dsplit)
                    row = {"ee": ee, "ct": tools.failed("daily case"), "hm": tools.failed("daily case")}
                else:
                    frame = pd.DataFrame({"observed": hourly[col].values, "temperature": temp_f.values}, index=hidx)
                    row = {"ee": tools.failed("hourly case"), "ct": tools.eemeter_caltrack_hourly(frame, hsplit),
                           "hm": tools.eemeter_hourly(frame, hsplit)}
                name = f"{asset}{' + production' if production else ''}, by {g}"
                truth = truth_by[measure]
                actual = (daily[col].values[dsplit:]).sum()
                row.update({"case": name, "saving": truth / (actual + truth), "holidays": True, "truth": truth,
                            "kw": kw, "store": drift})
                rows.append(row)
                other = row["ee"] if g == "day" else row["ct"]
                log(f"demo {name}: truth {row['truth']:.0f}, kilowatch {kw.est:.0f} ± {kw.half:.0f} ({kw.form}, "
                    f"{called(kw)}; store {fmt(store and store['avoided'])}), eemeter {fmt(other.est)} ± {fmt(other.half)} "
                    f"{other.error or ''}; HourlyModel {fmt(row['hm'].est)} {row['hm'].error or ''}")
    return rows


def table(rows, keys, hourly):
    head = "| case | true savings % | holidays | true kWh |"
    rule = "|---|---:|:-:|---:|"
    for name, _ in keys:
        head += f" {name} kWh | ± 90 % | in | model | {'verdict' if name == 'kilowatch' else 'interval'} |"
        rule += "---:|---:|:-:|---|---|"
    out = [head, rule]
    for row in rows:
        pct = f"{100 * row['saving']:.1f}" if isinstance(row["case"], str) else f"{100 * row['saving']:.0f}"
        line = f"| {row['case']} | {pct} | {'yes' if row['holidays'] else 'no'} | {row['truth']:.0f} |"
        for _, key in keys:
            r = row[key]
            line += f" {fmt(r.est)} | {fmt(r.half)} | {inside(r, row['truth'])} | {r.form or r.error or ''} | {called(r)} |"
        out.append(line)
    return out


def main():
    quiet()
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default="target/debug/kilowatch-gateway")
    ap.add_argument("--demo", help="directory written by `kilowatch-bench mv-demo-data`")
    ap.add_argument("--only", default="daily,hourly,demo", help="comma-separated sets to run")
    ap.add_argument("--md", help="also write the markdown tables to this file")
    ap.add_argument("--jobs", type=int, default=2, help="cases run at once (default 2)")
    a = ap.parse_args()
    if not os.access(a.bin, os.X_OK):
        sys.exit(f"mv_compare: no kilowatch-gateway at {a.bin} (cargo build -p gateway --bin kilowatch-gateway)")
    only = set(a.only.split(","))
    if "demo" in only and not (a.demo and tools.exists(os.path.join(a.demo, "meta.json"))):
        sys.exit("mv_compare: give --demo DIR written by `kilowatch-bench mv-demo-data --out DIR`")
    log = lambda m: print(m, file=sys.stderr, flush=True)
    lines = [f"eemeter {getattr(eemeter, '__version__', '?')}", ""]
    with tempfile.TemporaryDirectory() as work, ProcessPoolExecutor(a.jobs, initializer=quiet) as pool:
        for name, run, keys, hourly in [("daily", lambda: run_set(pool, daily_one, a.bin, work, cases.DAILY, log),
                                         TOOLS_DAILY, False),
                                        ("hourly", lambda: run_set(pool, hourly_one, a.bin, work, cases.HOURLY, log),
                                         TOOLS_HOURLY, True),
                                        ("demo", lambda: run_demo(a.bin, a.demo, log),
                                         [("kilowatch", "kw"), ("eemeter DailyModel", "ee")] + TOOLS_HOURLY[1:], True)]:
            if name not in only:
                continue
            t0 = time.time()
            rows = run()
            lines += [f"### {name} ({len(rows)} cases, {time.time() - t0:.0f} s)", ""]
            lines += table(rows, keys, hourly) + [""] + summary(rows, keys) + [""]
            if name == "demo":
                drifts = [r["store"] for r in rows if r["store"] is not None]
                lines.append(f"kilowatch on these CSV files vs on the store itself ({len(drifts)} cases): "
                             f"largest difference {max(drifts):.2f} kWh")
    text = "\n".join(lines)
    print(text)
    if a.md:
        with open(a.md, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
