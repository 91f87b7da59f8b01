"""Monthly gridded water-storage fields (GRACE / GRACE-FO TWS, GLDAS land-surface terms; seed 002 §III-C).

One `MonthlyGrid` is one product's monthly fields of one storage term on a regular longitude / latitude grid, in mm
of water (kg/m² = mm), as the readers in `products` return them and the storage computation in `storage` takes them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np

TERMS = ("tws", "sm", "cws", "swe", "qs", "precip")  # total water, soil moisture, canopy, snow, runoff, rain + snow
TERM_NAMES = {"tws": "total water storage", "sm": "soil moisture", "cws": "canopy water", "swe": "snow water",
              "qs": "surface runoff (the month's total)", "precip": "precipitation (the month's total)"}


@dataclass
class MonthlyGrid:
    """One product's monthly fields of one term: ``values`` (months x lat x lon, float64, mm of water; NaN = no
    data: fill, masked, ocean) at cell centres ``lat`` (degrees, increasing or decreasing) and ``lon`` (degrees,
    increasing, in −180 … 360: a grid in 0 … 360 stays so), for ``months`` (datetime64[M], increasing, unique).
    ``source`` names the centre or model ("CSR", "JPL", "GFZ", "NOAH", "CLSM", "VIC"), ``product`` the product as
    read (e.g. "JPL RL06.1M mascons v03 CRI (0.5°)"), ``term`` one of `TERMS`. ``resolution`` is the grid
    spacing (degrees, not the signal's resolution: GRACE resolves ~300 km whatever the posting), ``steps`` the
    number of 3-hour model steps behind each month's value (GLDAS; None for GRACE), ``notes`` what the reader did
    (gain factors, masks, months moved, incomplete months) for the report."""

    source: str
    product: str
    term: str
    months: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    values: np.ndarray
    resolution: float = float("nan")
    steps: Optional[np.ndarray] = None
    notes: Tuple[str, ...] = ()

    def __post_init__(self):
        if self.term not in TERMS:
            raise ValueError(f"Unknown storage term {self.term!r}; expected one of {', '.join(TERMS)}")
        self.months = np.asarray(self.months, dtype="datetime64[M]")
        self.lat = np.asarray(self.lat, dtype=np.float64)
        self.lon = np.asarray(self.lon, dtype=np.float64)
        self.values = np.asarray(self.values, dtype=np.float64)
        expected = (self.months.size, self.lat.size, self.lon.size)
        if self.values.shape != expected:
            raise ValueError(f"{self.product}: values of shape {self.values.shape}, expected {expected} "
                             "(months x lat x lon)")
        if self.months.size > 1 and np.any(np.diff(self.months.astype(np.int64)) <= 0):
            raise ValueError(f"{self.product}: months must increase without repeats")
        if self.steps is not None:
            self.steps = np.asarray(self.steps, dtype=np.int64)
            if self.steps.shape != self.months.shape:
                raise ValueError(f"{self.product}: {self.steps.size} step counts for {self.months.size} months")
        self.notes = tuple(self.notes)
