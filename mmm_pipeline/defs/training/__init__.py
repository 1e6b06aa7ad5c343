"""Stage training: the refresh's fitted model (holdout fit, baselines, refit), its run records and model checks."""
