"""Point time series of InSAR measurement points (seeds 001 and 004): import, groundwater at the points, models."""
