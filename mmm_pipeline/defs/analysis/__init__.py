"""Stage analysis: what a refresh's fitted model says (decomposition, response curves, budget scenarios), with checks."""
