"""Point layers with attribute columns written into a new GeoPackage straight through SQLite.

GDAL 3.6 writes a GeoPackage feature by feature (``ogr2ogr``: about 75 s for 10^6 points with 300 fields); this
writer binds blocks of rows in one transaction (`sqlite3.Cursor.executemany`) and bulk-loads the R-tree spatial
index (a Hilbert-packed tree written into the R-tree's node tables, as GDAL 3.7's bulk loader does), so the
time goes into converting the values. The file is what GDAL 3.6 makes: GeoPackage 1.2 (application id and user
version), ``gpkg_spatial_ref_sys`` with the three required rows and the layer's CRS (EPSG code and WKT as GDAL
writes them), ``gpkg_contents`` with the extent, ``gpkg_geometry_columns``, ``gpkg_ogr_contents`` with the feature
count and GDAL's triggers that keep it, and the ``gpkg_rtree_index`` extension with the R-tree and its triggers.
Geometries are GeoPackage binary points (little-endian, no envelope; NaN coordinates: a NULL geometry, outside
the index). Field kinds: ``double`` (REAL, NaN = NULL), ``int`` (INTEGER, read as Integer64; NaN = NULL),
``string`` (TEXT, None = NULL). Nothing is left behind on failure: the file is removed.
"""
from __future__ import annotations

import os
import sqlite3
from datetime import datetime, timezone
from typing import List, Optional, Sequence, Tuple

import numpy as np
from osgeo import osr

from .gdal_errors import raising_gdal_errors

FIELD_TYPES = {"double": "REAL", "int": "INTEGER", "string": "TEXT"}
GEOMETRY_COLUMN = "geom"
UNDEFINED_SRS_ID = -1
OTHER_SRS_ID = 100000  # GDAL's first srs_id for a CRS without an EPSG code
BATCH_VALUES = 1 << 20  # values bound in one executemany (about 35 MB of Python objects)
RTREE_CELLS = 51  # SQLite's R-tree: cells of a node (RTREE_MAXCELLS) for 2 dimensions
_CELL = np.dtype([("id", ">i8"), ("minx", ">f4"), ("maxx", ">f4"), ("miny", ">f4"), ("maxy", ">f4")])
_NODE_BYTES = 4 + RTREE_CELLS * _CELL.itemsize
_POINT = np.dtype([("magic", "S2"), ("version", "u1"), ("flags", "u1"), ("srs_id", "<i4"), ("order", "u1"),
                   ("type", "<u4"), ("x", "<f8"), ("y", "<f8")])

_SCHEMA = """
CREATE TABLE gpkg_spatial_ref_sys (srs_name TEXT NOT NULL,srs_id INTEGER NOT NULL PRIMARY KEY,organization TEXT
NOT NULL,organization_coordsys_id INTEGER NOT NULL,definition  TEXT NOT NULL,description TEXT);
CREATE TABLE gpkg_contents (table_name TEXT NOT NULL PRIMARY KEY,data_type TEXT NOT NULL,identifier TEXT UNIQUE,
description TEXT DEFAULT '',last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
min_x DOUBLE, min_y DOUBLE,max_x DOUBLE, max_y DOUBLE,srs_id INTEGER,CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id)
REFERENCES gpkg_spatial_ref_sys(srs_id));
CREATE TABLE gpkg_ogr_contents(table_name TEXT NOT NULL PRIMARY KEY,feature_count INTEGER DEFAULT NULL);
CREATE TABLE gpkg_geometry_columns (table_name TEXT NOT NULL,column_name TEXT NOT NULL,geometry_type_name TEXT
NOT NULL,srs_id INTEGER NOT NULL,z TINYINT NOT NULL,m TINYINT NOT NULL,CONSTRAINT pk_geom_cols PRIMARY KEY
(table_name, column_name),CONSTRAINT uk_gc_table_name UNIQUE (table_name),CONSTRAINT fk_gc_tn FOREIGN KEY
(table_name) REFERENCES gpkg_contents(table_name),CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES
gpkg_spatial_ref_sys (srs_id));
CREATE TABLE gpkg_extensions (table_name TEXT,column_name TEXT,extension_name TEXT NOT NULL,definition TEXT NOT
NULL,scope TEXT NOT NULL,CONSTRAINT ge_tce UNIQUE (table_name, column_name, extension_name));
"""
_REQUIRED_SRS = [
    ("Undefined Cartesian SRS", -1, "NONE", -1, "undefined", "undefined Cartesian coordinate reference system"),
    ("Undefined geographic SRS", 0, "NONE", 0, "undefined", "undefined geographic coordinate reference system")]
_WGS84_DESCRIPTION = "longitude/latitude coordinates in decimal degrees on the WGS 84 spheroid"
# GDAL 3.6's triggers: the R-tree follows inserts, updates and deletes; the count follows inserts and deletes. {r}: the
# R-tree, {t}: the table (as identifiers), {s}: the table (in a string), {g}: the geometry column.
_RTREE_TRIGGERS = """
CREATE TRIGGER "{r}_insert" AFTER INSERT ON "{t}" WHEN (new."{g}" NOT NULL AND NOT ST_IsEmpty(NEW."{g}")) BEGIN
INSERT OR REPLACE INTO "{r}" VALUES (NEW."fid",ST_MinX(NEW."{g}"), ST_MaxX(NEW."{g}"),ST_MinY(NEW."{g}"),
ST_MaxY(NEW."{g}")); END;
CREATE TRIGGER "{r}_update1" AFTER UPDATE OF "{g}" ON "{t}" WHEN OLD."fid" = NEW."fid" AND (NEW."{g}" NOTNULL AND
NOT ST_IsEmpty(NEW."{g}")) BEGIN INSERT OR REPLACE INTO "{r}" VALUES (NEW."fid",ST_MinX(NEW."{g}"),
ST_MaxX(NEW."{g}"),ST_MinY(NEW."{g}"), ST_MaxY(NEW."{g}")); END;
CREATE TRIGGER "{r}_update2" AFTER UPDATE OF "{g}" ON "{t}" WHEN OLD."fid" = NEW."fid" AND (NEW."{g}" ISNULL OR
ST_IsEmpty(NEW."{g}")) BEGIN DELETE FROM "{r}" WHERE id = OLD."fid"; END;
CREATE TRIGGER "{r}_update3" AFTER UPDATE ON "{t}" WHEN OLD."fid" != NEW."fid" AND (NEW."{g}" NOTNULL AND NOT
ST_IsEmpty(NEW."{g}")) BEGIN DELETE FROM "{r}" WHERE id = OLD."fid"; INSERT OR REPLACE INTO "{r}" VALUES
(NEW."fid",ST_MinX(NEW."{g}"), ST_MaxX(NEW."{g}"),ST_MinY(NEW."{g}"), ST_MaxY(NEW."{g}")); END;
CREATE TRIGGER "{r}_update4" AFTER UPDATE ON "{t}" WHEN OLD."fid" != NEW."fid" AND (NEW."{g}" ISNULL OR
ST_IsEmpty(NEW."{g}")) BEGIN DELETE FROM "{r}" WHERE id IN (OLD."fid", NEW."fid"); END;
CREATE TRIGGER "{r}_delete" AFTER DELETE ON "{t}" WHEN old."{g}" NOT NULL BEGIN DELETE FROM "{r}" WHERE id =
OLD."fid"; END;
CREATE TRIGGER "trigger_insert_feature_count_{t}" AFTER INSERT ON "{t}" BEGIN UPDATE gpkg_ogr_contents SET
feature_count = feature_count + 1 WHERE lower(table_name) = lower('{s}'); END;
CREATE TRIGGER "trigger_delete_feature_count_{t}" AFTER DELETE ON "{t}" BEGIN UPDATE gpkg_ogr_contents SET
feature_count = feature_count - 1 WHERE lower(table_name) = lower('{s}'); END;
"""


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@raising_gdal_errors
def _srs_row(crs: str) -> Tuple:
    """The ``gpkg_spatial_ref_sys`` row of a CRS (WKT, ``EPSG:n`` or anything OSR reads) as GDAL writes it: its
    EPSG code as srs_id with EPSG's WKT 1 where it has one, else `OTHER_SRS_ID` and its own WKT 1."""
    srs = osr.SpatialReference()
    srs.SetFromUserInput(crs)
    if srs.GetAuthorityName(None) != "EPSG":
        try:
            srs.AutoIdentifyEPSG()
        except RuntimeError:
            pass
    if srs.GetAuthorityName(None) == "EPSG" and srs.GetAuthorityCode(None):
        code = int(srs.GetAuthorityCode(None))
        srs = osr.SpatialReference()
        srs.ImportFromEPSG(code)
        return (srs.GetName(), code, "EPSG", code, srs.ExportToWkt(),
                _WGS84_DESCRIPTION if code == 4326 else None)
    return srs.GetName() or "Unknown", OTHER_SRS_ID, "NONE", OTHER_SRS_ID, srs.ExportToWkt(), None


def _point_blobs(x: np.ndarray, y: np.ndarray, srs_id: int) -> List[Optional[bytes]]:
    """GeoPackage binary points (header without envelope, little-endian WKB), None where a coordinate is NaN."""
    points = np.zeros(len(x), dtype=_POINT)
    points["magic"], points["flags"], points["srs_id"], points["order"], points["type"] = b"GP", 1, srs_id, 1, 1
    points["x"], points["y"] = x, y
    blobs = points.view(f"V{_POINT.itemsize}").tolist()
    for i in np.flatnonzero(np.isnan(x) | np.isnan(y)).tolist():
        blobs[i] = None
    return blobs


def _python_values(values: np.ndarray, kind: str) -> list:
    """A column as Python values for SQLite (NaN and None become NULL)."""
    values = np.asarray(values)
    if kind == "string":
        if values.dtype.kind in "US":
            return values.astype(str).tolist()
        return [None if v is None or (isinstance(v, float) and v != v) else str(v) for v in values.tolist()]
    if values.dtype.kind in "iub":
        return values.astype(np.int64).tolist()
    numbers = np.asarray(values, dtype=np.float64)
    missing = np.isnan(numbers)
    out = np.where(missing, 0, numbers).astype(np.int64).tolist()
    for i in np.flatnonzero(missing).tolist():
        out[i] = None
    return out


class GeoPackagePointWriter:
    """A new GeoPackage with one point layer, written in blocks: ``add`` blocks of points, then ``close`` (builds
    the spatial index and commits); ``abort`` (or an exception inside ``with``) removes the file.

    ``fields``: (name, kind) in the layer's order, kinds `FIELD_TYPES`; names must differ without regard to case and
    from ``fid`` and ``geom``. ``crs``: WKT, ``EPSG:n`` or empty (undefined)."""

    def __init__(self, path: str, layer: str, crs: str, fields: Sequence[Tuple[str, str]]):
        names = [name.lower() for name, _ in fields]
        clash = sorted({name for name in names if names.count(name) > 1} | ({"fid", GEOMETRY_COLUMN} & set(names)))
        if clash:
            raise ValueError(f"Field names used twice or reserved (fid, geom): {', '.join(clash)}")
        unknown = sorted({kind for _, kind in fields} - set(FIELD_TYPES))
        if unknown or not layer:
            raise ValueError(f"Unknown field kinds {unknown} (use {', '.join(FIELD_TYPES)})" if unknown else
                             "The layer needs a name")
        if os.path.exists(path):
            raise ValueError(f"{path} exists: the GeoPackage writer makes new files only")
        self.path, self.layer, self.fields = path, layer, list(fields)
        self.count = 0
        self._x: List[np.ndarray] = []
        self._y: List[np.ndarray] = []
        self._doubles = [i for i, (_, kind) in enumerate(self.fields) if kind == "double"]
        self._position = {field: position for position, field in enumerate(self._doubles)}  # in the doubles' block
        self._others = [i for i, (_, kind) in enumerate(self.fields) if kind != "double"]
        self._connection = sqlite3.connect(path, isolation_level=None)
        try:
            self._create(crs)
        except BaseException:
            self.abort()
            raise

    def _create(self, crs: str) -> None:
        row_bytes = 8 * len(self.fields) + 40
        run = self._connection.execute
        run(f"PRAGMA page_size = {65536 if row_bytes > 1024 else 4096}")
        run("PRAGMA application_id = 1196444487")  # "GPKG"
        run("PRAGMA user_version = 10200")  # GeoPackage 1.2
        run("PRAGMA journal_mode = MEMORY")
        run("BEGIN")
        _run_script(self._connection, _SCHEMA)
        rows = list(_REQUIRED_SRS) + [_srs_row("EPSG:4326")]
        self.srs_id = UNDEFINED_SRS_ID
        if crs:
            row = _srs_row(crs)
            self.srs_id = row[1]
            if row[1] != 4326:
                rows.append(row)
        self._connection.executemany("INSERT INTO gpkg_spatial_ref_sys VALUES (?, ?, ?, ?, ?, ?)", rows)
        table = _quoted(self.layer)
        columns = "".join(f", {_quoted(name)} {FIELD_TYPES[kind]}" for name, kind in self.fields)
        run(f'CREATE TABLE {table} ( "fid" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, "{GEOMETRY_COLUMN}" POINT'
            f'{columns})')
        run("INSERT INTO gpkg_contents (table_name, data_type, identifier, description, srs_id) "
            "VALUES (?, 'features', ?, '', ?)", (self.layer, self.layer, self.srs_id))
        run("INSERT INTO gpkg_geometry_columns VALUES (?, ?, 'POINT', ?, 0, 0)",
            (self.layer, GEOMETRY_COLUMN, self.srs_id))
        run("INSERT INTO gpkg_ogr_contents VALUES (?, 0)", (self.layer,))
        run("INSERT INTO gpkg_extensions VALUES (?, ?, 'gpkg_rtree_index', "
            "'http://www.geopackage.org/spec120/#extension_rtree', 'write-only')", (self.layer, GEOMETRY_COLUMN))
        run(f'CREATE VIRTUAL TABLE {_quoted(self._rtree)} USING rtree(id, minx, maxx, miny, maxy)')
        order = [self.fields[i][0] for i in self._doubles] + ["fid", GEOMETRY_COLUMN] + \
            [self.fields[i][0] for i in self._others]
        self._insert = f"INSERT INTO {table} ({', '.join(map(_quoted, order))}) VALUES " \
                       f"({', '.join('?' * len(order))})"

    @property
    def _rtree(self) -> str:
        return f"rtree_{self.layer}_{GEOMETRY_COLUMN}"

    def add(self, x: np.ndarray, y: np.ndarray, columns: Sequence[np.ndarray]) -> None:
        """Add points with their values: ``columns`` holds one array a field, in the fields' order, or a (points, k)
        array for k consecutive fields (a block of series)."""
        x, y = np.asarray(x, dtype=np.float64).ravel(), np.asarray(y, dtype=np.float64).ravel()
        doubles = np.empty((x.size, len(self._doubles)), dtype=np.float64)
        others = []
        for first, values in field_blocks(columns, len(self.fields), x.size):
            kinds = [kind for _, kind in self.fields[first:first + values.shape[1]]]
            if all(kind == "double" for kind in kinds):  # consecutive in ``doubles`` too
                doubles[:, self._position[first]:self._position[first] + len(kinds)] = values
                continue
            for offset, kind in enumerate(kinds):
                if kind == "double":
                    doubles[:, self._position[first + offset]] = values[:, offset]
                else:
                    others.append(values[:, offset])
        batch = max(1, BATCH_VALUES // (len(self.fields) + 2))
        for start in range(0, x.size, batch):
            stop = min(x.size, start + batch)
            rows = doubles[start:stop].tolist()
            extras = [range(self.count + start + 1, self.count + stop + 1),
                      _point_blobs(x[start:stop], y[start:stop], self.srs_id)]
            extras += [_python_values(values[start:stop], self.fields[i][1]) for i, values in zip(self._others,
                                                                                                   others)]
            for row, extra in zip(rows, zip(*extras)):
                row.extend(extra)
            self._connection.executemany(self._insert, rows)
        self.count += x.size
        self._x.append(x)
        self._y.append(y)

    def close(self) -> None:
        """Spatial index, extent, feature count and triggers; commit and close."""
        try:
            x = np.concatenate(self._x) if self._x else np.zeros(0)
            y = np.concatenate(self._y) if self._y else np.zeros(0)
            located = np.flatnonzero(~(np.isnan(x) | np.isnan(y)))
            run = self._connection.execute
            if located.size:
                self._load_rtree(located + 1, x[located], y[located])
                run("UPDATE gpkg_contents SET min_x = ?, min_y = ?, max_x = ?, max_y = ? WHERE table_name = ?",
                    (float(x[located].min()), float(y[located].min()), float(x[located].max()),
                     float(y[located].max()), self.layer))
            run("UPDATE gpkg_contents SET last_change = ? WHERE table_name = ?",
                (datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z", self.layer))
            run("UPDATE gpkg_ogr_contents SET feature_count = ? WHERE table_name = ?", (self.count, self.layer))
            _run_script(self._connection, _RTREE_TRIGGERS.format(
                r=self._rtree.replace('"', '""'), t=self.layer.replace('"', '""'), s=self.layer.replace("'", "''"),
                g=GEOMETRY_COLUMN))
            run("COMMIT")
            self._connection.close()
        except BaseException:
            self.abort()
            raise

    def _load_rtree(self, fids: np.ndarray, x: np.ndarray, y: np.ndarray) -> None:
        """Write a packed R-tree into the index's node, parent and rowid tables: the points in Hilbert order in full
        leaves of `RTREE_CELLS` cells, each level above holding the bounding boxes of the one below."""
        order = np.argsort(hilbert_index(x, y), kind="stable")
        cells = np.zeros(order.size, dtype=_CELL)
        cells["id"] = fids[order]
        cells["minx"], cells["maxx"] = _float32_down(x[order]), _float32_up(x[order])
        cells["miny"], cells["maxy"] = _float32_down(y[order]), _float32_up(y[order])
        levels = [cells]
        while len(levels[-1]) > RTREE_CELLS:
            below = levels[-1]
            starts = np.arange(0, len(below), RTREE_CELLS)
            above = np.zeros(starts.size, dtype=_CELL)
            for name, reduce in (("minx", np.minimum), ("maxx", np.maximum), ("miny", np.minimum),
                                 ("maxy", np.maximum)):
                above[name] = reduce.reduceat(below[name], starts)
            levels.append(above)
        first = [1]  # number of the first node of each level: the root is node 1, each level follows the one above
        for level in levels[:0:-1]:
            first.insert(0, first[0] + (len(level) + RTREE_CELLS - 1) // RTREE_CELLS)
        for number, level in enumerate(levels[1:], start=1):
            level["id"] = first[number - 1] + np.arange(len(level))
        many = self._connection.executemany
        self._connection.execute(f"DELETE FROM {_quoted(self._rtree + '_node')}")
        for number, level in enumerate(levels):
            blobs = _node_blobs(level, len(levels) - 1 if number == len(levels) - 1 else 0)
            many(f"INSERT INTO {_quoted(self._rtree + '_node')} VALUES (?, ?)",
                 zip(range(first[number], first[number] + len(blobs)), blobs))
            nodes = (first[number] + np.arange(len(level)) // RTREE_CELLS).tolist()
            table = self._rtree + ("_rowid" if number == 0 else "_parent")  # leaf: point -> node; else node -> parent
            many(f"INSERT INTO {_quoted(table)} VALUES (?, ?)", zip(level["id"].tolist(), nodes))

    def abort(self) -> None:
        """Close without committing and remove the file."""
        try:
            self._connection.close()
        finally:
            for suffix in ("", "-journal", "-wal", "-shm"):
                if os.path.exists(self.path + suffix):
                    os.remove(self.path + suffix)

    def __enter__(self) -> "GeoPackagePointWriter":
        return self

    def __exit__(self, kind, error, trace) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()


def _run_script(connection: sqlite3.Connection, script: str) -> None:
    """Run SQL statements one by one inside the open transaction (``executescript`` would commit it first)."""
    statement = ""
    for line in script.strip().splitlines():
        statement += line + " "
        if sqlite3.complete_statement(statement):
            connection.execute(statement)
            statement = ""


def field_blocks(columns: Sequence[np.ndarray], fields: int, rows: int) -> List[Tuple[int, np.ndarray]]:
    """(first field, (rows, k) values) of each of ``columns`` (an array for one field, or a (rows, k) array for k
    consecutive fields); a clear error for a wrong count or length."""
    out, first = [], 0
    for values in columns:
        values = np.asarray(values)
        if values.shape[0] != rows:
            raise ValueError(f"A column of {values.shape[0]} values for {rows} points")
        values = values.reshape(rows, -1) if values.ndim == 2 else values[:, None]
        out.append((first, values))
        first += values.shape[1]
    if first != fields:
        raise ValueError(f"{first} columns of values for {fields} fields")
    return out


def _node_blobs(cells: np.ndarray, depth: int) -> List[bytes]:
    """R-tree node blobs of consecutive cells (full nodes, the last one partly): cell count (and, in the root, the
    tree's depth) as big-endian 16-bit integers, then the cells."""
    nodes = (len(cells) + RTREE_CELLS - 1) // RTREE_CELLS
    padded = np.zeros(nodes * RTREE_CELLS, dtype=_CELL)
    padded[:len(cells)] = cells
    count = np.full(nodes, RTREE_CELLS, dtype=">u2")
    count[-1] = len(cells) - RTREE_CELLS * (nodes - 1)
    head = np.zeros((nodes, 2), dtype=">u2")
    head[:, 1] = count
    head[0, 0] = depth
    body = np.hstack([head.view(np.uint8), padded.view(np.uint8).reshape(nodes, -1)])
    return np.ascontiguousarray(body).view(f"V{_NODE_BYTES}").ravel().tolist()


def _float32_down(values: np.ndarray) -> np.ndarray:
    """The largest float32 not above each value (the R-tree's lower bounds)."""
    single = values.astype(np.float32)
    return np.where(single.astype(np.float64) > values, np.nextafter(single, np.float32(-np.inf)), single)


def _float32_up(values: np.ndarray) -> np.ndarray:
    """The smallest float32 not below each value (the R-tree's upper bounds)."""
    single = values.astype(np.float32)
    return np.where(single.astype(np.float64) < values, np.nextafter(single, np.float32(np.inf)), single)


def hilbert_index(x: np.ndarray, y: np.ndarray, bits: int = 16) -> np.ndarray:
    """Position of each point along a Hilbert curve over the points' bounding box (2^bits cells a side)."""
    side = (1 << bits) - 1

    def cells(values):
        low, span = values.min(), values.max() - values.min()
        return np.zeros(values.size, np.int64) if span <= 0 else ((values - low) / span * side).astype(np.int64)

    cx, cy, index = cells(x), cells(y), np.zeros(x.size, dtype=np.int64)
    step = 1 << (bits - 1)
    while step:
        rx, ry = (cx & step) > 0, (cy & step) > 0
        index += step * step * ((3 * rx) ^ ry)
        flip = rx & ~ry
        cx, cy = np.where(flip, side - cx, cx), np.where(flip, side - cy, cy)
        cx, cy = np.where(ry, cx, cy), np.where(ry, cy, cx)
        step >>= 1
    return index


def write_points(path: str, layer: str, crs: str, x: np.ndarray, y: np.ndarray,
                 columns: Sequence[Tuple[str, str, np.ndarray]]) -> str:
    """Write points with (name, kind, values) columns as a new GeoPackage layer (see `GeoPackagePointWriter`);
    returns the path."""
    with GeoPackagePointWriter(path, layer, crs, [(name, kind) for name, kind, _ in columns]) as writer:
        writer.add(x, y, [values for _, _, values in columns])
    return path
