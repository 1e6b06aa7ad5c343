"""Deployment settings read from the environment."""

import pytest


@pytest.mark.parametrize("value, threads", [("", 1), ("2", 2), (" auto ", None), ("AUTO", None)])
def test_mmm_threads_defaults_to_one_thread_and_auto_leaves_torchs_setting(value, threads):
    from mmm_pipeline.resources import threads_from_environment

    assert threads_from_environment(value) == threads


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5"])
def test_mmm_threads_refuses_what_is_not_a_thread_count(value):
    from mmm_pipeline.resources import threads_from_environment

    with pytest.raises(ValueError, match="MMM_THREADS"):
        threads_from_environment(value)
