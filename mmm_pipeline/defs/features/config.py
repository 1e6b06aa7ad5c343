"""Run config of the features stage."""

import dagster as dg
from pydantic import ConfigDict


class FeaturesConfig(dg.Config):
    """Launchpad-editable settings of the features stage."""

    model_config = ConfigDict(use_attribute_docstrings=True)  # the field docstrings are the Launchpad's descriptions

    window_weeks: int = 104
    """Trailing weeks of data a refresh trains on, ending with the refresh week."""
