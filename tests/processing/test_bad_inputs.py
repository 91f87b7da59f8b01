"""Bad input gets a clear message (issue 11): lines where points are needed, model names, NULL and repeated
points in the log, all-nodata GARDLIF layers, missing output folders, what a reference raster is used for."""
import os

import numpy as np
import pytest
from qgis.core import QgsProcessingException

from subsidence_plugin.core.io.grid import RasterGrid, crs_wkt_from_epsg
from subsidence_plugin.core.io.rasters import read_raster, write_raster
from subsidence_plugin.core.io.vectors import VectorLayer, write_geopackage


def _stack_and_model(sample_area, folder, model_name="m.pt"):
    """A two-band factor stack of the sample area and a patch CNN trained on it for one epoch: (stack, model)."""
    import processing

    rasters = sample_area.rasters
    stack = processing.run("subsidence:buildfactorstack", {
        "REFERENCE": rasters["dem"], "CONTINUOUS": [rasters["dem"], rasters["thickness"]],
        "OUTPUT": str(folder / "stack.tif")})["OUTPUT"]
    model = processing.run("subsidence:trainpatchcnn", {
        "INPUT": f"{sample_area.vector_path}|layername=ps_points", "FIELD": "velocity", "STACK": stack,
        "PATCH_SIZE": 22, "EPOCHS": 1, "DEVICE": 3, "OUTPUT_MODEL": str(folder / model_name),
        "OUTPUT": str(folder / "cnn.tif")})["OUTPUT_MODEL"]
    return stack, model


def test_a_line_layer_is_refused_where_points_are_needed(provider, sample_area, tmp_path):
    import processing

    for algorithm in ("subsidence:idw", "subsidence:kriging", "subsidence:interpolatepoints"):
        with pytest.raises(QgsProcessingException, match="LineString geometries; points"):
            processing.run(algorithm, {"INPUT": f"{sample_area.vector_path}|layername=rivers", "FIELD": "order",
                                       "REFERENCE": sample_area.rasters["dem"], "OUTPUT": str(tmp_path / "x.tif")})
    assert os.listdir(tmp_path) == []


def test_null_and_repeated_points_are_counted_in_the_log(provider, sample_area, tmp_path, recording_feedback):
    import processing

    grid = RasterGrid.from_origin(500000.0, 4001000.0, 100.0, 10, 10, crs_wkt_from_epsg(32633), -9999.0)
    write_raster(str(tmp_path / "ref.tif"), np.zeros((10, 10), np.float32), grid)
    xy = np.array([[500150.0, 4000150.0], [500150.0, 4000150.0], [500550.0, 4000550.0], [500850.0, 4000250.0],
                   [500350.0, 4000850.0]])
    points = write_geopackage(str(tmp_path / "p.gpkg"), [VectorLayer(
        "p", {"v": np.array([1.0, 3.0, np.nan, 2.0, 5.0])}, points=xy)], grid.crs_wkt)
    feedback = recording_feedback
    result = processing.run("subsidence:idw", {"INPUT": f"{points}|layername=p", "FIELD": "v",
                                               "REFERENCE": str(tmp_path / "ref.tif"),
                                               "OUTPUT": str(tmp_path / "idw.tif")}, feedback=feedback)
    assert os.path.exists(result["OUTPUT"])
    assert any("1 point(s) without a value in 'v' (NULL)" in w for w in feedback.warnings)
    assert any("1 point(s) repeat the position of another point" in w for w in feedback.warnings)


def test_the_model_is_returned_where_it_was_written(provider, sample_area, tmp_path):
    _, model = _stack_and_model(sample_area, tmp_path, "model.bin")
    assert os.path.exists(model) and model.endswith(".pt")
    assert sorted(n for n in os.listdir(tmp_path) if n.startswith("model")) == ["model.json", "model.pt"]


def test_an_all_nodata_gardlif_layer_is_refused(provider, tmp_path, gardlif_layers):
    import processing

    grid, _, paths = gardlif_layers(str(tmp_path / "layers"))
    empty = write_raster(str(tmp_path / "empty.tif"), np.full(grid.shape, -9999.0, np.float32), grid, ["recharge"])
    parameters = {**{k.upper(): p for k, p in paths.items()}, "RECHARGE": empty,
                  "OUTPUT": str(tmp_path / "out" / "spi.tif"), "CLASSES_OUTPUT": str(tmp_path / "out" / "cls.tif")}
    with pytest.raises(QgsProcessingException, match=r"Net recharge .*empty.tif\) hold only nodata"):
        processing.run("subsidence:gardlif", parameters)
    assert not os.path.exists(tmp_path / "out")  # the folder the run created is gone again


def test_missing_output_folders_are_created_for_every_kind_of_output(provider, sample_area, tmp_path):
    import processing

    out = tmp_path / "a" / "b"
    result = processing.run("subsidence:classifysusceptibility", {
        "INPUT": sample_area.rasters["thickness"], "OUTPUT": str(out / "classes.tif"),
        "TABLE": str(out / "deeper" / "classes.gpkg")})
    assert os.path.exists(result["OUTPUT"]) and os.path.exists(out / "deeper" / "classes.gpkg")
    assert read_raster(result["OUTPUT"]).array.max() == 5


def test_help_says_what_a_reference_raster_is_used_for(provider):
    from qgis.core import QgsApplication

    registry = QgsApplication.processingRegistry()
    algorithms = registry.providerById("subsidence").algorithms()
    with_reference = [a for a in algorithms if a.parameterDefinition("REFERENCE") is not None
                      and a.parameterDefinition("REFERENCE").type() == "raster"]
    assert len(with_reference) == 7
    for algorithm in with_reference:
        assert "only its grid is used" in algorithm.shortHelpString()
    importer = registry.algorithmById("subsidence:importinsarseries")  # its REFERENCE is a re-referencing choice
    assert "only its grid is used" not in importer.shortHelpString()
    assert all("all or none" in a.shortHelpString() for a in registry.providerById("subsidence").algorithms())


def test_a_damaged_model_file_is_refused_with_what_is_wrong(provider, sample_area, tmp_path):
    import json

    import processing
    import torch

    stack, model = _stack_and_model(sample_area, tmp_path)
    content = torch.load(model, weights_only=True)
    description = json.loads(content["description"])
    del description["architecture"]
    torch.save({"description": json.dumps(description), "state_dict": content["state_dict"]}, tmp_path / "bad.pt")
    with pytest.raises(QgsProcessingException, match="lacks 'architecture'"):
        processing.run("subsidence:applymodel", {"MODEL": str(tmp_path / "bad.pt"), "STACK": stack,
                                                 "OUTPUT": str(tmp_path / "applied.tif")})
    state = dict(content["state_dict"])
    state.pop(next(iter(state)))
    torch.save({"description": content["description"], "state_dict": state}, tmp_path / "weights.pt")
    with pytest.raises(QgsProcessingException, match="do not match the declared architecture"):
        processing.run("subsidence:applymodel", {"MODEL": str(tmp_path / "weights.pt"), "STACK": stack,
                                                 "OUTPUT": str(tmp_path / "applied.tif")})
    assert not (tmp_path / "applied.tif").exists()


def test_degenerate_inputs_are_refused_through_processing(provider, tmp_path, gardlif_layers):
    import processing

    grid = RasterGrid.from_origin(500000.0, 4000100.0, 50.0, 2, 2, crs_wkt_from_epsg(32633), -9999.0)
    tiny = write_raster(str(tmp_path / "tiny.tif"), np.ones((2, 2), np.float32), grid)
    with pytest.raises(QgsProcessingException, match="at least 3 x 3 cells"):
        processing.run("subsidence:slope", {"INPUT": tiny, "OUTPUT": str(tmp_path / "s.tif")})
    with pytest.raises(QgsProcessingException, match="at least 3 x 3 cells"):
        processing.run("subsidence:topographicwetnessindex", {"INPUT": tiny, "OUTPUT": str(tmp_path / "t.tif")})
    flat = write_raster(str(tmp_path / "flat.tif"), np.full((5, 5), 0.3, np.float32),
                        RasterGrid.from_origin(500000.0, 4000250.0, 50.0, 5, 5, crs_wkt_from_epsg(32633), -9999.0))
    with pytest.raises(QgsProcessingException, match="constant"):
        processing.run("subsidence:classifysusceptibility", {"INPUT": flat, "OUTPUT": str(tmp_path / "c.tif")})
    _, _, paths = gardlif_layers(str(tmp_path / "layers"))
    with pytest.raises(QgsProcessingException, match="weights are 0"):
        processing.run("subsidence:gardlif", {**{k.upper(): p for k, p in paths.items()}, "WEIGHTS": "0,0,0,0,0,0,0",
                                              "OUTPUT": str(tmp_path / "g.tif"),
                                              "CLASSES_OUTPUT": str(tmp_path / "gc.tif")})
    left = sorted(n for n in os.listdir(tmp_path) if not n.endswith(".aux.xml"))  # QGIS read the inputs
    assert left == ["flat.tif", "layers", "tiny.tif"]


def test_a_patch_model_is_not_applied_to_a_stack_smaller_than_its_patch(provider, sample_area, tmp_path):
    import processing

    stack, model = _stack_and_model(sample_area, tmp_path)
    small = processing.run("gdal:translate", {"INPUT": stack, "EXTRA": "-srcwin 0 0 10 10",
                                              "OUTPUT": str(tmp_path / "small.tif")})["OUTPUT"]
    with pytest.raises(QgsProcessingException, match="smaller than the model's 22 x 22-cell patch"):
        processing.run("subsidence:applymodel", {"MODEL": model, "STACK": small, "OUTPUT": str(tmp_path / "a.tif")})
    assert not (tmp_path / "a.tif").exists()
