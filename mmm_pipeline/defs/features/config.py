"""Run config of the features stage."""

import dagster as dg


class FeaturesConfig(dg.Config):
    window_weeks: int = 104
    """Trailing weeks of data a refresh trains on, ending with the refresh week."""
