"""Budget planning: the optimiser over a curve protocol, spend constraints and scenarios."""
