"""Plain Python behind the pipeline: every file and table a refresh reads or writes. Never imports dagster.

warehouse (raw layer SQL), loads (raw_loads: the one load rule of every raw table), experiments (the spec's
experiments file, validated and kept in the raw layer), tables (the one registry of refresh tables, their
columns and partition writes), swap (the one atomic swap of a file or folder), artifacts (model folders with
checksums), serving (the published copy and its Parquet exports), runs (model_runs / model_metrics rows),
report_data (what the dashboard shows), locations (default paths from the environment). The Dagster resources
in ``mmm_pipeline.resources`` wrap these; tests call them on files in ``tmp_path``.
"""
