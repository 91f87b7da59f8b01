"""Benchmark of the Time series dock on many points: does a click answer within 0.2 s on 10^6 points?

    .venv/bin/python scripts/benchmarks/benchmark_series_dock.py [--points 1000000] [--dates 150]
        [--folder DIR] [--clicks 50] [--skip-qgis-index] [--json out.json]

Writes (once; kept in --folder and reused when it is there) a GeoPackage of N points with a ``pid``, a velocity
and one DYYYYMMDD field a date (12-day steps, mm, a random walk), as the import writes them, through SQLite in one
transaction. Then, in a headless QGIS with an offscreen map canvas of 800 x 600 pixels:

* the index the dock builds once per layer in a background task (`PointIndexTask.run`, timed here on the main
  thread): coordinates, feature ids and pids read column-wise through GDAL's Arrow stream, a scipy KD-tree;
  beside it QGIS's own `QgsSpatialIndex` filled from the layer's features (the established tool);
* a click: `SeriesDock.pick` at random positions near points (nearest of each layer within 8 pixels, the feature
  read by id with its 150 date fields, the nearest of 20 piezometers, the plot's data), and apart from it the
  rendering of the plot (matplotlib Agg, what the dock's canvas paints afterwards); beside it the same nearest
  point through `QgsSpatialIndex.nearestNeighbor` and the same read;
* a polygon holding about 1 000 points: the points inside (index) and the area's mean, spread and count (the
  background task's work, timed on the main thread).

Columns: median and 95th percentile of the wall-clock seconds per click, the 1-minute load average at the end (the
machine may be shared: compare rows of one run).
"""
from __future__ import annotations

import os
import sqlite3
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # scripts/: the harness
import harness  # noqa: E402  (puts the repository root on sys.path)

EPSG = 25830
SIDE_M = 50000.0
ORIGIN = (700000.0, 4100000.0)


def _geopackage_points(x: np.ndarray, y: np.ndarray) -> list:
    """GeoPackage binary point geometries (little-endian, no envelope, srs EPSG)."""
    record = np.dtype([("magic", "S2"), ("version", "u1"), ("flags", "u1"), ("srs", "<i4"), ("order", "u1"),
                       ("type", "<u4"), ("x", "<f8"), ("y", "<f8")])
    rows = np.zeros(len(x), dtype=record)
    rows["magic"], rows["flags"], rows["srs"], rows["order"], rows["type"] = b"GP", 1, EPSG, 1, 1
    rows["x"], rows["y"] = x, y
    raw = rows.tobytes()
    size = record.itemsize
    return [raw[i * size:(i + 1) * size] for i in range(len(x))]


def write_points(path: str, count: int, dates: np.ndarray, seed: int = 0, chunk: int = 20000) -> float:
    """The benchmark layer ``ps`` (pid, VEL_MM_YR, DYYYYMMDD fields) written through SQLite; returns seconds."""
    from osgeo import ogr, osr

    from subsidence_plugin.core.io.points import date_field_name

    started = time.perf_counter()
    names = [date_field_name(d) for d in dates]
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(EPSG)
    dataset = ogr.GetDriverByName("GPKG").CreateDataSource(path)
    layer = dataset.CreateLayer("ps", srs, ogr.wkbPoint, ["FID=fid", "GEOMETRY_NAME=geom", "SPATIAL_INDEX=NO"])
    layer.CreateField(ogr.FieldDefn("pid", ogr.OFTString))
    for name in ["VEL_MM_YR"] + names:
        layer.CreateField(ogr.FieldDefn(name, ogr.OFTReal))
    dataset = None
    rng = np.random.default_rng(seed)
    database = sqlite3.connect(path)
    columns = ", ".join(["geom", "pid", "VEL_MM_YR"] + names)
    sql = f"INSERT INTO ps ({columns}) VALUES ({', '.join('?' * (len(names) + 3))})"
    years = (dates - dates[0]).astype(np.float64) / 365.25
    low, high = [np.inf, np.inf], [-np.inf, -np.inf]
    with database:
        for start in range(0, count, chunk):
            n = min(chunk, count - start)
            x = ORIGIN[0] + rng.uniform(0.0, SIDE_M, n)
            y = ORIGIN[1] + rng.uniform(0.0, SIDE_M, n)
            low, high = [min(low[0], x.min()), min(low[1], y.min())], [max(high[0], x.max()), max(high[1], y.max())]
            velocity = rng.normal(-5.0, 4.0, n)
            series = np.round(velocity[:, None] * years + np.cumsum(rng.normal(0.0, 1.0, (n, len(dates))), axis=1),
                              1)
            series[:, 0] = 0.0
            pids = [f"P{start + i:07d}" for i in range(n)]
            rows = zip(_geopackage_points(x, y), pids, np.round(velocity, 2).tolist(), *series.T.tolist())
            database.executemany(sql, rows)
        database.execute("UPDATE gpkg_contents SET min_x = ?, min_y = ?, max_x = ?, max_y = ? WHERE table_name = "
                         "'ps'", (*low, *high))
    database.close()
    return time.perf_counter() - started


def write_piezometers(path: str, dates: np.ndarray) -> str:
    """20 piezometers with monthly heads (D_YYYYMMDD, m) over the points' period."""
    from subsidence_plugin.core.io.grid import crs_wkt_from_epsg
    from subsidence_plugin.core.io.points import date_field_name
    from subsidence_plugin.core.io.vectors import VectorLayer, write_geopackage

    rng = np.random.default_rng(1)
    months = np.arange(dates[0].astype("datetime64[M]"), dates[-1].astype("datetime64[M]") + 1).astype(
        "datetime64[D]")
    xy = np.column_stack([ORIGIN[0] + rng.uniform(0, SIDE_M, 20), ORIGIN[1] + rng.uniform(0, SIDE_M, 20)])
    columns = {"name": np.array([f"W{i:02d}" for i in range(20)], dtype=object)}
    columns.update({date_field_name(m, "D_"): 50.0 - 0.1 * i + rng.normal(0, 0.2, 20) for i, m in enumerate(months)})
    return write_geopackage(path, [VectorLayer("piezometers", columns, points=xy)], crs_wkt_from_epsg(EPSG))


def timed(function, *args):
    started = time.perf_counter()
    result = function(*args)
    return time.perf_counter() - started, result


def read_by_fid(layer, fid: int, fields) -> list:
    """The date fields of one feature, read by its id (what a click reads)."""
    from qgis.core import QgsFeatureRequest

    request = QgsFeatureRequest().setFilterFid(int(fid)).setFlags(QgsFeatureRequest.NoGeometry)
    request.setSubsetOfAttributes(fields, layer.fields())
    return next(layer.getFeatures(request)).attributes()


def qgis_spatial_index(layer):
    """QGIS's own spatial index of the layer's points (geometries only)."""
    from qgis.core import QgsFeatureRequest, QgsSpatialIndex

    return QgsSpatialIndex(layer.getFeatures(QgsFeatureRequest().setNoAttributes()))


def main(argv=None):
    parser = harness.argument_parser(__doc__)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--dates", type=int, default=150)
    parser.add_argument("--folder", default=os.path.join(tempfile.gettempdir(), "subsidence_series_benchmark"))
    parser.add_argument("--clicks", type=int, default=50)
    parser.add_argument("--skip-qgis-index", action="store_true", help="leave out QgsSpatialIndex (slow)")
    parser.add_argument("--json", default="")
    args = parser.parse_args(argv)
    os.makedirs(args.folder, exist_ok=True)
    dates = np.datetime64("2016-01-05") + np.arange(args.dates) * 12
    path = os.path.join(args.folder, f"ps_{args.points}_{args.dates}.gpkg")
    results = {"points": args.points, "dates": args.dates, "file": path}
    if not os.path.exists(path):
        print(f"writing {args.points} points x {args.dates} dates to {path} …", flush=True)
        results["write_s"] = write_points(path + ".tmp.gpkg", args.points, dates)
        os.replace(path + ".tmp.gpkg", path)
    results["file_mb"] = os.path.getsize(path) / 1e6
    wells = write_piezometers(os.path.join(args.folder, "piezometers.gpkg"), dates)

    app, provider = harness.start_qgis()
    from qgis.core import (QgsCoordinateReferenceSystem, QgsGeometry, QgsPointXY, QgsProject, QgsRectangle,
                           QgsVectorLayer)
    from qgis.gui import QgsMapCanvas
    from qgis.PyQt.QtWidgets import QApplication

    from subsidence_plugin.gui.docks.series_dock import SeriesDock, key_field
    from subsidence_plugin.gui.widgets.point_index import PointIndexTask

    layer = QgsVectorLayer(f"{path}|layername=ps", "PS points", "ogr")
    piezometers = QgsVectorLayer(f"{wells}|layername=piezometers", "piezometers", "ogr")
    QgsProject.instance().addMapLayers([layer, piezometers])
    canvas = QgsMapCanvas()
    canvas.resize(800, 600)
    canvas.show()
    QApplication.processEvents()
    canvas.setDestinationCrs(QgsCoordinateReferenceSystem(f"EPSG:{EPSG}"))

    rss = harness.status_mb("VmRSS")
    task = PointIndexTask(layer, key_field(layer))
    results["index_s"], _ = timed(task.run)
    results["index_rss_mb"] = harness.status_mb("VmRSS") - rss
    index = task.index
    assert index is not None and len(index) == args.points, task.error
    dock = SeriesDock(canvas)
    dock.indexes[layer.id()] = index
    rng = np.random.default_rng(2)
    picks, renders, lookups, qgis_lookups = [], [], [], []
    fields = [name for name in layer.fields().names() if name.startswith("D")]
    chosen = rng.choice(args.points, args.clicks, replace=False)
    for row in chosen:
        x, y = index.x[row] + 1.0, index.y[row] - 1.0
        canvas.setExtent(QgsRectangle(x - 1000.0, y - 750.0, x + 1000.0, y + 750.0))  # 2.5 m a pixel
        seconds, _ = timed(dock.pick, QgsPointXY(x, y))
        assert dock.points and dock.points[0].fid == index.fids[row], dock.status.text()
        picks.append(seconds)
        renders.append(timed(dock.plot.canvas.draw)[0])
        started = time.perf_counter()
        read_by_fid(layer, index.fids[index.nearest(x, y, 20.0)], fields)
        lookups.append(time.perf_counter() - started)
    results["click_median_s"] = float(np.median(picks))
    results["click_p95_s"] = float(np.percentile(picks, 95))
    results["render_median_s"] = float(np.median(renders))
    results["click_to_pixels_median_s"] = float(np.median(np.add(picks, renders)))
    results["lookup_median_s"] = float(np.median(lookups))
    if not args.skip_qgis_index:
        results["qgis_index_s"], spatial = timed(qgis_spatial_index, layer)
        for row in chosen:
            started = time.perf_counter()
            read_by_fid(layer, spatial.nearestNeighbor(QgsPointXY(index.x[row] + 1.0, index.y[row] - 1.0), 1)[0],
                        fields)
            qgis_lookups.append(time.perf_counter() - started)
        results["qgis_lookup_median_s"] = float(np.median(qgis_lookups))
    centre = index.x[chosen[0]], index.y[chosen[0]]
    radius = np.sqrt(1000.0 / args.points * SIDE_M ** 2 / np.pi)
    circle = QgsGeometry.fromPointXY(QgsPointXY(*centre)).buffer(radius, 16)
    results["polygon_inside_s"], inside = timed(index.inside, bytes(circle.asWkb()))
    dock.select_polygon(circle)
    area_task = dock.area_task
    results["polygon_points"] = int(inside.size)
    results["polygon_read_s"], _ = timed(area_task.run)
    area_task.cancel()
    results["load"] = os.getloadavg()[0]
    dock.unload()
    del dock, canvas
    QgsProject.instance().removeAllMapLayers()
    harness.stop_qgis(app, provider)

    rows = [["write the GeoPackage (SQLite, once)", results.get("write_s"), f"{results['file_mb']:.0f} MB"],
            ["index: Arrow read + KD-tree (task)", results["index_s"], f"+{results['index_rss_mb']:.0f} MB RSS"],
            ["index: QgsSpatialIndex from features", results.get("qgis_index_s"), ""],
            ["nearest point + its 150 dates read by fid: KD-tree (median)", results["lookup_median_s"], ""],
            ["the same with QgsSpatialIndex.nearestNeighbor (median)", results.get("qgis_lookup_median_s"), ""],
            ["click: SeriesDock.pick, plot built (median)", results["click_median_s"], "all but rendering"],
            ["click: SeriesDock.pick, 95th percentile", results["click_p95_s"], ""],
            ["click: plot rendering, matplotlib Agg (median)", results["render_median_s"], ""],
            ["click to pixels: pick + rendering (median)", results["click_to_pixels_median_s"], "budget 0.2 s"],
            [f"polygon: points inside ({results['polygon_points']})", results["polygon_inside_s"], ""],
            ["polygon: mean, spread, count (task)", results["polygon_read_s"], ""]]
    print(f"\n{args.points} points x {args.dates} dates, load {results['load']:.2f}")
    harness.print_table(["step", "seconds", "note"],
                        [[name, "n/a" if value is None else f"{value:.4f}", note] for name, value, note in rows])
    harness.write_json(args.json, results)


if __name__ == "__main__":
    main()
