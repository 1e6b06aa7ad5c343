"""The ``mmm`` console command.

    mmm simulate --preset sample --out data/sample [--seed 7] [--format csv|parquet] [--name sample]

Each subcommand is one small function taking the parsed arguments and returning an exit code.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path


def _simulate(args: argparse.Namespace) -> int:
    from mmm_core.simulation.simulator import simulate, write_simulation

    sim = simulate(args.preset, seed=args.seed)
    paths = write_simulation(sim, args.out, fmt=args.format, name=args.name)
    panel, truth = sim.panel, sim.truth
    print(f"simulated preset {args.preset!r} with seed {sim.seed}: {panel.n_regions} regions x "
          f"{panel.n_weeks} weeks x {panel.n_channels} channels x {panel.n_controls} controls, "
          f"{int(panel.observed.sum())} observed region-weeks, media share {truth.media_share:.3f}")
    for role, path in paths.items():
        print(f"  wrote {role:<9} {path} ({Path(path).stat().st_size / 1e6:.2f} MB)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from mmm_core.simulation.config import PRESETS

    parser = argparse.ArgumentParser(prog="mmm", description="Marketing mix modelling tools.")
    commands = parser.add_subparsers(dest="command", required=True)
    sim = commands.add_parser("simulate", help="write a simulated panel with its ground truth",
                              description="Simulate a region x week panel with known ground truth and write the "
                                          "data file, spec.yaml, truth.json and the truth KPI table.")
    sim.add_argument("--preset", default="sample", choices=sorted(PRESETS), help="size/knob preset (default sample)")
    sim.add_argument("--out", required=True, type=Path, help="output folder (created if missing)")
    sim.add_argument("--seed", type=int, default=None, help="random seed (default: the preset's seed)")
    sim.add_argument("--format", default="csv", choices=("csv", "parquet"), help="data file format (default csv)")
    sim.add_argument("--name", default=None, help="dataset name and data file stem (default: the folder name)")
    sim.set_defaults(handler=_simulate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
