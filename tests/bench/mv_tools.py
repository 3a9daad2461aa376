"""The two tools as mv_compare.py runs them: kilowatch-gateway's CLI and eemeter 4.1.1."""

import json
import math
import os
import subprocess

import numpy as np
import pandas as pd
from eemeter.eemeter import (
    DailyBaselineData, DailyModel, DailyReportingData, HourlyBaselineData, HourlyCaltrackBaselineData,
    HourlyCaltrackModel, HourlyCaltrackReportingData, HourlyModel, HourlyReportingData,
)


class Result:
    """One tool's estimate: avoided energy, the half-width of its 90 % interval (None when the
    tool gives none), its model, and (kilowatch) its verdict."""

    def __init__(self, est, half, form, verified=None, status="", error=None):
        self.est, self.half, self.form = est, half, form
        self.verified, self.status, self.error = verified, status, error


def failed(why):
    return Result(None, None, "", error=why)


def kilowatch(binary, csv, energy, baseline, reporting, *, granularity="day", temp="temp",
              temp_unit="F", tz=None, holidays=(), var=None):
    cmd = [binary, "mv", "--csv", csv, "--time", "time", "--energy", energy, "--temp", temp,
           "--temp-unit", temp_unit, "--baseline", baseline, "--reporting", reporting,
           "--granularity", granularity, "--json"]
    if tz:
        cmd += ["--tz", tz]
    if holidays:
        cmd += ["--holidays", ",".join(holidays)]
    if var:
        cmd += ["--var", var]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"kilowatch failed on {csv} ({energy}, {granularity}): {out.stderr}")
    rep = json.loads(out.stdout)
    s = rep["savings"]
    return Result(s["avoided"], s["uncertainty_90"], rep["model"]["form"], s["verified"], s.get("status", ""))


def finish(pred, unc, form):
    """The estimate over the reporting periods, or why there is none: a tool that predicts only
    some of the periods has not estimated the savings."""
    n = int(pred["observed"].notna().sum())
    ok = pred.dropna(subset=["predicted", "observed"])
    if len(ok) < n:
        months = sorted({t.strftime("%b") for t in pred.index[pred["predicted"].isna()]})
        return Result(None, None, form, error=f"predicts {len(ok)} of {n} periods (none in {', '.join(months)})")
    half = rss(ok[unc]) if unc else None
    if half is not None and not math.isfinite(half):
        half = None
    return Result(ok["predicted"].sum() - ok["observed"].sum(), half, form)


def rss(values):
    """Root sum of squares: per-period half-widths taken as independent."""
    return math.sqrt(float((np.asarray(values, dtype=float) ** 2).sum()))


def eemeter_daily(days, energy, hourly_temp, split):
    """DailyModel on daily energy (index: tz-aware midnights) and hourly °F temperatures.
    eemeter reports a per-day 90 % prediction half-width (`predicted_unc`); the period's is
    their root sum of squares."""
    meter = pd.Series(energy, index=days, name="observed")
    cut = days[split]
    base = DailyBaselineData.from_series(meter[:split], hourly_temp[hourly_temp.index < cut], is_electricity_data=True)
    report = DailyReportingData.from_series(meter[split:], hourly_temp[hourly_temp.index >= cut], is_electricity_data=True)
    model = DailyModel().fit(base, ignore_disqualification=True)
    pred = model.predict(report, ignore_disqualification=True)
    return finish(pred, "predicted_unc", model.best_combination)


def eemeter_caltrack_hourly(frame, split):
    """CalTRACK 2 hourly (time-of-week and temperature with occupancy, month segments).
    Its `predicted_uncertainty` spreads each month's ASHRAE 14 90 % half-width evenly over the
    month's hours (total / sqrt(hours)), so their root sum of squares is the month totals'."""
    try:
        base = HourlyCaltrackBaselineData(frame.iloc[:split], is_electricity_data=True)
        report = HourlyCaltrackReportingData(frame.iloc[split:], is_electricity_data=True)
        pred = HourlyCaltrackModel().fit(base).predict(report)
    except Exception as e:  # noqa: BLE001 - the report says why it could not run
        return failed(f"{type(e).__name__}: {e}")
    return finish(pred, "predicted_uncertainty", "caltrack-hourly")


def eemeter_hourly(frame, split, categorical=None):
    """eemeter 4's default HourlyModel (temporal clusters, temperature bins, elastic net). It
    gives no uncertainty. `categorical` names a column passed as a supplemental categorical
    feature (the holiday flag)."""
    settings = {"seed": 42}
    if categorical:
        settings["supplemental_categorical_columns"] = [categorical]
    try:
        base = HourlyBaselineData(frame.iloc[:split], is_electricity_data=True)
        report = HourlyReportingData(frame.iloc[split:], is_electricity_data=True)
        model = HourlyModel(settings=settings).fit(base, ignore_disqualification=True)
        pred = model.predict(report, ignore_disqualification=True)
    except Exception as e:  # noqa: BLE001 - the report says why it could not run
        return failed(f"{type(e).__name__}: {e}")
    return finish(pred, None, "hourly")


def exists(path):
    return os.path.exists(path)
