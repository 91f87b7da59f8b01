"""The main job end to end (as scripts/demo.sh runs it): project file with styled layers, report, summary."""
import os
import re
import subprocess
import sys
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_main_job_writes_project_and_report(tmp_path):
    out = tmp_path / "demo"
    run = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "main_job.py"), "--output", str(out),
                          "--size", "64", "--seed", "5", "--epochs", "2"], capture_output=True, text=True, timeout=600,
                         env=dict(os.environ, QT_QPA_PLATFORM="offscreen"))
    assert run.returncode == 0, run.stderr[-3000:]
    assert "[main job] summary" in run.stdout and "PS points" in run.stdout
    project = out / "sample_area.qgz"
    with zipfile.ZipFile(project) as archive:
        qgs = archive.read([n for n in archive.namelist() if n.endswith(".qgs")][0]).decode()
    for name in ("PS points", "DEM (m)", "True velocity (mm/yr)", "Land use", "Rivers", "Faults",
                 "Pumping wells", "Piezometers", "GPS stations", "Factor stack", "TWI", "NDVI",
                 "Kriging velocity (mm/yr)", "IDW velocity (mm/yr)", "Patch CNN velocity (mm/yr)",
                 "Subsidence inventory", "CNN-GWO classes", "CNN index", "GARDLIF-PSO classes", "GARDLIF index"):
        assert f"<layername>{name}</layername>" in qgs, name
    assert "singlebandpseudocolor" in qgs and "paletted" in qgs and "graduatedSymbol" in qgs
    assert "./sample_area/dem.tif" in qgs  # relative paths: the folder can be moved
    report = (out / "report.html").read_text()
    assert "Sample study area" in report and "Driving-force factors" in report
    assert "gap RMSE" in report and "Patch CNN" in report
    assert "Susceptibility (seed 002) and GARDLIF + PSO (seed 003)" in report and "true future" in report
    assert len(re.findall(r"data:image/png;base64,", report)) >= 10
    assert re.search(r"CNN-GWO\s*: susceptibility test AUC 0\.\d+", run.stdout)
