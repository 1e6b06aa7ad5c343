"""The simulator with known ground truth, the outside generator, recovery scores and oracles."""
