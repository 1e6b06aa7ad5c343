"""What is computed from a fitted model: forecast metrics against naive baselines, backtests, response curves."""
