"""The shipped Dagster instance config (``config/dagster.yaml``): the UI opens without Dagster's community
pop-up (issue 15, item 22) and sends no telemetry."""

from __future__ import annotations

import shutil

import dagster as dg

from tests.conftest import ROOT


def test_the_shipped_instance_shows_no_first_visit_popup_and_sends_no_telemetry(tmp_path):
    shutil.copy(ROOT / "config" / "dagster.yaml", tmp_path / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        # the webserver's GraphQL `shouldShowNux` is `instance.nux_enabled and not seen`
        assert instance.nux_enabled is False
        assert instance.telemetry_enabled is False
