"""Binds the code location's resources for this deployment (paths from ``MMM_*`` variables, see mmm_pipeline.resources)."""

import dagster as dg

from mmm_pipeline.resources import default_resources


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources=default_resources())
