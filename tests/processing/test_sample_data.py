"""The sample area's files as QGIS opens them."""
from __future__ import annotations


def test_files_open_in_qgis_with_crs_and_nodata(sample_area):
    from qgis.core import QgsRasterLayer, QgsVectorLayer

    for key, path in sample_area.rasters.items():
        layer = QgsRasterLayer(path, key)
        assert layer.isValid(), path
        assert layer.crs().authid() == "EPSG:32613"
        nodata = layer.dataProvider().sourceNoDataValue(1)
        assert nodata == (0 if key in ("image", "landuse") else -9999.0)
        assert layer.width() == 96 and layer.height() == 96
    for name in ("ps_points", "rivers", "faults", "wells", "piezometers", "gps_stations"):
        layer = QgsVectorLayer(f"{sample_area.vector_path}|layername={name}", name, "ogr")
        assert layer.isValid() and layer.crs().authid() == "EPSG:32613" and layer.featureCount() > 0
    table = QgsVectorLayer(f"{sample_area.vector_path}|layername=gps_daily", "gps", "ogr")
    assert table.isValid() and not table.isSpatial()
