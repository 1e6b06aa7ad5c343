"""The model layer: transforms, the network, scaling, seasonality, priors, training and the MMM estimator."""
