"""DeepCausalMMM-style marketing mix modelling in torch. No Dagster imports here."""
