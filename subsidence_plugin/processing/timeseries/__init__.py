"""Processing algorithms of the point time series (seeds 001 and 004)."""
