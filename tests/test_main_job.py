"""The main job end to end (as scripts/demo.sh runs it): project file with styled layers, report, summary."""
import os
import re
import subprocess
import sys
import zipfile
from xml.etree import ElementTree

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_main_job_writes_project_and_report(tmp_path):
    out = tmp_path / "demo"
    run = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "main_job.py"), "--output", str(out),
                          "--size", "64", "--seed", "5", "--epochs", "2", "--series-epochs", "2"], capture_output=True, text=True, timeout=600,
                         env=dict(os.environ, QT_QPA_PLATFORM="offscreen"))
    assert run.returncode == 0, run.stderr[-3000:]
    assert "[main job] summary" in run.stdout and "PS points" in run.stdout
    project = out / "sample_area.qgz"
    with zipfile.ZipFile(project) as archive:
        qgs = archive.read([n for n in archive.namelist() if n.endswith(".qgs")][0]).decode()
    for name in ("PS points", "DEM (m)", "True velocity (mm/yr)", "Land use", "Rivers", "Faults",
                 "Pumping wells", "Piezometers", "GPS stations", "Factor stack", "TWI", "NDVI",
                 "Kriging velocity (mm/yr)", "IDW velocity (mm/yr)", "Patch CNN velocity (mm/yr)",
                 "Subsidence inventory", "CNN-GWO classes", "CNN index", "GARDLIF-PSO classes", "GARDLIF index",
                 "Interbed thickness b0 (m)", "PS series (mm)", "Heads at the PS points (m)",
                 "LSTM: held-out forecast RMSE (mm)", "Physics RNN: held-out forecast RMSE (mm)"):
        assert f"<layername>{name}</layername>" in qgs, name
    assert "singlebandpseudocolor" in qgs and "paletted" in qgs and "graduatedSymbol" in qgs
    assert "./sample_area/dem.tif" in qgs  # relative paths: the folder can be moved
    # the project opens on the study area: the <mapcanvas> QGIS restores holds the DEM's extent and CRS
    from osgeo import gdal

    dem = gdal.Open(str(out / "sample_area" / "dem.tif"))
    x0, dx, _, y1, _, dy = dem.GetGeoTransform()
    expected = {"xmin": x0, "ymin": y1 + dy * dem.RasterYSize, "xmax": x0 + dx * dem.RasterXSize, "ymax": y1}
    canvases = [c for c in ElementTree.fromstring(qgs).iter("mapcanvas") if c.get("name") == "theMapCanvas"]
    assert len(canvases) == 1
    extent = canvases[0].find("extent")
    for key, value in expected.items():
        assert float(extent.find(key).text) == pytest.approx(value, abs=1e-6), key
    assert canvases[0].find("units").text == "meters"
    assert "32613" in canvases[0].find("destinationsrs/spatialrefsys/authid").text
    # one diverging style, labels with units: kriging as the truth (band 1), its variance sequential (band 2)
    layers = {m.find("layername").text: m for m in ElementTree.fromstring(qgs).iter("maplayer")}
    for name in ("Kriging velocity (mm/yr)", "IDW velocity (mm/yr)", "Patch CNN velocity (mm/yr)",
                 "True velocity (mm/yr)"):
        items = layers[name].findall(".//colorrampshader/item")
        assert [i.get("color") for i in items][0] == "#b2182b" and items[-1].get("color") == "#2166ac", name
        assert float(items[0].get("value")) == pytest.approx(-float(items[-1].get("value"))), name
        assert all(re.fullmatch(r"\u2212?\d+(\.\d)? mm/yr", i.get("label")) for i in items), name
    variance = layers["Kriging variance ((mm/yr)²)"]
    assert variance.find(".//rasterrenderer").get("band") == "2"
    assert all(i.get("label").endswith(" (mm/yr)²") for i in variance.findall(".//colorrampshader/item"))
    assert "(Gray)" not in qgs and "legend/label-0" in qgs
    report = (out / "report.html").read_text()
    assert "Sample study area" in report and "Driving-force factors" in report
    assert "gap RMSE" in report and "Patch CNN" in report
    assert "Susceptibility (seed 002) and GARDLIF + PSO (seed 003)" in report and "true future" in report
    assert "Point time series (seeds 001 and 004)" in report and "RMSE against the truth" in report
    assert '<a href="series/lstm.html">its report</a>' in report and "&lt;i&gt;" not in report
    assert "physics RNN with n fixed at 1, observed heads" in report and "delayed compaction" in report
    assert len(re.findall(r"data:image/png;base64,", report)) >= 10
    assert re.search(r"CNN-GWO\s*: susceptibility test AUC 0\.\d+", run.stdout)
    # every class of the PSO-weighted GARDLIF map and of the CNN-GWO susceptibility map holds cells
    from subsidence_plugin.core.io.rasters import read_raster

    for name, count in (("gardlif_pso_classes.tif", 4), ("susceptibility_cnn_gwo_classes.tif", 5)):
        classes = read_raster(str(out / "susceptibility" / name)).array[0]
        shares = np.bincount(classes[classes > 0], minlength=count + 1)[1:] / (classes > 0).sum()
        assert shares.min() >= 0.01, (name, shares)
