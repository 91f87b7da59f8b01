"""Validate the GNSS readers on real station files (gnss-formats).

    .venv/bin/python scripts/validation/validate_gnss.py [DATA_FOLDER] [--json out.json]

Reads LHAS.tenv3 (Nevada Geodetic Laboratory, 23 columns, east / north / up in m, 1995-2007) and
P156.pbo.final_igs08.pos (EarthScope / UNAVCO PBO 1.1.0, dN / dE / dU in m, 2006-2015) with the plugin's readers
(`core.points.gnss.read_gnss_file`) and prints each station's span, epochs, position and least-squares velocities
(mm/yr, white-noise standard errors). The oracle: the same columns read independently with numpy.loadtxt (tenv3 up =
columns 12 + 13, time from the MJD of column 4; pos dU = column 18, time from its MJD) and fitted with numpy.polyfit.
The issue's anchors: up velocities -0.32 mm/yr (LHAS) and -1.21 mm/yr (P156).
"""
from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # scripts/: the harness
import harness  # noqa: E402  (puts the repository root on sys.path)

from subsidence_plugin.core.points.gnss import linear_velocities, read_gnss_file  # noqa: E402

FILES = {"LHAS.tenv3": {"anchor": -0.32, "mjd": 3, "up": (11, 12), "skip": 1},
         "P156.pbo.final_igs08.pos": {"anchor": -1.21, "mjd": 2, "up": (17,), "skip": 37}}


def oracle_up_velocity(path: str, spec: dict) -> float:
    """numpy.loadtxt of the MJD and up columns, numpy.polyfit of up (mm) against years of 365.25 days."""
    columns = (spec["mjd"],) + spec["up"]
    table = np.loadtxt(path, skiprows=spec["skip"], usecols=columns)
    years = (table[:, 0] - table[0, 0]) / 365.25
    return float(np.polyfit(years, table[:, 1:].sum(axis=1) * 1000.0, 1)[0])


def main(argv=None):
    parser = harness.argument_parser(__doc__, data=True)
    parser.add_argument("--json", default="")
    args = parser.parse_args(argv)
    results = {}
    for name, spec in FILES.items():
        path = os.path.join(args.data, "gnss-formats", name)
        [station] = read_gnss_file(path)
        velocity, error = linear_velocities(station.dates, station.enu)
        results[station.name] = {
            "file": name, "first epoch": str(station.dates[0]), "last epoch": str(station.dates[-1]),
            "span (years)": float((station.dates[-1] - station.dates[0]).astype(float) / 365.25),
            "epochs (days)": int(station.dates.size), "latitude (deg)": station.lat, "longitude (deg)": station.lon,
            "east velocity (mm/yr)": float(velocity[0]), "north velocity (mm/yr)": float(velocity[1]),
            "up velocity (mm/yr)": float(velocity[2]), "up standard error (mm/yr, white noise)": float(error[2]),
            "up velocity, numpy.loadtxt + polyfit (mm/yr)": oracle_up_velocity(path, spec),
            "issue's anchor (mm/yr)": spec["anchor"]}
    rows = [[key] + [format(r[key], ".4f") if isinstance(r[key], float) else r[key] for r in results.values()]
            for key in next(iter(results.values()))]
    harness.print_table(["measure", *results], rows)
    anchor = "issue's anchor (mm/yr)"
    for name, r in results.items():
        agree = abs(r["up velocity (mm/yr)"] - r["up velocity, numpy.loadtxt + polyfit (mm/yr)"]) < 1e-6
        print(f"{name}: up {r['up velocity (mm/yr)']:.2f} mm/yr (anchor {r[anchor]:.2f}); reader and oracle agree: "
              f"{agree}")
    harness.write_json(args.json, results)


if __name__ == "__main__":
    main()
