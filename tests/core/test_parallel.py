"""Fits side by side (``mmm_core.model.parallel``): results in task order, the first failure stops the other fits
through their training callback and is raised, and a refresh's two fits on two threads are the fits made one
after the other."""

import threading
import time

import numpy as np
import pytest

from mmm_core.analysis.backtest import fit_with_holdout
from mmm_core.model.parallel import FitCancelled, run_parallel, stop_check


def test_results_come_back_in_task_order_on_any_number_of_workers():
    tasks = [lambda stop, i=i: (time.sleep(0.02 * (3 - i)), i)[1] for i in range(4)]
    assert run_parallel(tasks, workers=1) == [0, 1, 2, 3]
    assert run_parallel(tasks, workers=3) == [0, 1, 2, 3]


def test_a_failing_fit_stops_the_fit_beside_it_and_its_error_is_raised():
    stopped = threading.Event()

    def long_fit(stop):
        check = stop_check(stop)
        try:
            for _ in range(500):  # 10 s unless stopped
                time.sleep(0.02)
                check(None)
        except FitCancelled:
            stopped.set()
            raise
        return "finished"

    def failing_fit(stop):
        time.sleep(0.1)
        raise ValueError("bad panel")

    started = time.perf_counter()
    with pytest.raises(ValueError, match="bad panel"):
        run_parallel([long_fit, failing_fit], workers=2)
    assert stopped.is_set()
    assert time.perf_counter() - started < 5.0


def test_the_holdout_fit_and_the_refit_side_by_side_are_the_fits_one_after_the_other(tiny_panel):
    quick = {"train": {"threads": 1, "epochs": 40, "min_epochs": 20, "patience": 10}}
    events = []
    one = fit_with_holdout(tiny_panel, overrides=quick)
    two = fit_with_holdout(tiny_panel, overrides=quick, workers=2, callback=events.append)
    np.testing.assert_array_equal(one.model.predict(tiny_panel), two.model.predict(tiny_panel))
    np.testing.assert_array_equal(one.holdout_model.predict(tiny_panel), two.holdout_model.predict(tiny_panel))
    assert {e.phase for e in events} == {"holdout fit", "holdout refit", "fit", "refit"}
