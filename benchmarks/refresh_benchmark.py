"""End-to-end refresh benchmark: ingest → features → model → decomposition → publish, one process.

    .venv/bin/python benchmarks/refresh_benchmark.py --preset benchmark [--epochs N] [--ensemble-members K]
                     [--bias-refits R]

Simulates the preset into a temporary folder, runs the ``mmm_refresh`` job for the data's last week
in-process against a throwaway Dagster instance, and prints wall time and peak RSS per asset step and
in total. Peak RSS per step comes from sampling /proc/self/status every 50 ms during the run.
Target (issue 4) at the benchmark preset on 2 cores: ≤ 3 min and ≤ 2 GB.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


class RssSampler(threading.Thread):
    def __init__(self, every: float = 0.05):
        super().__init__(daemon=True)
        self.every, self.samples, self.stopped = every, [], threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            self.samples.append((time.time(), rss_mb()))
            time.sleep(self.every)

    def peak_between(self, start: float, end: float) -> float:
        values = [mb for t, mb in self.samples if start <= t <= end]
        return max(values) if values else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="benchmark")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=None, help="override the model's default epochs")
    parser.add_argument("--ensemble-members", type=int, default=None,
                        help="override the ensemble's members (0: point estimates only)")
    parser.add_argument("--bias-refits", type=int, default=None,
                        help="refits from scratch that widen the intervals toward the model's bias (EnsembleConfig)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="mmm_refresh_bench_"))
    os.environ.update({"MMM_DATA_DIR": str(work), "MMM_SPEC_PATH": str(work / "input" / "spec.yaml"),
                       "MMM_WAREHOUSE_PATH": str(work / "warehouse.duckdb"),
                       "MMM_REFRESH_START": os.environ.get("MMM_REFRESH_START", "2000-01-03")})
    import dagster as dg

    from mmm_core.simulation.simulator import simulate, write_simulation
    from mmm_pipeline.definitions import defs

    sim = simulate(args.preset, seed=args.seed)
    write_simulation(sim, work / "input", name=args.preset)
    last = dt.date.fromisoformat(str(sim.panel.weeks[-1]))
    week = (last - dt.timedelta(days=last.weekday())).isoformat()
    model_config = {k: v for k, v in (("epochs", args.epochs), ("ensemble_members", args.ensemble_members),
                                      ("bias_refits", args.bias_refits)) if v is not None}
    run_config = {"ops": {"mmm_model": {"config": model_config}}} if model_config else {}

    sampler = RssSampler()
    sampler.start()
    started = time.time()
    with dg.instance_for_test() as instance:
        result = defs().resolve_job_def("mmm_refresh").execute_in_process(
            partition_key=week, instance=instance, run_config=run_config, raise_on_error=False)
        wall = time.time() - started
        sampler.stopped.set()
        steps: dict[str, list[float]] = {}
        for record in instance.all_logs(result.run_id):
            ev = record.dagster_event
            if ev is None or not ev.step_key:
                continue
            if ev.event_type_value == "STEP_START":
                steps.setdefault(ev.step_key, [record.timestamp, record.timestamp])
            elif ev.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE"):
                steps.setdefault(ev.step_key, [record.timestamp, record.timestamp])[1] = record.timestamp

    R, T, C, K = sim.panel.n_regions, sim.panel.n_weeks, sim.panel.n_channels, sim.panel.n_controls
    print(f"preset {args.preset}: {R} regions × {T} weeks × {C} channels × {K} controls; refresh {week}")
    print(f"{'step':<34}{'seconds':>10}{'peak RSS MB':>14}")
    for step, (t0, t1) in sorted(steps.items(), key=lambda kv: kv[1][0]):
        print(f"{step:<34}{t1 - t0:>10.1f}{sampler.peak_between(t0, t1):>14.0f}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{'total':<34}{wall:>10.1f}{peak:>14.0f}   success={result.success}")
    print(f"outputs under {work}")
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main())
