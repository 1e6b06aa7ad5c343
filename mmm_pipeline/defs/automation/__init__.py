"""Stage automation: the weekly refresh job and schedule, and the sensor that frees dead runs' pool slots."""
