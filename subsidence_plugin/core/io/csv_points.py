"""Points from delimited text (EGMS CSV downloads and other point exports), read in blocks of lines.

The coordinate columns are recognised by name (``easting`` / ``northing``, ``x`` / ``y``, ``longitude`` /
``latitude``, ``lon`` / ``lat``); the separator (comma, semicolon, tab, spaces) is detected from the header line.
A column is numeric when every value in the first megabyte is a number or empty (empty = NULL; a later value that
is not a number is an error naming its line), otherwise text. Blocks of 16 MB of lines are parsed by numpy's C
reader (`numpy.loadtxt`); the date columns (``YYYYMMDD``, ``DYYYYMMDD``, ``D_YYYYMMDD``) go to a float32 `RowStore`
on a temporary file, so 10^6 points x 300 dates (2.5 GB of text) are read with memory for one block and the other
columns. Blocks with quoted fields, and blocks numpy refuses (to name the bad line), go through Python's csv
module.
"""
from __future__ import annotations

import csv
import io
import os
import warnings
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import numpy as np

from ..progress import CancelCheck, Cancelled, ProgressCallback
from .points import PointReadError, PointTable, date_of_field
from .row_store import RowStore

# (x name, y name) pairs in order of preference, lower case.
COORDINATE_PAIRS = (("easting", "northing"), ("x", "y"), ("longitude", "latitude"), ("lon", "lat"))
GEOGRAPHIC_PAIRS = {("longitude", "latitude"), ("lon", "lat")}
EGMS_PROJECTED_EPSG = 3035  # EGMS L2a / L2b / L3 easting and northing: ETRS89-extended / LAEA Europe
WGS84_EPSG = 4326
BLOCK_BYTES = 1 << 24  # text parsed at once
SAMPLE_BYTES = 1 << 20  # text from which the column types are detected


def csv_header(path: str) -> Tuple[List[str], str]:
    """Column names of a delimited text file and its separator, from the first line."""
    if not os.path.isfile(path):
        raise PointReadError(f"File not found: {path}")
    with open(path, newline="", encoding="utf-8-sig", errors="replace") as stream:
        line = stream.readline()
    if not line.strip():
        raise PointReadError(f"{path}: the file is empty")
    separator = max((",", ";", "\t", " "), key=line.count)
    if separator == " ":
        return line.split(), separator
    return [name.strip() for name in next(csv.reader([line], delimiter=separator))], separator


def coordinate_columns(names: List[str]) -> Optional[Tuple[str, str]]:
    """The (x, y) column names of a header, or None."""
    lower = {name.lower(): name for name in names}
    for x_name, y_name in COORDINATE_PAIRS:
        if x_name in lower and y_name in lower:
            return lower[x_name], lower[y_name]
    return None


def is_geographic_pair(pair: Tuple[str, str]) -> bool:
    return (pair[0].lower(), pair[1].lower()) in GEOGRAPHIC_PAIRS


@dataclass
class _Layout:
    """Where the columns of a file are and how they are read."""

    path: str
    names: List[str]
    separator: str
    x: int
    y: int
    others: List[int]  # attribute columns, in file order
    dates: List[int]  # date columns, by date
    numeric: Optional[Dict[int, bool]] = None  # of the attribute columns, from the file's first megabyte

    def dtype(self) -> np.dtype:
        fields = [("x", np.float64), ("y", np.float64)]
        fields += [(f"c{i}", np.float64 if self.numeric[i] else object) for i in self.others]
        if self.dates:
            fields.append(("series", np.float32, (len(self.dates),)))
        return np.dtype(fields)

    @property
    def usecols(self) -> List[int]:
        return [self.x, self.y] + self.others + self.dates


def read_csv_points(path: str, crs_wkt: str, coordinates: Optional[Tuple[str, str]] = None,
                    progress: Optional[ProgressCallback] = None, is_cancelled: Optional[CancelCheck] = None,
                    block_bytes: Optional[int] = None) -> PointTable:
    """Every row of a delimited text file as a point in ``crs_wkt`` (the CRS of its coordinate columns), with
    all other columns as attributes (numbers as float64 with NaN for empty values, text as str with None) and its
    date columns as the series, a float32 `RowStore` in the file's units (NaN where empty). Rows without
    coordinates are left out. ``progress(percent, message)`` gets the share of the file read; ``block_bytes``:
    text parsed at once (default `BLOCK_BYTES`). Raises `PointReadError` for a file without recognisable
    coordinate columns, without rows, with a row of another number of fields than the header or a value that is
    not a number in a numeric column (naming the line)."""
    names, separator = csv_header(path)
    pair = coordinates or coordinate_columns(names)
    if pair is None:
        raise PointReadError(f"{path}: no coordinate columns (easting / northing, x / y, longitude / latitude or "
                             f"lon / lat) among {', '.join(names[:12])}{' ...' if len(names) > 12 else ''}")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise PointReadError(f"{path}: the header names {', '.join(repeated)} more than once")
    x, y = names.index(pair[0]), names.index(pair[1])
    dated = sorted((date_of_field(name), i) for i, name in enumerate(names)
                   if date_of_field(name) is not None and i not in (x, y))
    date_columns = [i for _, i in dated]
    layout = _Layout(path, names, separator, x, y, [i for i in range(len(names)) if i not in {x, y, *date_columns}],
                     date_columns)
    store = RowStore(len(date_columns))
    try:
        xs, ys, columns, fids = _read_blocks(layout, store, progress, is_cancelled, block_bytes or BLOCK_BYTES)
    except BaseException:
        store.close()
        raise
    if fids.size == 0:
        store.close()
        raise PointReadError(f"{path}: the file has a header but no rows")
    if xs.size == 0:
        store.close()
        raise PointReadError(f"{path}: no row has both coordinates ({pair[0]}, {pair[1]})")
    return PointTable(path=path, layer_name=os.path.splitext(os.path.basename(path))[0], crs_wkt=crs_wkt, x=xs,
                      y=ys, fids=fids, attributes={names[i]: columns[i] for i in layout.others},
                      dates=np.array([d for d, _ in dated], dtype="datetime64[D]"), series=store,
                      date_fields=[names[i] for i in date_columns])


def _read_blocks(layout: _Layout, store: RowStore, progress, is_cancelled, block_bytes: int):
    """Parse the file block by block: (x, y, {column: values}, fids) of the rows with coordinates; their series
    appended to ``store``."""
    size = max(os.path.getsize(layout.path), 1)
    xs, ys, fids, parts = [], [], [], {i: [] for i in layout.others}
    rows = 0
    with open(layout.path, "rb") as stream:
        stream.readline()  # the header
        start = stream.tell()
        layout.numeric = _column_types(stream.read(SAMPLE_BYTES), layout)
        stream.seek(start)
        line = 2  # the number of the block's first line
        for block in _line_blocks(stream, block_bytes):
            if is_cancelled is not None and is_cancelled():
                raise Cancelled()
            x, y, columns, series = _parse_block(block, layout, line)
            line += _count(block, "\n")
            located = np.isfinite(x) & np.isfinite(y)
            located = slice(None) if located.all() else located  # no copies in the usual case
            fids.append(np.arange(rows + 1, rows + x.size + 1)[located])
            rows += x.size
            xs.append(x[located])
            ys.append(y[located])
            for i in layout.others:
                parts[i].append(columns[i][located])
            store.append(series[located])
            if progress is not None:
                progress(100.0 * stream.tell() / size, "")
    if not fids:
        return np.zeros(0), np.zeros(0), {i: np.zeros(0) for i in layout.others}, np.zeros(0, dtype=np.int64)
    columns = {i: np.concatenate(parts.pop(i)) for i in layout.others}  # each column's blocks freed in turn
    return np.concatenate(xs), np.concatenate(ys), columns, np.concatenate(fids)


def _line_blocks(stream, block_bytes: int):
    """The file's remaining bytes in blocks of whole lines (about ``block_bytes`` each, ending with a newline), each
    copied once."""
    rest = b""
    while True:
        chunk = stream.read(block_bytes)
        if not chunk:
            if rest.strip():
                yield rest + b"\n"
            return
        cut = chunk.rfind(b"\n") + 1
        if cut:
            yield b"".join((rest, memoryview(chunk)[:cut]))
            rest = chunk[cut:]
        else:  # a line longer than the block
            rest += chunk


def _column_types(sample: bytes, layout: _Layout) -> Dict[int, bool]:
    """Whether each attribute column is numeric: every value of the sample's whole lines a number or empty, and at
    least one a number."""
    rows = _text_rows(sample[:sample.rfind(b"\n") + 1] or sample, layout, 2)
    numeric = {}
    for i in layout.others:
        values = [row[i].strip() for _, row in rows if row[i].strip()]
        numeric[i] = bool(values) and all(_is_number(v) for v in values)
    return numeric


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _parse_block(block: bytes, layout: _Layout, line: int):
    """(x, y, {column: values}, series) of a block of lines: numpy's reader (again with ``nan`` in the empty fields
    if it refused them), else (quotes, an error to locate) Python's csv module."""
    if b'"' not in block:
        text = block.replace(b"\r\n", b"\n") if b"\r" in block else block
        records = _load(text, layout)
        if records is None and layout.separator != " ":
            text = _nan_for_empty(text, layout.separator.encode())
            records = _load(text, layout)
        if records is not None and _no_long_rows(text, len(records), layout):
            return _columns_of(records, layout)
    return _parse_rows(block, layout, line)


def _load(text: bytes, layout: _Layout) -> Optional[np.ndarray]:
    """The block's records through numpy's reader, None if it refuses them."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "input contained no data" for a block of blank lines
            return np.loadtxt(io.BytesIO(text), dtype=layout.dtype(), comments=None, usecols=layout.usecols,
                              delimiter=None if layout.separator == " " else layout.separator, encoding="utf-8",
                              ndmin=1)
    except (ValueError, UnicodeDecodeError):
        return None


def _nan_for_empty(block: bytes, sep: bytes) -> bytes:
    """``nan`` written into the empty fields of a block."""
    block = block.replace(sep + sep, sep + b"nan" + sep).replace(sep + sep, sep + b"nan" + sep)
    block = block.replace(sep + b"\n", sep + b"nan\n").replace(b"\n" + sep, b"\nnan" + sep)
    return b"nan" + block if block.startswith(sep) else block


def _count(text: bytes, character: str) -> int:
    """How often a one-byte character occurs (numpy counts several times faster than ``bytes.count``)."""
    return int(np.count_nonzero(np.frombuffer(text, dtype=np.uint8) == ord(character)))


def _no_long_rows(text: bytes, rows: int, layout: _Layout) -> bool:
    """Whether no line of a block numpy's reader took has more fields than the header (it refuses lines with
    fewer): its separators counted (its words, for a space-separated file)."""
    if layout.separator == " ":
        return len(text.split()) == rows * len(layout.names)
    return _count(text, layout.separator) == rows * (len(layout.names) - 1)


def _columns_of(records: np.ndarray, layout: _Layout):
    """`_parse_block`'s result from numpy's records (empty text, or ``nan`` written for it, is None)."""
    columns = {}
    for i in layout.others:
        values = records[f"c{i}"].copy()  # not a view: the block's records are freed
        if not layout.numeric[i]:
            values[(values == "") | (values == "nan")] = None
        columns[i] = values
    series = np.ascontiguousarray(records["series"]) if layout.dates else np.zeros((len(records), 0), np.float32)
    return records["x"].copy(), records["y"].copy(), columns, series


def _text_rows(block: bytes, layout: _Layout, line: int) -> List[Tuple[int, List[str]]]:
    """The non-blank lines of a block as lists of strings (Python's csv module), with their line numbers; a
    line with another number of fields than the header is an error."""
    text = block.decode("utf-8", errors="replace")
    if layout.separator == " ":
        rows = ((number, text_line.split()) for number, text_line in enumerate(text.splitlines(), start=line))
    else:
        reader = csv.reader(io.StringIO(text), delimiter=layout.separator)
        rows = ((line + reader.line_num - 1, row) for row in reader)
    out = []
    for number, row in rows:
        if not any(value.strip() for value in row):
            continue
        if len(row) != len(layout.names):
            raise PointReadError(f"{layout.path}: line {number} has {len(row)} fields, the header has "
                                 f"{len(layout.names)}")
        out.append((number, row))
    return out


def _parse_rows(block: bytes, layout: _Layout, line: int):
    """`_parse_block` through Python's csv module, with the line and column of a value that is not a number."""
    rows = _text_rows(block, layout, line)

    def numbers(i: int) -> np.ndarray:
        values = np.full(len(rows), np.nan)
        for row, (number, fields) in enumerate(rows):
            text = fields[i].strip()
            if text:
                try:
                    values[row] = float(text)
                except ValueError:
                    raise PointReadError(f"{layout.path}: line {number}: {layout.names[i]} {text!r} is not a "
                                         "number") from None
        return values

    columns = {}
    for i in layout.others:
        columns[i] = numbers(i) if layout.numeric[i] else np.array(
            [fields[i] if fields[i].strip() else None for _, fields in rows], dtype=object)
    series = np.column_stack([numbers(i) for i in layout.dates]).astype(np.float32) if layout.dates and rows \
        else np.zeros((len(rows), len(layout.dates)), np.float32)
    return numbers(layout.x), numbers(layout.y), columns, series
