"""Write a ``Simulation`` to disk: the data file, its dataset spec, and the ground truth.

Files in ``out_dir`` (``<name>`` defaults to the directory's name):

* ``<name>.csv`` or ``.parquet``: one row per observed region-week: ``region``, ``week`` (ISO date of
  the Monday), ``revenue`` (the KPI, cents), ``population``, per channel ``<ch>_spend`` (cents) and, for
  channels with activity, ``<ch>_impressions`` (whole impressions), then one column per control (4
  decimals). These are exactly the values the KPI was computed from.
* ``spec.yaml``: the ``DatasetSpec`` that reads the data file.
* ``truth.json``: channel parameters and totals, the DAG, control effects, region parameters, the
  noise, the config and seed, and the units of every number.
* ``truth_kpi.csv`` or ``.parquet``: every region-week (``observed`` says which are in the data file),
  ``kpi_noiseless``, ``noise`` and the additive components (``baseline``, ``trend``, ``seasonality``,
  ``holiday``, ``control:<name>``, ``channel:<name>`` = direct contribution), in KPI units.
* with ``lift_tests`` (``simulation.experiments``): ``experiments.csv`` or ``.parquet``, the tests in the
  experiments file format (``mmm_core.data.experiments``), named by the spec's ``experiments`` key.
"""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pandas as pd

from mmm_core.data.experiments import LiftTest
from mmm_core.simulation.truth import Simulation
from mmm_core.simulation.config import control_templates
from mmm_core.data.spec import ChannelSpec, DatasetSpec

KPI_COLUMN = "revenue"
SPEC_FILE = "spec.yaml"
TRUTH_FILE = "truth.json"
TRUTH_KPI_STEM = "truth_kpi"
EXPERIMENTS_STEM = "experiments"

UNITS = {
    "activity": "impressions for channels with an activity column; currency for spend-only channels",
    "activity_scale": "activity units per capita per week that make activity index 1 (the channel's mean "
                      "per-capita observed activity over observed region-weeks where it is > 0)",
    "activity_index": "activity / (population * activity_scale)",
    "hill_half_saturation": "activity-index units, applied to adstocked activity (normalised kernel)",
    "hill_half_saturation_per_capita": "activity units per capita per week (= half_saturation * activity_scale)",
    "channel_coefficient": "KPI units per capita per week at full saturation (hill = 1)",
    "direct_contribution": "KPI units, summed over observed region-weeks",
    "total_contribution": "KPI units over observed region-weeks: noiseless KPI minus noiseless KPI with the "
                          "channel's own activity set to 0, effects propagated through the DAG",
    "roi": "total_contribution / spend; direct_roi = direct_contribution / spend",
    "dag_adjacency": "[parent][child]: units of the child's activity index caused per unit of the parent's "
                     "activity index lag_weeks earlier (every edge, lagged or not)",
    "lag_weeks": "weeks between the parent's activity and the child's activity it causes (0 = same week)",
    "pattern": "how the channel's own activity was drawn (config.ChannelTemplate.pattern); stay_on / stay_off: "
               "Markov persistence P(on|on), P(off|off); demand_lag (weeks), demand_elasticity: demand-following "
               "spend; never_bought_regions: regions where the channel is not bought at all",
    "adstock_peak_lag": "weeks; 0 = geometric adstock decay**l, > 0 = delayed adstock decay**((l-peak_lag)**2)",
    "control_coefficient": "share of the region's base level per control unit, applied to (value - center)",
    "base_level": "KPI units per week",
    "trend_growth": "share of base level per 52 weeks",
    "seasonality_amplitude": "share of base level",
    "noise_sd": "KPI units; snr = within-region variance of kpi_noiseless / noise variance",
}


def _data_frame(sim: Simulation) -> pd.DataFrame:
    panel, truth = sim.panel, sim.truth
    r_idx, t_idx = np.nonzero(panel.observed)
    data: dict[str, object] = {
        "region": np.asarray(panel.regions, dtype=object)[r_idx],
        "week": pd.to_datetime(panel.weeks[t_idx]).strftime("%Y-%m-%d"),
        KPI_COLUMN: panel.kpi[r_idx, t_idx],
        "population": panel.population[r_idx].astype(np.int64),
    }
    for c, ch in enumerate(panel.channels):
        data[f"{ch}_spend"] = panel.spend[r_idx, t_idx, c]
        if truth.has_activity_column[c]:
            data[f"{ch}_impressions"] = panel.activity[r_idx, t_idx, c].astype(np.int64)
    for k, name in enumerate(panel.control_names):
        data[name] = panel.controls[r_idx, t_idx, k]
    return pd.DataFrame(data)


def dataset_spec(sim: Simulation, data_file: str, name: str) -> DatasetSpec:
    """The spec that reads the written data file."""
    channels = tuple(ChannelSpec(ch, f"{ch}_spend", f"{ch}_impressions" if has else None)
                     for ch, has in zip(sim.truth.channels, sim.truth.has_activity_column))
    return DatasetSpec(files=(data_file,), week_column="week", kpi_column=KPI_COLUMN, channels=channels,
                       controls=sim.truth.control_names, region_column="region", population_column="population",
                       name=name, kpi_unit=sim.config.kpi_unit, currency=sim.config.currency)


def truth_dict(sim: Simulation) -> dict:
    """JSON-ready ground truth (plain floats and lists)."""
    t = sim.truth
    channels = []
    for c, ch in enumerate(t.channels):
        channels.append({
            "name": ch, "spend_column": f"{ch}_spend",
            "activity_column": f"{ch}_impressions" if t.has_activity_column[c] else None,
            "activity_scale": float(t.activity_scale[c]),
            "adstock_decay": float(t.adstock_decay[c]), "adstock_peak_lag": float(t.adstock_peak_lag[c]),
            "adstock_kind": "delayed" if t.adstock_peak_lag[c] > 0 else "geometric",
            "hill_half_saturation": float(t.hill_half_saturation[c]),
            "hill_half_saturation_per_capita": float(t.hill_half_saturation_per_capita[c]),
            "hill_slope": float(t.hill_slope[c]), "channel_coefficient": float(t.channel_coefficient[c]),
            "spend": float(t.spend[c]), "direct_contribution": float(t.direct_contribution[c]),
            "total_contribution": float(t.total_contribution[c]), "direct_share": float(t.direct_share[c]),
            "roi": float(t.roi[c]), "direct_roi": float(t.direct_roi[c]),
            **_pattern_dict(t, c),
        })
    lag = np.zeros(t.dag_adjacency.shape, dtype=int) if t.dag_lag is None else t.dag_lag
    edges = [{"parent": t.channels[p], "child": t.channels[c], "strength": float(t.dag_adjacency[p, c]),
              "lag_weeks": int(lag[p, c])} for p, c in zip(*np.nonzero(t.dag_adjacency))]
    units = dict(control_templates(len(t.control_names)))
    first = np.argmax(t.observed, axis=1)
    return {
        "seed": sim.seed, "config": asdict(replace(sim.config, seed=sim.seed)), "units": UNITS,
        "kpi_column": KPI_COLUMN, "max_lag": t.max_lag, "snr": t.snr, "media_share": t.media_share,
        "channels": channels,
        "dag": {"channels": list(t.channels), "adjacency": t.dag_adjacency.tolist(), "lag_weeks": lag.tolist(),
                "edges": edges},
        "controls": [{"name": n, "unit": units[n].unit, "coefficient": float(t.control_coefficient[k]),
                      "center": float(t.control_center[k])} for k, n in enumerate(t.control_names)],
        "holidays": list(t.holiday_names),
        "regions": [{"region": r, "population": float(t.population[i]), "base_level": float(t.base_level[i]),
                     "trend_growth": float(t.trend_growth[i]),
                     "seasonality_amplitude": float(t.seasonality_amplitude[i]),
                     "holiday_lift": dict(zip(t.holiday_names, map(float, t.holiday_lift[i]))),
                     "region_media_multiplier": float(t.region_media_multiplier[i]),
                     "noise_sd": float(t.noise_sd[i]), "first_observed_week": str(t.weeks[first[i]]),
                     "n_observed_weeks": int(t.observed[i].sum())}
                    for i, r in enumerate(t.regions)],
    }


def _pattern_dict(t, c: int) -> dict:
    """The drawn pattern of channel ``c`` (JSON-ready: NaN / -1 fields of other patterns left out)."""
    if t.media_patterns is None:
        return {}
    drawn = t.media_patterns[c]
    out: dict[str, object] = {"pattern": drawn.pattern}
    if drawn.pattern.startswith("markov"):
        out.update(stay_on=drawn.stay_on, stay_off=drawn.stay_off)
    if drawn.pattern == "demand":
        out.update(demand_lag=drawn.demand_lag, demand_elasticity=drawn.demand_elasticity)
    if t.media_available is not None:
        never = ~t.media_available[..., c].any(axis=1) & t.observed.any(axis=1)
        out["never_bought_regions"] = [t.regions[r] for r in np.flatnonzero(never)]
    return out


def _truth_kpi_frame(sim: Simulation) -> pd.DataFrame:
    t = sim.truth
    R, T = t.observed.shape
    data: dict[str, object] = {
        "region": np.repeat(np.asarray(t.regions, dtype=object), T),
        "week": np.tile(pd.to_datetime(t.weeks).strftime("%Y-%m-%d"), R),
        "observed": t.observed.ravel(),
        "kpi_noiseless": t.kpi_noiseless.ravel(),
        "noise": t.noise.ravel(),
    }
    data.update({name: part.ravel() for name, part in t.components().items()})
    return pd.DataFrame(data)


def lift_tests_file_frame(tests: tuple[LiftTest, ...] | list[LiftTest]) -> pd.DataFrame:
    """``tests`` in the experiments file format (``mmm_core.data.experiments``): one row per experiment and
    region, weeks as ISO dates, the spend change as ``spend_multiplier``; floats keep every digit, so reading
    the file back against the panel the tests were planned on gives the same tests."""
    columns = ["experiment", "channel", "region", "first_week", "last_week", "cooldown_weeks", "spend_multiplier",
               "lift", "lift_se"]
    rows = [(t.experiment, t.channel, region, str(t.first_week), str(t.last_week), t.cooldown_weeks,
             t.spend_multiplier, t.lift, t.lift_se) for t in tests for region in t.regions]
    return pd.DataFrame(rows, columns=columns)


def write_lift_tests(tests: tuple[LiftTest, ...] | list[LiftTest], path: str | Path) -> Path:
    """Write ``tests`` as an experiments file (``.csv`` or ``.parquet``, by the suffix); returns the path."""
    path = Path(path)
    frame = lift_tests_file_frame(tests)
    if path.suffix.lower() == ".csv":
        frame.to_csv(path, index=False)
    elif path.suffix.lower() == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        raise ValueError(f"an experiments file is .csv or .parquet, got {path.name!r}")
    return path


def write_simulation(sim: Simulation, out_dir: str | Path, fmt: str = "csv",
                     name: str | None = None, lift_tests: tuple[LiftTest, ...] = ()) -> dict[str, Path]:
    """Write data, spec, truth.json and the truth KPI table to ``out_dir``; returns their paths by role
    (``data``, ``spec``, ``truth``, ``truth_kpi``, and ``experiments`` when ``lift_tests`` are given: they are
    written beside the data and named in the spec)."""
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"fmt must be 'csv' or 'parquet', got {fmt!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    name = name or out.resolve().name
    paths = {"data": out / f"{name}.{fmt}", "spec": out / SPEC_FILE, "truth": out / TRUTH_FILE,
             "truth_kpi": out / f"{TRUTH_KPI_STEM}.{fmt}"}
    frame, truth_kpi = _data_frame(sim), _truth_kpi_frame(sim)
    if fmt == "csv":
        frame.to_csv(paths["data"], index=False)
        truth_kpi.to_csv(paths["truth_kpi"], index=False, float_format="%.4f")
    else:
        frame.to_parquet(paths["data"], index=False)
        truth_kpi.to_parquet(paths["truth_kpi"], index=False)
    spec = dataset_spec(sim, paths["data"].name, name)
    if lift_tests:
        paths["experiments"] = write_lift_tests(lift_tests, out / f"{EXPERIMENTS_STEM}.{fmt}")
        spec = replace(spec, experiments=paths["experiments"].name)
    spec.to_yaml(paths["spec"])
    paths["truth"].write_text(json.dumps(truth_dict(sim), indent=1))
    return paths
