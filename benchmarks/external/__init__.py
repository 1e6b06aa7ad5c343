"""Adapters from third-party MMM data generators (optional ``bench`` extra) to ``mmm_core`` panels and truth.

Each adapter imports its generator lazily, so this package imports without the extra installed; only
running a scenario needs it (``make bench-deps``).
"""
