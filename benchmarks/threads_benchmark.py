"""How the fit's speed depends on torch threads and the OpenMP wait policy, on a quiet and on a loaded machine.

    .venv/bin/python benchmarks/threads_benchmark.py [--preset sample] [--epochs 120] [--repeats 3] [--load 2]

Each trial is a fresh process (the OpenMP wait policy is read once, at start-up) that fits ``--epochs`` epochs
of the default model (no early stopping, no refit) and reports its median milliseconds per epoch (set-up and
the first epochs' warm-up excluded). Conditions: threads 1
or 2, ``OMP_WAIT_POLICY`` unset (libgomp spins a while before sleeping) or ``PASSIVE``; quiet, or with
``--load`` busy-loop processes competing for the cores (a shared CI box). Trials run interleaved, so every
condition sees the same drift of the machine; the table gives medians and the ratio to the quiet 1-thread
fit. Never run in tests.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

TRIAL = """
import json, sys
sys.path.insert(0, {root!r})
from mmm_core.model.estimator import MMM
from mmm_core.simulation.simulator import simulate
panel = simulate({preset!r}, seed=0).panel
mmm = MMM(overrides={{"train": {{"threads": {threads}, "epochs": {epochs}, "min_epochs": {epochs},
                                 "patience": {epochs}, "refit_fraction": 0.0}}}})
mmm.fit(panel)
elapsed = [event.seconds for event in mmm.train_result_.history]
steps = sorted(b - a for a, b in zip(elapsed[5:], elapsed[6:]))  # past the first epochs' warm-up
print(json.dumps({{"ms_per_epoch": 1000 * steps[len(steps) // 2]}}))
"""

BUSY = "while True: pass"


def trial(preset: str, threads: int, policy: str | None, epochs: int) -> float:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS", "MMM_THREADS")}
    if policy:
        env["OMP_WAIT_POLICY"] = policy
    code = TRIAL.format(root=str(ROOT), preset=preset, threads=threads, epochs=epochs)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["ms_per_epoch"]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="sample")
    parser.add_argument("--epochs", type=int, default=120)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--load", type=int, default=2, help="busy-loop processes in the loaded condition")
    args = parser.parse_args(argv)
    print(f"cores {os.cpu_count()}, load average before: {os.getloadavg()}", flush=True)
    conditions = list(itertools.product(("quiet", "loaded"), (1, 2), (None, "PASSIVE")))
    times: dict[tuple, list[float]] = {c: [] for c in conditions}
    for repeat in range(args.repeats):
        for load, threads, policy in conditions:
            busy = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(args.load if load == "loaded" else 0)]
            try:
                time.sleep(0.5 if busy else 0)
                ms = trial(args.preset, threads, policy, args.epochs)
            finally:
                for p in busy:
                    p.kill()
                    p.wait()
            times[(load, threads, policy)].append(ms)
            print(f"repeat {repeat}: {load:<6} threads {threads} OMP_WAIT_POLICY {policy or 'unset':<7} "
                  f"{ms:8.1f} ms/epoch", flush=True)
    base = statistics.median(times[("quiet", 1, None)])
    print(f"\nmedians over {args.repeats} repeats ({args.preset}, {args.epochs} epochs, load {args.load} busy "
          f"processes; load average after: {os.getloadavg()})")
    report = {}
    for (load, threads, policy), values in times.items():
        med = statistics.median(values)
        report[f"{load}/threads={threads}/omp_wait={policy or 'unset'}"] = round(med, 1)
        print(f"  {load:<6} threads {threads} OMP_WAIT_POLICY {policy or 'unset':<7} {med:8.1f} ms/epoch  "
              f"x{med / base:5.2f} of quiet 1 thread")
    return report


if __name__ == "__main__":
    main()
