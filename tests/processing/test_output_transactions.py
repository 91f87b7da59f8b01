"""Every algorithm of the provider writes all its outputs or none (issue 11).

Each algorithm runs on tiny inputs, the way the toolbox runs it (parameter check, then the run), through: a
read-only folder, a full disk (a 64 KiB tmpfs where this process may mount one; else writers patched to fail), a
failing last output (the last rename of the commit fails), two outputs on one file, and cancel at several points.
For each: only a QgsProcessingException (or a refused parameter check with a message) reaches the user, and the
output folder is exactly as before the run (a file already at the first output's path keeps its content).
"""
import hashlib
import os
import subprocess
from types import SimpleNamespace

import numpy as np
import pytest
from qgis.core import QgsApplication, QgsProcessingContext, QgsProcessingException, QgsProcessingFeedback, QgsProject

from subsidence_plugin.processing import transaction
from subsidence_plugin.processing.provider import SubsidenceProvider

OLD = b"an earlier output that a failed run must leave as it was"


@pytest.fixture(scope="module")
def registered(qgis_processing):
    registry = QgsApplication.processingRegistry()
    provider = SubsidenceProvider()
    registry.addProvider(provider)
    yield registry
    registry.removeProvider("subsidence")


@pytest.fixture(scope="module")
def inputs(registered, sample_area, tmp_path_factory, gardlif_layers, groundwater_sample):
    """Small inputs for every algorithm: the session's sample area, a factor stack, an inventory, a patch-CNN
    model, GARDLIF layers with points on them."""
    import processing

    from subsidence_plugin.core.io.vectors import VectorLayer, write_geopackage

    folder = tmp_path_factory.mktemp("inputs")
    rasters = sample_area.rasters
    stack = processing.run("subsidence:buildfactorstack", {
        "REFERENCE": rasters["dem"], "CONTINUOUS": [rasters["dem"], rasters["thickness"]],
        "CATEGORICAL": [rasters["landuse"]], "OUTPUT": str(folder / "stack.tif")})["OUTPUT"]
    points = f"{sample_area.vector_path}|layername=ps_points"
    inventory = processing.run("subsidence:subsidenceinventory", {
        "INPUT": points, "FIELD": "velocity", "STACK": stack, "THRESHOLD": 5.0, "STABLE_THRESHOLD": 1.0,
        "OUTPUT": str(folder / "inventory.gpkg")})["OUTPUT"]
    model = processing.run("subsidence:trainpatchcnn", {
        "INPUT": points, "FIELD": "velocity", "STACK": stack, "PATCH_SIZE": 22, "EPOCHS": 1, "DEVICE": 3,
        "OUTPUT_MODEL": str(folder / "cnn.pt"), "OUTPUT": str(folder / "cnn.tif")})["OUTPUT_MODEL"]
    series_model = processing.run("subsidence:trainseriesmodel", {
        "INPUT": points, "WINDOW": 6, "EPOCHS": 1, "DEVICE": 3, "OUTPUT": str(folder / "series.gpkg"),
        "OUTPUT_MODEL": str(folder / "lstm.pt")})["OUTPUT_MODEL"]
    grid, values, layers = gardlif_layers(str(folder))
    rows, cols = np.nonzero(np.ones(grid.shape, dtype=bool))
    x, y = grid.cell_centres(rows, cols)
    gardlif_points = write_geopackage(str(folder / "pts.gpkg"), [VectorLayer(
        "pts", {"velocity": -values["groundwater_decline"][rows, cols]}, points=np.column_stack([x, y]))],
        grid.crs_wkt)
    grace, area, _, _ = groundwater_sample
    storage = processing.run("subsidence:groundwaterstorage", {
        "TWS": grace.tws_files, "LSM": grace.lsm_files, "AREA": area, "OUTPUT": str(folder / "gws.gpkg")})["OUTPUT"]
    groundwater = {"grace": grace, "area": area, "storage": storage}
    return {"rasters": rasters, "vectors": sample_area.vector_path, "points": points, "stack": stack,
            "groundwater": groundwater, "inventory": inventory, "model": model, "series_model": series_model,
            "gardlif": {k.upper(): p for k, p in layers.items()},
            "gardlif_points": f"{gardlif_points}|layername=pts"}


def _cases(i):
    """algorithm id -> (inputs, output names) -> parameters; every file output in the folder ``out``."""
    r, v, g = i["rasters"], i["vectors"], i["groundwater"]
    return {
        "subsidence:createsamplearea": ({"SIZE": 32, "SEED": 1}, ["OUTPUT_FOLDER"]),
        "subsidence:slope": ({"INPUT": r["dem"]}, ["OUTPUT", "OUTPUT_PERCENT"]),
        "subsidence:aspect": ({"INPUT": r["dem"]}, ["OUTPUT"]),
        "subsidence:curvature": ({"INPUT": r["dem"]}, ["OUTPUT", "PLAN", "PROFILE"]),
        "subsidence:filldepressions": ({"INPUT": r["dem"]}, ["OUTPUT"]),
        "subsidence:flowaccumulation": ({"INPUT": r["dem"], "METHOD": 1}, ["OUTPUT", "OUTPUT_SCA"]),
        "subsidence:topographicwetnessindex": ({"INPUT": r["dem"]}, ["OUTPUT"]),
        "subsidence:streampowerindex": ({"INPUT": r["dem"]}, ["OUTPUT"]),
        "subsidence:distancetofeatures": ({"INPUT": f"{v}|layername=rivers", "REFERENCE": r["dem"]}, ["OUTPUT"]),
        "subsidence:drainagedensity": ({"INPUT": f"{v}|layername=rivers", "REFERENCE": r["dem"]}, ["OUTPUT"]),
        "subsidence:spectralindex": ({"INPUT": [r["image"]], "INDEX": 0}, ["OUTPUT"]),
        "subsidence:interpolatepoints": ({"INPUT": f"{v}|layername=piezometers", "FIELD": "screen_depth_m",
                                          "REFERENCE": r["dem"]}, ["OUTPUT"]),
        "subsidence:groundwaterchange": ({"REFERENCE": r["dem"], "PIEZOMETERS": f"{v}|layername=piezometers",
                                          "START": "2016-01-15", "END": "2020-12-15", "NEIGHBOURS": 4},
                                         ["OUTPUT"]),
        "subsidence:buildfactorstack": ({"REFERENCE": r["dem"], "CONTINUOUS": [r["dem"], r["thickness"]]},
                                        ["OUTPUT"]),
        "subsidence:kriging": ({"INPUT": i["points"], "FIELD": "velocity", "REFERENCE": r["dem"], "VARIOGRAM": 1,
                                "CV_POINTS": 50, "DEVICE": 3}, ["OUTPUT", "REPORT"]),
        "subsidence:idw": ({"INPUT": i["points"], "FIELD": "velocity", "REFERENCE": r["dem"]}, ["OUTPUT", "REPORT"]),
        "subsidence:trainpatchcnn": ({"INPUT": i["points"], "FIELD": "velocity", "STACK": i["stack"],
                                      "PATCH_SIZE": 22, "EPOCHS": 1, "DEVICE": 3},
                                     ["OUTPUT_MODEL", "OUTPUT", "REPORT"]),
        "subsidence:applymodel": ({"MODEL": i["model"], "STACK": i["stack"], "DEVICE": 3}, ["OUTPUT"]),
        "subsidence:comparesurfacemethods": ({"INPUT": i["points"], "FIELD": "velocity", "STACK": i["stack"],
                                              "METHODS": [2], "FOLDS": 2, "SEED": 1}, ["OUTPUT", "REPORT"]),
        "subsidence:subsidenceinventory": ({"INPUT": i["points"], "FIELD": "velocity", "STACK": i["stack"],
                                            "THRESHOLD": 5.0, "STABLE_THRESHOLD": 1.0}, ["OUTPUT"]),
        "subsidence:factoranalysis": ({"INVENTORY": i["inventory"], "STACK": i["stack"]},
                                      ["REPORT", "FR_TABLE", "STATISTICS", "CORRELATION"]),
        "subsidence:trainsusceptibility": ({"INVENTORY": i["inventory"], "STACK": i["stack"], "MODEL": 3,
                                            "DEVICE": 3}, ["OUTPUT", "CLASSES_OUTPUT", "OUTPUT_MODEL", "REPORT"]),
        "subsidence:classifysusceptibility": ({"INPUT": r["thickness"]}, ["OUTPUT", "TABLE"]),
        "subsidence:gardlif": (dict(i["gardlif"]), ["OUTPUT", "CLASSES_OUTPUT"]),
        "subsidence:optimizeweights": ({"POINTS": i["gardlif_points"], "FIELD": "velocity", **i["gardlif"],
                                        "PARTICLES": 4, "ITERATIONS": 2},
                                       ["OUTPUT", "CLASSES_OUTPUT", "WEIGHTS_TABLE", "REPORT"]),
        "subsidence:importinsarseries": ({"INPUT": [i["points"]], "UNITS": 1}, ["OUTPUT"]),
        "subsidence:groundwaterseries": ({"INPUT": i["points"], "GROUNDWATER": f"{v}|layername=piezometers"},
                                         ["OUTPUT"]),
        "subsidence:trainseriesmodel": ({"INPUT": i["points"], "GROUNDWATER": f"{v}|layername=piezometers",
                                         "WINDOW": 6, "EPOCHS": 1, "DEVICE": 3}, ["OUTPUT", "OUTPUT_MODEL", "REPORT"]),
        "subsidence:forecastseries": ({"INPUT": i["points"], "MODEL_FILE": i["series_model"], "HORIZON_MONTHS": 3},
                                      ["OUTPUT"]),
        "subsidence:labelmeasurementpoints": ({"INPUT": i["points"]}, ["OUTPUT"]),
        "subsidence:screenmeasurementpoints": ({"INPUT": i["points"], "EPOCHS": 2, "DEVICE": 3},
                                               ["OUTPUT", "REPORT"]),
        "subsidence:hotspots": ({"INPUT": i["points"], "FIELD": "velocity"}, ["OUTPUT", "REPORT"]),
        "subsidence:validatewithgnss": ({"INPUT": i["points"], "GNSS_TABLE": f"{v}|layername=gps_daily",
                                         "STATIONS": f"{v}|layername=gps_stations"}, ["OUTPUT", "REPORT"]),
        "subsidence:creategroundwatersample": ({"EXTENT": "400000,410000,3600000,3610000 [EPSG:32613]"},
                                               ["OUTPUT_FOLDER"]),
        "subsidence:groundwaterstorage": ({"TWS": g["grace"].tws_files, "LSM": g["grace"].lsm_files,
                                           "AREA": g["area"]}, ["OUTPUT", "OUTPUT_RASTER", "REPORT"]),
        "subsidence:compareseries": ({"STORAGE": g["storage"], "PRECIPITATION_TABLE": g["grace"].precipitation_table,
                                      "POINTS": i["points"], "AREA": g["area"]}, ["OUTPUT", "REPORT"]),
    }


EXTENSIONS = {"OUTPUT_MODEL": ".pt", "REPORT": ".html", "FR_TABLE": ".gpkg", "STATISTICS": ".gpkg",
              "CORRELATION": ".gpkg", "TABLE": ".gpkg", "WEIGHTS_TABLE": ".gpkg"}
VECTOR_OUTPUTS = {"subsidence:subsidenceinventory": ".gpkg", "subsidence:comparesurfacemethods": ".gpkg",
                  "subsidence:importinsarseries": ".gpkg", "subsidence:groundwaterseries": ".gpkg",
                  "subsidence:trainseriesmodel": ".gpkg", "subsidence:forecastseries": ".gpkg",
                  "subsidence:labelmeasurementpoints": ".gpkg", "subsidence:screenmeasurementpoints": ".gpkg",
                  "subsidence:hotspots": ".gpkg", "subsidence:validatewithgnss": ".gpkg",
                  "subsidence:groundwaterstorage": ".gpkg", "subsidence:compareseries": ".gpkg"}


def _parameters(algorithm_id, case, out):
    parameters, outputs = case
    parameters = dict(parameters)
    for n, key in enumerate(outputs):
        if key == "OUTPUT_FOLDER":
            parameters[key] = os.path.join(out, "area")
            continue
        ext = EXTENSIONS.get(key, VECTOR_OUTPUTS.get(algorithm_id, ".tif") if key == "OUTPUT" else ".tif")
        parameters[key] = os.path.join(out, f"{key.lower()}_{n}{ext}")
    return parameters


def _snapshot(folder):
    if not os.path.exists(folder):
        return None
    found = {}
    for root, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            with open(path, "rb") as fh:
                found[os.path.relpath(path, folder)] = hashlib.sha1(fh.read()).hexdigest()
    return found


class CancelAfter(QgsProcessingFeedback):
    """Feedback that asks to cancel after ``steps`` progress reports."""

    def __init__(self, steps):
        super().__init__()
        self.left = steps
        self.progressChanged.connect(self._count)

    def _count(self, _):
        self.left -= 1
        if self.left <= 0:
            self.cancel()


def _run(registry, algorithm_id, parameters, feedback=None):
    """Check, then run, as the toolbox does. Returns the results, or the message of a refusal or a failure; any
    other exception type fails the test."""
    algorithm = registry.createAlgorithmById(algorithm_id)
    context = QgsProcessingContext()
    context.setProject(QgsProject.instance())
    ok, message = algorithm.checkParameterValues(parameters, context)
    if not ok:
        assert message, "a refusal says why"
        return message
    try:
        return algorithm.processAlgorithm(parameters, context, feedback or QgsProcessingFeedback())
    except QgsProcessingException as error:
        assert str(error), "a failure says why"
        return str(error)


def _prepare(out, parameters, outputs):
    """A folder holding an unrelated file and an earlier file at the first output's path."""
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "keep.txt"), "wb") as fh:
        fh.write(b"not ours")
    first = parameters[outputs[0]]
    if outputs[0] != "OUTPUT_FOLDER":
        with open(first, "wb") as fh:
            fh.write(OLD)
    return _snapshot(out)


@pytest.fixture(scope="module")
def small_disk(tmp_path_factory):
    """A 64 KiB tmpfs where this process may mount one (root in CI), else None (writers are patched instead)."""
    target = tmp_path_factory.mktemp("full")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(target)], capture_output=True)
    if done.returncode != 0:
        yield None
        return
    yield str(target)
    subprocess.run(["umount", str(target)], capture_output=True)


@pytest.fixture(scope="module")
def read_only(tmp_path_factory):
    """A read-only folder: a read-only tmpfs where it can be mounted (root ignores file modes), else chmod."""
    target = tmp_path_factory.mktemp("readonly")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(target)], capture_output=True)
    if done.returncode != 0:
        os.chmod(target, 0o555)
    yield str(target)
    subprocess.run(["umount", str(target)], capture_output=True)


ALGORITHMS = sorted(_cases({"rasters": {k: "" for k in ("dem", "thickness", "image", "landuse")}, "vectors": "",
                            "points": "", "stack": "", "inventory": "", "model": "", "series_model": "",
                            "gardlif": {}, "gardlif_points": "",
                            "groundwater": {"grace": SimpleNamespace(tws_files=[], lsm_files=[],
                                                                     precipitation_table=""),
                                            "area": "", "storage": ""}}))


def test_every_algorithm_is_covered(registered):
    assert ALGORITHMS == sorted(a.id() for a in registered.providerById("subsidence").algorithms())


@pytest.mark.parametrize("algorithm_id", ALGORITHMS)
def test_a_run_writes_all_outputs_or_none(registered, inputs, tmp_path, small_disk, read_only, monkeypatch,
                                          algorithm_id):
    case = _cases(inputs)[algorithm_id]
    outputs = case[1]

    # a read-only folder: refused before any work, nothing created
    parameters = _parameters(algorithm_id, case, os.path.join(read_only, "sub"))
    message = _run(registered, algorithm_id, parameters)
    assert isinstance(message, str) and read_only in message
    assert _snapshot(read_only) == {}

    # two outputs on one file, or an output on an input: refused before any work
    if len(outputs) > 1:
        out = str(tmp_path / "same")
        parameters = _parameters(algorithm_id, case, out)
        before = _prepare(out, parameters, outputs)
        parameters[outputs[1]] = parameters[outputs[0]]
        message = _run(registered, algorithm_id, parameters)
        assert isinstance(message, str) and "same file" in message and _snapshot(out) == before

    # the last rename of the commit fails: every target as before
    out = str(tmp_path / "commit")
    parameters = _parameters(algorithm_id, case, out)
    before = _prepare(out, parameters, outputs)
    real_rename = transaction._rename
    renamed = []

    def failing_second(source, target):
        if ".tmp" in source:
            renamed.append(source)
            if len(renamed) == 2:  # one temporary file is in place already: it must be undone
                raise OSError(28, "No space left on device (test)")
        return real_rename(source, target)

    monkeypatch.setattr(transaction, "_rename", failing_second)
    message = _run(registered, algorithm_id, parameters)
    monkeypatch.setattr(transaction, "_rename", real_rename)
    if isinstance(message, str):
        assert _snapshot(out) == before, message
    else:  # one file, no sidecar: no second rename to fail
        assert len(renamed) == 1

    # a full disk (or, without a mount, writers that fail)
    if small_disk is not None:
        out = os.path.join(small_disk, algorithm_id.split(":")[1])
        parameters = _parameters(algorithm_id, case, out)
        message = _run(registered, algorithm_id, parameters)
        after = _snapshot(out)
        if isinstance(message, str):
            assert after is None or after == {}, message
        else:
            assert after, "a run that succeeded wrote its outputs"
        subprocess.run(["rm", "-rf", out])
        assert os.listdir(small_disk) == []

    # cancel at several points
    for steps in (1, 4):
        out = str(tmp_path / f"cancel{steps}")
        parameters = _parameters(algorithm_id, case, out)
        before = _prepare(out, parameters, outputs)
        feedback = CancelAfter(steps)
        message = _run(registered, algorithm_id, parameters, feedback)
        if feedback.isCanceled():
            assert isinstance(message, str) and "ancel" in message and _snapshot(out) == before

    # and a run that succeeds replaces the earlier file, with no temporary file left
    out = str(tmp_path / "ok")
    parameters = _parameters(algorithm_id, case, out)
    _prepare(out, parameters, outputs)
    results = _run(registered, algorithm_id, parameters)
    assert isinstance(results, dict), results
    left = [name for name in _snapshot(out) if ".tmp" in name or ".bak" in name]
    assert left == []
    if outputs[0] != "OUTPUT_FOLDER":
        with open(parameters[outputs[0]], "rb") as fh:
            assert fh.read() != OLD


def test_an_output_on_an_input_is_refused(registered, sample_area, tmp_path):
    import shutil

    dem = str(tmp_path / "dem.tif")
    shutil.copy(sample_area.rasters["dem"], dem)
    before = _snapshot(str(tmp_path))
    message = _run(registered, "subsidence:slope", {"INPUT": dem, "OUTPUT": dem})
    assert isinstance(message, str) and "would overwrite the input INPUT" in message
    after = {k: v for k, v in _snapshot(str(tmp_path)).items() if not k.endswith(".aux.xml")}  # QGIS read the DEM
    assert after == before
