"""Long tables of dated values (one row a station and date: wells, piezometers, rain gauges), e.g. Doñana's
tab-separated ``bd_piezo.txt`` (``Nombre, Fechas, Valores``), turned into one row a station and one column a date."""
from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from typing import List

import numpy as np

ID_NAMES = ("id", "station", "name", "nombre", "code", "codigo", "well", "piezometer", "gauge")
DATE_NAMES = ("date", "fecha", "fechas", "time", "day", "month")
VALUE_NAMES = ("value", "valor", "valores", "head", "level", "nivel", "cota", "precipitation", "rain", "rainfall",
               "precip", "mm")


@dataclass
class DatedTable:
    """``values`` (stations x dates, NaN where a station has no value that date) of the ``ids`` at ``dates``
    (datetime64[D], increasing); several rows of one station and date are averaged."""

    ids: np.ndarray
    dates: np.ndarray
    values: np.ndarray


def _column(header: List[str], names, fallback: int) -> int:
    lower = [name.strip().lower() for name in header]
    return next((lower.index(name) for name in names if name in lower), fallback)


def read_long_table(path: str) -> DatedTable:
    """A delimited text file (comma, semicolon or tab) with a header and the columns station, date
    (YYYY-MM-DD, YYYYMMDD or YYYY-MM), value, recognised by name (else taken in that order)."""
    if not os.path.isfile(path):
        raise ValueError(f"Table not found: {path}")
    with open(path, newline="", encoding="utf-8-sig", errors="replace") as stream:
        text = stream.read()
    lines = text.splitlines()
    if len(lines) < 2:
        raise ValueError(f"{path}: no rows below the header")
    separator = max((",", ";", "\t"), key=lines[0].count)
    rows = [row for row in csv.reader(lines, delimiter=separator) if row]
    header, body = rows[0], rows[1:]
    columns = (_column(header, ID_NAMES, 0), _column(header, DATE_NAMES, 1), _column(header, VALUE_NAMES, 2))
    if len(set(columns)) < 3 or any(len(row) <= max(columns) for row in body):
        raise ValueError(f"{path}: expected the columns station, date and value (found {', '.join(header)})")
    table = np.array([[row[i].strip() for i in columns] for row in body], dtype=object)
    text_dates = np.char.replace(table[:, 1].astype(str), "/", "-")
    compact = np.char.str_len(text_dates) == 8
    text_dates[compact] = [f"{d[:4]}-{d[4:6]}-{d[6:]}" for d in text_dates[compact]]
    try:
        dates = text_dates.astype("datetime64[D]")
    except ValueError as error:
        raise ValueError(f"{path}: a date is not written YYYY-MM-DD, YYYYMMDD or YYYY-MM ({error})") from None
    values = table[:, 2].astype(str)
    values[np.char.strip(values) == ""] = "nan"
    try:
        values = np.char.replace(values, ",", ".").astype(np.float64)
    except ValueError as error:
        raise ValueError(f"{path}: a value is not a number ({error})") from None
    ids, station = np.unique(table[:, 0].astype(str), return_inverse=True)
    unique_dates, day = np.unique(dates, return_inverse=True)
    total = np.zeros((ids.size, unique_dates.size))
    count = np.zeros((ids.size, unique_dates.size))
    ok = ~np.isnan(values)
    np.add.at(total, (station[ok], day[ok]), values[ok])
    np.add.at(count, (station[ok], day[ok]), 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        wide = np.where(count > 0, total / count, np.nan)
    return DatedTable(ids=ids.astype(object), dates=unique_dates, values=wide)
