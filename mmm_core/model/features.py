"""Model inputs as tidy tables: what the model reads per region-week, raw and scaled, and the scale factors.

These tables let an analyst (or SQL) see exactly what a refresh trained on, and convert any scaled
number back to KPI, currency or activity units with ``scaling_params``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mmm_core.data.contract import Panel
from mmm_core.model.scaling import PanelScaler
from mmm_core.model.seasonality import YearlySeasonality


def refresh_window(panel: Panel, refresh_week: np.datetime64 | str, n_weeks: int) -> Panel:
    """The trailing ``n_weeks`` of data whose last week falls in the refresh week ``[W, W + 7 days)``.

    The data's weeks may start on any weekday; the refresh week is a Monday partition.
    """
    start = np.datetime64(refresh_week, "D")
    in_week = panel.weeks[(panel.weeks >= start) & (panel.weeks < start + np.timedelta64(7, "D"))]
    last = in_week[0] if len(in_week) else start  # Panel.window raises, naming the data's range
    return panel.window(last, n_weeks)


def feature_frame(panel: Panel, scaler: PanelScaler, seasonality: YearlySeasonality | None = None) -> pd.DataFrame:
    """Long frame, one row per observed region-week and input: region, week, kind, name, value, scaled_value.

    kind is ``kpi`` (value in KPI units, scaled by the region mean), ``spend`` (currency; scaled like
    the channel's activity), ``activity`` (the model's media input), ``control`` (standardised) or
    ``seasonality`` (the calendar profile in scaled KPI units; value = scaled_value × region mean) or
    ``population`` (the region's size; scaled_value 1). :func:`panel_from_features` inverts it.
    """
    r_idx, t_idx = np.nonzero(panel.observed)
    regions = np.asarray(panel.regions, dtype=object)[r_idx]
    weeks = pd.to_datetime(panel.weeks[t_idx])
    parts = []

    def add(kind: str, name: str, value: np.ndarray, scaled: np.ndarray) -> None:
        parts.append(pd.DataFrame({"region": regions, "week": weeks, "kind": kind, "name": name,
                                   "value": value[r_idx, t_idx], "scaled_value": scaled[r_idx, t_idx]}))

    add("kpi", "kpi", panel.kpi, scaler.kpi.forward(panel.kpi))
    media_scaled = scaler.media.forward(panel.activity)
    spend_scaled = panel.spend * np.divide(media_scaled, panel.activity, out=np.zeros_like(media_scaled),
                                           where=panel.activity > 0)
    for c, channel in enumerate(panel.channels):
        add("activity", channel, panel.activity[..., c], media_scaled[..., c])
        add("spend", channel, panel.spend[..., c], spend_scaled[..., c])
    controls_scaled = scaler.controls.forward(panel.controls)
    for k, name in enumerate(panel.control_names):
        add("control", name, panel.controls[..., k], controls_scaled[..., k])
    if panel.population is not None:
        add("population", "population", np.broadcast_to(panel.population[:, None], panel.kpi.shape),
            np.ones_like(panel.kpi))
    if seasonality is not None:
        profile = seasonality.profile(panel.weeks)  # [R, T] scaled KPI units
        add("seasonality", "yearly", scaler.kpi.inverse(profile), profile)
    return pd.concat(parts, ignore_index=True)


def scaling_frame(panel: Panel, scaler: PanelScaler) -> pd.DataFrame:
    """One row per scale factor: kind, name, region, scale, center.

    ``scaled = (value - center) / scale``: KPI per region (center 0), media per region-channel (scale =
    region size × per-capita scale, center 0), controls per control (region ``*``).
    """
    rows = []
    for r, region in enumerate(panel.regions):
        rows.append(("kpi", "kpi", region, float(scaler.kpi.scale[r]), 0.0))
        for c, channel in enumerate(panel.channels):
            rows.append(("activity", channel, region,
                         float(scaler.media.size[r] * scaler.media.scale[r, c]), 0.0))
    for k, name in enumerate(panel.control_names):
        rows.append(("control", name, "*", float(scaler.controls.sd[k]), float(scaler.controls.mean[k])))
    return pd.DataFrame(rows, columns=["kind", "name", "region", "scale", "center"])


def panel_from_features(frame: pd.DataFrame, channels: tuple[str, ...], control_names: tuple[str, ...]) -> Panel:
    """Rebuild the Panel a :func:`feature_frame` was made from (raw values; week grid from the rows)."""
    regions = tuple(sorted(frame["region"].unique()))
    weeks_all = pd.to_datetime(frame["week"])
    weeks = pd.date_range(weeks_all.min(), weeks_all.max(), freq="7D").to_numpy(dtype="datetime64[D]")
    R, T = len(regions), len(weeks)
    r_of = {r: i for i, r in enumerate(regions)}

    def dense(kind: str, names: tuple[str, ...]) -> np.ndarray:
        out = np.zeros((R, T, len(names)))
        rows = frame[frame["kind"] == kind]
        if len(rows):
            n_of = {n: i for i, n in enumerate(names)}
            t = ((pd.to_datetime(rows["week"]) - weeks_all.min()).dt.days // 7).to_numpy()
            out[rows["region"].map(r_of).to_numpy(), t, rows["name"].map(n_of).to_numpy()] = rows["value"].to_numpy()
        return out

    kpi_rows = frame[frame["kind"] == "kpi"]
    observed = np.zeros((R, T), dtype=bool)
    observed[kpi_rows["region"].map(r_of).to_numpy(),
             ((pd.to_datetime(kpi_rows["week"]) - weeks_all.min()).dt.days // 7).to_numpy()] = True
    population = None
    if (frame["kind"] == "population").any():
        pop = frame[frame["kind"] == "population"].groupby("region")["value"].mean()
        population = pop.reindex(list(regions)).to_numpy()
    return Panel(regions=regions, weeks=weeks, channels=channels, control_names=control_names,
                 kpi=dense("kpi", ("kpi",))[..., 0], spend=dense("spend", channels),
                 activity=dense("activity", channels), controls=dense("control", control_names),
                 observed=observed, population=population)
