"""Processing algorithms of the InSAR measurement points (seed 002): labels, screening, hot spots, GNSS validation."""
