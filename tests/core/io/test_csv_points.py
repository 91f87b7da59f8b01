"""The block-wise CSV point reader against GDAL's CSV driver (the oracle), its clear errors, and the temporary
row store its series go to."""
import csv

import numpy as np
import pytest
from osgeo import gdal

from subsidence_plugin.core.io import row_store
from subsidence_plugin.core.io.csv_points import read_csv_points
from subsidence_plugin.core.io.points import PointReadError
from subsidence_plugin.core.io.row_store import RowStore
from subsidence_plugin.core.progress import Cancelled

DATES = ["20200125", "20200101", "20200113"]  # not in date order


def _write(path, separator, quoting, rows=400, seed=0):
    """A CSV with text, integer, float and date columns, empty values, blank lines; (path, rows as written)."""
    rng = np.random.default_rng(seed)
    header = ["pid", "mp_type", "easting", "code", "northing", "rmse", "note"] + DATES
    table = []
    for i in range(rows):
        values = [rng.normal(0, 10) for _ in DATES]
        row = [f"PS{i:05d}", "DS" if i % 3 else "PS", f"{4.1e6 + rng.uniform(0, 1e4):.2f}", str(i * 7),
               f"{3.0e6 + rng.uniform(0, 1e4):.2f}", "" if i % 11 == 0 else f"{rng.uniform(0, 3):.3f}",
               "" if i % 2 else f"note {i}"] + ["" if (i + k) % 13 == 0 else f"{v:.2f}" for k, v in enumerate(values)]
        table.append(row)
    with open(path, "w", newline="") as stream:
        writer = csv.writer(stream, delimiter=separator, quoting=quoting, lineterminator="\r\n" if seed else "\n")
        writer.writerow(header)
        for i, row in enumerate(table):
            writer.writerow(row)
            if i % 97 == 5:
                stream.write("\n")  # a blank line
    return str(path)


def _gdal_oracle(path):
    options = ["X_POSSIBLE_NAMES=easting", "Y_POSSIBLE_NAMES=northing", "KEEP_GEOM_COLUMNS=NO", "HEADERS=YES",
               "AUTODETECT_TYPE=YES", "EMPTY_STRING_AS_NULL=YES"]
    dataset = gdal.OpenEx("CSV:" + path, gdal.OF_VECTOR, open_options=options)
    rows = []
    for feature in dataset.GetLayer(0):
        geometry = feature.GetGeometryRef()
        values = {name: feature.GetField(name) for name in feature.keys()}
        rows.append((geometry.GetX(), geometry.GetY(), values))
    return rows


@pytest.mark.parametrize("separator, quoting, seed, block", [
    (",", csv.QUOTE_MINIMAL, 0, 1 << 24), (",", csv.QUOTE_MINIMAL, 1, 700), (";", csv.QUOTE_NONNUMERIC, 0, 900),
    ("\t", csv.QUOTE_MINIMAL, 2, 50)])
def test_the_same_points_as_gdals_csv_driver(tmp_path, separator, quoting, seed, block):
    """Blocks of a few lines (and shorter than a line), CRLF, quotes, semicolons, tabs, blank lines, empties."""
    path = _write(tmp_path / "points.csv", separator, quoting, seed=seed)
    table = read_csv_points(path, "", block_bytes=block)
    oracle = _gdal_oracle(path)
    assert len(table) == len(oracle) == 400
    np.testing.assert_array_equal(table.x, [r[0] for r in oracle])
    np.testing.assert_array_equal(table.y, [r[1] for r in oracle])
    assert table.fids.tolist() == list(range(1, 401))
    assert list(table.attributes) == ["pid", "mp_type", "code", "rmse", "note"]
    for name in ("pid", "mp_type", "note"):
        assert table.attributes[name].tolist() == [r[2][name] for r in oracle]  # None where empty
    for name in ("code", "rmse"):
        expected = [np.nan if r[2][name] is None else float(r[2][name]) for r in oracle]
        np.testing.assert_array_equal(table.attributes[name], expected)
    assert table.date_fields == sorted(DATES) and table.dates.astype(str).tolist()[0] == "2020-01-01"
    expected = np.array([[np.nan if r[2][d] is None else float(r[2][d]) for d in sorted(DATES)] for r in oracle])
    np.testing.assert_array_equal(table.series[:], expected.astype(np.float32))
    assert np.isnan(table.series[:]).sum() == np.isnan(expected).sum() > 0


@pytest.mark.parametrize("text, message", [
    ("pid,x,y,20200101\na,1,2,1.5\nb,3,4,n/a\n", r"bad.csv: line 3: 20200101 'n/a' is not a number"),
    ("pid,x,y,20200101\na,1,2,1.5\nb,3,4,2,9\n", "bad.csv: line 3 has 5 fields, the header has 4"),
    ("pid,x,y,20200101\na,1,2\n", "line 2 has 3 fields"),
    ("pid,x,y,20200101\n", "header but no rows"),
    ("pid,x,x,y\n", "names x more than once")])
def test_errors_name_the_file_and_the_line(tmp_path, text, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(PointReadError, match=message):
        read_csv_points(str(path), "")


def test_spaces_and_rows_without_coordinates(tmp_path):
    path = tmp_path / "points.csv"
    path.write_text("pid x y 20200101\na  1 2 1.5\nb 3 4 2\nc 5  6 -1\n")  # spaces
    table = read_csv_points(str(path), "")
    assert table.x.tolist() == [1, 3, 5] and table.series[:, 0].tolist() == [1.5, 2.0, -1.0]
    path.write_text("pid,x,y,20200101\na,1,2,1.5\nb,,4,2\nc,5,6,3\n")
    table = read_csv_points(str(path), "")
    assert table.attributes["pid"].tolist() == ["a", "c"] and table.fids.tolist() == [1, 3]
    assert table.series[:, 0].tolist() == [1.5, 3.0]


def test_progress_and_cancel(tmp_path):
    path = _write(tmp_path / "p.csv", ",", csv.QUOTE_MINIMAL)
    seen = []
    read_csv_points(path, "", progress=lambda percent, _: seen.append(percent), block_bytes=2000)
    assert len(seen) > 5 and seen == sorted(seen) and seen[-1] == 100.0
    with pytest.raises(Cancelled):
        read_csv_points(path, "", is_cancelled=lambda: True)


def test_row_store_reads_like_an_array(monkeypatch):
    monkeypatch.setattr(row_store, "WINDOW_ROWS", 7)  # reads in several windows
    matrix = np.random.default_rng(0).normal(size=(50, 4)).astype(np.float32)
    store = RowStore(4)
    for start in range(0, 50, 9):
        store.append(matrix[start:start + 9])
    assert store.shape == (50, 4) and len(store) == 50
    mask = np.zeros(50, dtype=bool)
    mask[[3, 17, 18, 49]] = True
    for key in (5, -1, slice(None), slice(10, 40), slice(40, 10), slice(0, 50, 3), [45, 2, 2, 30, -3], mask,
                np.array([], dtype=int), (slice(4, 9), 2), ([1, 30], slice(0, 4, 3)), (-2, slice(1, 3))):
        np.testing.assert_array_equal(store[key], matrix[key])
    np.testing.assert_array_equal(np.asarray(store), matrix)
    with pytest.raises(IndexError):
        store[50]
    with pytest.raises(ValueError, match="shape"):
        store.append(np.zeros((2, 3)))
    store.close()
