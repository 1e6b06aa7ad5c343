"""Stage features: the refresh's training window, raw and scaled, with its scale factors."""
