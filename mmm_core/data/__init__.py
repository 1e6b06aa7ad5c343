"""The data layer: the panel contract, dataset specs, file loading and the calendar."""
