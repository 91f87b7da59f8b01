"""Processing algorithms of groundwater storage from GRACE / GLDAS (seed 002 §III-C) and the comparison of monthly
series (ΔGWS, precipitation, InSAR displacement)."""
