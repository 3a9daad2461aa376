"""Deterministic synthetic cases for mv_compare.py: daily and hourly energy with known savings.

Every case draws its parameters from numpy's default_rng(seed), so a run is reproducible.
The truth is the counterfactual minus the actual over the reporting period, noise included.
"""

import numpy as np
import pandas as pd

START = pd.Timestamp("2023-01-01")

# Plant holidays (month, day) in every year: New Year, a lunar-new-year week, spring and
# autumn holidays, year end. Holiday cases run these days at the weekend level.
HOLIDAY_DAYS = [(1, 1), (1, 23), (1, 24), (1, 25), (1, 26), (1, 27), (4, 5), (5, 1), (6, 22),
                (9, 29), (10, 10), (12, 25)]

# Daily: (seed, true savings fraction); six with none. Even seeds have plant holidays.
DAILY = [(1, 0.10), (2, 0.0), (3, 0.05), (4, 0.15), (5, 0.0), (6, 0.08), (7, 0.12), (8, 0.03),
         (9, 0.0), (10, 0.20), (11, 0.02), (12, 0.0), (13, 0.06), (14, 0.18), (15, 0.04),
         (16, 0.0), (17, 0.11), (18, 0.07), (19, 0.0), (20, 0.14), (21, 0.09), (22, 0.16),
         (23, 0.13), (24, 0.05)]
DAILY_BASELINE = 365
DAILY_REPORTING = 365

# Hourly: a year of baseline (eemeter's hourly models need it, see BENCHMARKS.md) and eight
# weeks of reporting.
HOURLY = [(101, 0.0), (102, 0.05), (103, 0.10), (104, 0.0), (105, 0.15), (106, 0.08)]
HOURLY_BASELINE = 365
HOURLY_REPORTING = 56


def holidays(days):
    """The plant's holidays among `days` (a DatetimeIndex of dates)."""
    keys = set(HOLIDAY_DAYS)
    return np.array([(d.month, d.day) in keys for d in days])


def ar1(rng, n, rho, sigma):
    x = np.zeros(n)
    e = rng.normal(0, sigma, n)
    for i in range(n):
        x[i] = (rho * x[i - 1] if i else 0.0) + e[i]
    return x


def daily_case(seed, saving):
    """Daily kWh and °F: weekday/weekend (and holiday) levels, heating and cooling slopes that
    differ on days off, AR(1) weather anomalies and AR(1) noise."""
    rng = np.random.default_rng(seed)
    n = DAILY_BASELINE + DAILY_REPORTING
    days = pd.date_range(START, periods=n, freq="D")
    doy = days.dayofyear.values
    temp = 58 + rng.uniform(15, 25) * np.cos(2 * np.pi * (doy - 200) / 365.0) + ar1(rng, n, 0.7, 4.0)
    has_holidays = seed % 2 == 0
    hol = holidays(days) if has_holidays else np.zeros(n, dtype=bool)
    off = (days.dayofweek.values >= 5) | hol
    weekday = rng.uniform(700, 1400)
    weekend_ratio = rng.uniform(0.45, 0.9)
    base = np.where(off, weekend_ratio * weekday, weekday)
    heat_slope = rng.uniform(4, 14) if seed % 3 else 0.0
    cool_slope = rng.uniform(6, 22)
    off_factor = rng.uniform(0.5, 1.0)
    slope_scale = np.where(off, off_factor, 1.0)
    heat = heat_slope * slope_scale * np.clip(rng.uniform(50, 58) - temp, 0, None)
    cool = cool_slope * slope_scale * np.clip(temp - rng.uniform(62, 70), 0, None)
    noise = ar1(rng, n, rng.uniform(0.2, 0.6), rng.uniform(0.03, 0.06) * weekday)
    counterfactual = base + heat + cool + noise
    actual = counterfactual.copy()
    actual[DAILY_BASELINE:] *= 1 - saving
    truth = counterfactual[DAILY_BASELINE:].sum() - actual[DAILY_BASELINE:].sum()
    hol_dates = [d.strftime("%Y-%m-%d") for d, h in zip(days, hol) if h]
    return days, temp, actual, truth, hol_dates


def hourly_case(seed, saving):
    """Hourly kWh and °F: occupied hours on working days (holidays off), cooling and heating
    that differ occupied/unoccupied, a diurnal temperature, AR(1) hourly noise."""
    rng = np.random.default_rng(seed)
    n = (HOURLY_BASELINE + HOURLY_REPORTING) * 24
    hours = pd.date_range(START, periods=n, freq="h")
    doy = hours.dayofyear.values
    h = hours.hour.values
    temp = (58 + rng.uniform(15, 25) * np.cos(2 * np.pi * (doy - 200) / 365.0)
            + rng.uniform(5, 10) * np.sin(2 * np.pi * (h - 9) / 24) + ar1(rng, n, 0.97, 1.0))
    has_holidays = seed % 2 == 0
    day_index = hours.normalize()
    hol = holidays(day_index) if has_holidays else np.zeros(n, dtype=bool)
    start, end = int(rng.integers(6, 9)), int(rng.integers(17, 21))
    occupied = (hours.dayofweek.values < 5) & ~hol & (h >= start) & (h < end)
    level = rng.uniform(80, 200)
    base = np.where(occupied, level, rng.uniform(0.3, 0.6) * level)
    cool = np.where(occupied, rng.uniform(1.5, 3.0), rng.uniform(0.3, 1.0)) * np.clip(temp - 65, 0, None)
    heat = (rng.uniform(0.5, 1.5) if seed % 3 else 0.0) * np.clip(50 - temp, 0, None)
    noise = ar1(rng, n, rng.uniform(0.5, 0.8), rng.uniform(0.03, 0.06) * level)
    counterfactual = base + cool + heat + noise
    split = HOURLY_BASELINE * 24
    actual = counterfactual.copy()
    actual[split:] *= 1 - saving
    truth = counterfactual[split:].sum() - actual[split:].sum()
    hol_dates = sorted({d.strftime("%Y-%m-%d") for d, x in zip(day_index, hol) if x})
    return hours, temp, actual, truth, hol_dates, hol
