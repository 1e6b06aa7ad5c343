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


@pytest.mark.parametrize("value, workers", [("", 2), ("1", 1), (" 4 ", 4)])
def test_mmm_workers_defaults_to_two_fits_side_by_side(value, workers):
    from mmm_pipeline.resources import workers_from_environment

    assert workers_from_environment(value) == workers


@pytest.mark.parametrize("value", ["0", "auto", "1.5"])
def test_mmm_workers_refuses_what_is_not_a_count(value):
    from mmm_pipeline.resources import workers_from_environment

    with pytest.raises(ValueError, match="MMM_WORKERS"):
        workers_from_environment(value)
