"""Shared fixtures: the sample area (written once per session) and the registered Processing provider."""
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

SAMPLE_SIZE = 96


@pytest.fixture(scope="session")
def sample_area(tmp_path_factory):
    """A small sample area written once for the session (its files must not be modified by tests)."""
    from subsidence_plugin.core.sample_area import create_sample_area

    return create_sample_area(str(tmp_path_factory.mktemp("sample_area")), size=SAMPLE_SIZE, seed=7)


@pytest.fixture
def only_here():
    """Copy a raster into this process's GDAL memory (/vsimem/): readable here, not by Dask workers. Returns the
    copy's path; removed after the test."""
    from osgeo import gdal

    copies = []

    def copy(path: str) -> str:
        copies.append(f"/vsimem/only_here_{len(copies)}.tif")
        gdal.Translate(copies[-1], path)
        return copies[-1]

    yield copy
    for path in copies:
        gdal.Unlink(path)


@pytest.fixture(scope="module")
def client():
    """A Dask client on a LocalCluster of 2 one-thread workers, for the tests of one module (the optional extra
    requirements/distributed.txt; those modules skip without it)."""
    from subsidence_plugin.scale.cluster import dask_client

    with dask_client(local=2) as dask:
        yield dask


@pytest.fixture
def provider(qgis_processing):
    """The plugin's provider, registered in the Processing registry for one test (the plugin tests need a
    registry without it)."""
    from qgis.core import QgsApplication

    from subsidence_plugin.processing.provider import SubsidenceProvider

    registry = QgsApplication.processingRegistry()
    instance = SubsidenceProvider()
    assert registry.addProvider(instance)
    yield instance
    registry.removeProvider("subsidence")


@pytest.fixture
def wait_for_dock():
    """Process Qt events until a dock's background task chain ends (fails after ``timeout`` seconds)."""
    import time

    from qgis.PyQt.QtWidgets import QApplication

    def wait(dock, timeout=300):
        start = time.time()
        while dock.running:
            QApplication.processEvents()
            time.sleep(0.02)
            assert time.time() - start < timeout

    return wait


@pytest.fixture(autouse=True, scope="session")
def collect_garbage_before_qgis_exits(qgis_app):
    """Collect Python wrappers of QGIS objects while QGIS still runs: left to the interpreter's final
    collection (after exitQgis) they crash it."""
    yield
    import gc

    gc.collect()


@pytest.fixture(scope="session")
def gardlif_layers():
    """A function writing seven random GARDLIF layers (seed 003's value ranges) into a folder: (grid, values,
    paths by layer name)."""
    import numpy as np

    from subsidence_plugin.core.io.grid import RasterGrid, crs_wkt_from_epsg
    from subsidence_plugin.core.io.rasters import write_raster

    def write(folder, size=20):
        grid = RasterGrid.from_origin(500000.0, 4000000.0 + size * 100, 100.0, size, size, crs_wkt_from_epsg(32633),
                                      -9999.0)
        rng = np.random.default_rng(3)
        values = {
            "groundwater_decline": rng.uniform(-0.5, 6.0, (size, size)),
            "aquifer_media": rng.integers(1, 9, (size, size)).astype(float),
            "recharge": rng.uniform(0, 30, (size, size)),
            "discharge": rng.uniform(0, 80, (size, size)),
            "land_use": rng.integers(1, 9, (size, size)).astype(float),
            "aquifer_thickness": rng.uniform(0, 450, (size, size)),
            "fault_distance": rng.uniform(0, 7000, (size, size)),
        }
        paths = {k: write_raster(os.path.join(folder, f"{k}.tif"), v.astype(np.float32), grid, [k])
                 for k, v in values.items()}
        return grid, values, paths

    return write


@pytest.fixture
def write_egms_csv():
    """Writes an EGMS-style CSV (L2: with the line-of-sight vector; L3: without): ``write(path, pid, x, y, dates,
    series_mm, rmse, velocity)`` with easting / northing in EPSG:3035 and one YYYYMMDD column a date."""
    import numpy as np

    def write(path, pid, x, y, dates, series, rmse, velocity, level="l2"):
        head = ["pid", "mp_type", "latitude", "longitude", "easting", "northing", "height", "rmse",
                "temporal_coherence"] + (["los_east", "los_north", "los_up"] if level == "l2" else []) + \
               ["mean_velocity", "mean_velocity_std"] + [str(d).replace("-", "") for d in dates]
        with open(path, "w") as stream:
            stream.write(",".join(head) + "\n")
            for i in range(len(pid)):
                row = [pid[i], "PS", "40.1", "-3.5", f"{x[i]:.2f}", f"{y[i]:.2f}", "600.5", f"{rmse[i]:.2f}", "0.8"]
                row += ["-0.6", "-0.1", "0.79"] if level == "l2" else []
                row += [f"{velocity[i]:.2f}", "0.4"]
                row += ["" if np.isnan(value) else f"{value:.2f}" for value in series[i]]
                stream.write(",".join(row) + "\n")
        return str(path)

    return write


@pytest.fixture
def write_point_layer():
    """Writes a GeoPackage point layer: ``write(path, rows, fields, crs="EPSG:25830")`` with rows of
    (x, y, attributes) and fields [(name, QVariant type)]; NaN and None become NULL."""
    import math

    import numpy as np
    from qgis.core import (QgsCoordinateReferenceSystem, QgsFeature, QgsField, QgsFields, QgsGeometry, QgsProject,
                           QgsVectorFileWriter, QgsWkbTypes)

    def value(v):
        v = float(v) if isinstance(v, np.floating) else v
        return None if isinstance(v, float) and math.isnan(v) else v

    def write(path, rows, fields, crs="EPSG:25830"):
        qfields = QgsFields()
        for name, kind in fields:
            qfields.append(QgsField(name, kind))
        options = QgsVectorFileWriter.SaveVectorOptions()
        options.driverName = "GPKG"
        writer = QgsVectorFileWriter.create(str(path), qfields, QgsWkbTypes.Point, QgsCoordinateReferenceSystem(crs),
                                            QgsProject.instance().transformContext(), options)
        for x, y, attributes in rows:
            feature = QgsFeature(qfields)
            feature.setGeometry(QgsGeometry.fromWkt(f"POINT ({float(x)!r} {float(y)!r})"))
            feature.setAttributes([value(v) for v in attributes])
            assert writer.addFeature(feature)
        del writer
        return str(path)

    return write


@pytest.fixture
def recording_feedback():
    """A new Processing feedback that keeps the messages it gets: ``info`` and ``warnings`` (lists of str)."""
    from qgis.core import QgsProcessingFeedback

    class RecordingFeedback(QgsProcessingFeedback):
        def __init__(self):
            super().__init__()
            self.info, self.warnings = [], []

        def pushInfo(self, info):  # noqa: N802
            self.info.append(info)
            super().pushInfo(info)

        def pushWarning(self, warning):  # noqa: N802
            self.warnings.append(warning)
            super().pushWarning(warning)

    return RecordingFeedback()


def _write_polygon_layer(path, wkts, crs):
    """A polygon layer (GeoPackage, or a shapefile for a .shp path) of the WKT polygons in ``crs`` (e.g.
    "EPSG:32613"; "" for none: a shapefile without .prj); returns its path."""
    from osgeo import ogr, osr

    srs = None
    if crs:
        srs = osr.SpatialReference()
        srs.SetFromUserInput(crs)
        srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    driver = "ESRI Shapefile" if str(path).endswith(".shp") else "GPKG"
    dataset = ogr.GetDriverByName(driver).CreateDataSource(str(path))
    layer = dataset.CreateLayer("area", srs, ogr.wkbMultiPolygon)
    for wkt in wkts:
        feature = ogr.Feature(layer.GetLayerDefn())
        feature.SetGeometry(ogr.ForceToMultiPolygon(ogr.CreateGeometryFromWkt(wkt)))
        layer.CreateFeature(feature)
    dataset = None
    return str(path)


@pytest.fixture
def write_polygon_layer():
    """Writes a GeoPackage polygon layer: ``write(path, wkts, crs)``."""
    return _write_polygon_layer


@pytest.fixture(scope="session")
def groundwater_sample(sample_area, tmp_path_factory):
    """The synthetic GRACE / GLDAS / rain-gauge sample around the session's sample area and the area polygon (the
    DEM's extent, EPSG:32613): (sample, area layer path, centre lon, centre lat)."""
    from osgeo import osr

    from subsidence_plugin.core.groundwater.sample import write_groundwater_sample
    from subsidence_plugin.core.io.rasters import read_grid

    folder = tmp_path_factory.mktemp("groundwater_sample")
    grid = read_grid(sample_area.rasters["dem"])
    west, dx, _, north, _, dy = grid.geotransform
    east, south = west + dx * grid.width, north + dy * grid.height
    utm, wgs84 = osr.SpatialReference(), osr.SpatialReference()
    utm.SetFromUserInput(grid.crs_wkt)
    wgs84.ImportFromEPSG(4326)
    wgs84.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    utm.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    lon, lat, _ = osr.CoordinateTransformation(utm, wgs84).TransformPoint((west + east) / 2, (north + south) / 2)
    sample = write_groundwater_sample(str(folder), lon, lat, seed=3)
    area = _write_polygon_layer(folder / "area.gpkg", [f"POLYGON(({west} {south},{east} {south},{east} {north},"
                                                      f"{west} {north},{west} {south}))"], "EPSG:32613")
    return sample, area, lon, lat
