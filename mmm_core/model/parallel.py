"""Independent fits side by side on threads: ``run_parallel``.

A refresh fits several models that do not read each other: the holdout model and the published refit, then
the ensemble's members. torch releases Python's lock inside its operations and in autograd, so two fits on one
intra-op thread each run on two cores at once, where two intra-op threads on one fit do not help (its
operations are too small to split). Every fit stays deterministic for its seed whatever runs beside it: the
one piece of global random state a fit reads (the GRU's starting weights, drawn from torch's global generator)
is drawn under ``SEEDED``, and nothing reads it afterwards.

A fit in a worker thread must return promptly when the run is stopped (Ctrl-C, SIGTERM in the main thread):
``run_parallel`` gives each task a ``threading.Event`` that is set when any task fails or the main thread is
interrupted, and ``stop_check(event)`` turns it into a training callback that raises ``FitCancelled``.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import TypeVar

T = TypeVar("T")
A = TypeVar("A")

SEEDED = threading.Lock()
"""Held while a fit seeds torch's global generator and draws its network's starting weights."""


class FitCancelled(RuntimeError):
    """A fit stopped because the run it belonged to failed or was interrupted."""


def stop_check(stop: threading.Event, callback: Callable | None = None) -> Callable:
    """A training callback that raises ``FitCancelled`` once ``stop`` is set, after calling ``callback``."""
    def check(*args):
        if callback is not None:
            callback(*args)
        if stop.is_set():
            raise FitCancelled("stopped: another fit of the run failed or the run was interrupted")
    return check


def run_parallel(tasks: Sequence[Callable[[threading.Event], T]], workers: int) -> list[T]:
    """Results of ``task(stop)`` for every task, in order, on ``workers`` threads (1: one after another in the
    calling thread). The first exception (a task's, or an interrupt of the calling thread) sets ``stop``, waits
    for the running tasks to notice it, and is raised."""
    stop = threading.Event()
    if workers <= 1 or len(tasks) <= 1:
        return [task(stop) for task in tasks]
    pool = ThreadPoolExecutor(max_workers=min(workers, len(tasks)), thread_name_prefix="mmm-fit")
    futures = [pool.submit(task, stop) for task in tasks]
    try:
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        failed = [f for f in futures if f in done and f.exception() is not None]
        if failed:
            raise failed[0].exception()
        return [f.result() for f in futures]
    except BaseException:
        stop.set()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def parallel_map(function: Callable[[A], T], items: Sequence[A], workers: int) -> list[T]:
    """``[function(item) for item in items]`` on ``workers`` threads (``run_parallel``): the same analysis of each
    ensemble member (curves, budgets, draws), each item's work independent of the others'."""
    return run_parallel([functools.partial(_apply, function, item) for item in items], workers)


def _apply(function: Callable[[A], T], item: A, stop: threading.Event) -> T:
    return function(item)
