"""A refresh in its own process, for tests that SIGKILL it: ``python -m tests.reliability.refresh_worker WEEK``.

Runs job ``mmm_refresh`` in-process against the instance in ``$DAGSTER_HOME`` with the resources the
``MMM_*`` environment variables name (as ``make run`` does), then prints ``REFRESH SUCCESS`` or
``REFRESH FAILURE`` on stdout. Dagster's log lines (``fit epoch ...``) go to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys

import dagster as dg

from mmm_pipeline.definitions import defs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("week")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--holdout-weeks", type=int, default=8)
    args = parser.parse_args(argv)
    run_config = {"ops": {"mmm_model": {"config": {"epochs": args.epochs, "holdout_weeks": args.holdout_weeks,
                                                   "seed": args.seed}}}}
    job = defs().resolve_job_def("mmm_refresh")
    with dg.DagsterInstance.get() as instance:
        result = job.execute_in_process(partition_key=args.week, instance=instance, run_config=run_config,
                                        raise_on_error=False)
    failed = [e.step_key for e in result.all_events if e.is_step_failure]
    print(f"REFRESH {'SUCCESS' if result.success else 'FAILURE'} {json.dumps(failed)}", flush=True)
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main())
