"""Damaged model files (issue 11): every kind is refused with a ValueError naming the file and what is wrong,
never a KeyError, a TypeError or torch's "size mismatch" / "Missing key(s)"."""
import copy
import json
import os
import re

import numpy as np
import pytest
import torch

from subsidence_plugin.core.io.grid import crs_wkt_from_epsg
from subsidence_plugin.core.ml.model_files import read_model, save_model
from subsidence_plugin.core.surface.network import PatchCNN
from subsidence_plugin.core.surface.patch_cnn import load_patch_cnn
from subsidence_plugin.core.susceptibility.cnn import FactorVectorCNN, load_susceptibility_model


def _patch_model():
    torch.manual_seed(0)
    model = PatchCNN(2, 22, (4, 8, 8), (32, 16))
    description = {"plugin_version": "0.1.0", "architecture": model.architecture(), "band_names": ["a", "b"],
                   "normalisation": {"method": "zscore", "offset": [0.0, 1.0], "scale": [1.0, 2.0]},
                   "target": {"field": "v", "units": "mm/yr", "mean": -3.0, "std": 2.0}, "patch_size": 22,
                   "cell_size": [30.0, 30.0], "crs_wkt": crs_wkt_from_epsg(32633), "metrics": {}}
    return model, description


def _factor(name):
    return {"name": name, "categorical": False, "edges": [1.0], "codes": [], "low": 0.0, "high": 2.0,
            "frequency_ratio": [0.5, 1.5]}


def _susceptibility_model():
    torch.manual_seed(0)
    model = FactorVectorCNN(3, (4, 8), 8)
    description = {"plugin_version": "0.1.0", "architecture": model.architecture(), "band_names": ["a", "b", "c"],
                   "encoder": {"encoding": "fr", "mean": [0.0, 0.1, 0.2], "std": [1.0, 1.0, 2.0],
                               "factors": [_factor("a"), _factor("b"), _factor("c")]},
                   "cell_size": [30.0, 30.0], "crs_wkt": crs_wkt_from_epsg(32633), "settings": {}, "metrics": {}}
    return model, description


def _write(tmp_path, kind, state, description, name="model.pt"):
    path = str(tmp_path / name)
    save_model(path, kind, state, description)
    return path


def _refused(path, loader, message):
    with pytest.raises(ValueError) as error:
        loader(path)
    assert str(error.value).startswith(f"{path}: ") and os.path.basename(path) in str(error.value)
    assert re.search(message, str(error.value)), str(error.value)


def test_a_sound_patch_cnn_file_loads_and_predicts_as_saved(tmp_path):
    model, description = _patch_model()
    path = _write(tmp_path, "patch-cnn", model.state_dict(), description)
    loaded, read = load_patch_cnn(path)
    probe = torch.randn(3, 2, 22, 22)
    with torch.no_grad():
        np.testing.assert_array_equal(loaded(probe).numpy(), model.eval()(probe).numpy())
    assert read["target"]["mean"] == -3.0 and read["kind"] == "patch-cnn"


@pytest.mark.parametrize("key", ["band_names", "cell_size", "crs_wkt", "architecture", "normalisation", "target"])
def test_patch_cnn_description_without_a_needed_key_is_refused(tmp_path, key):
    model, description = _patch_model()
    del description[key]
    path = _write(tmp_path, "patch-cnn", model.state_dict(), description)
    _refused(path, load_patch_cnn, f"the description lacks '{key}'")
    _refused(path, read_model, f"the description lacks '{key}'")  # Apply model reads the description first


@pytest.mark.parametrize("damage, message", [
    (lambda d: d["normalisation"].pop("scale"), r"the normalisation lacks 'scale'"),
    (lambda d: d["normalisation"].update(offset=[0.0, 1.0, 2.0]), r"normalisation's offset holds 3 value\(s\) "
                                                                  r"instead of 2"),
    (lambda d: d["normalisation"].update(scale=[1.0, 0.0]), r"normalisation's scale holds a 0"),
    (lambda d: d["normalisation"].update(extra=1), r"normalisation has unknown entries 'extra'"),
    (lambda d: d["target"].pop("std"), r"the target lacks 'std'"),
    (lambda d: d["architecture"].pop("dense"), r"the architecture lacks 'dense'"),
    (lambda d: d["architecture"].update(filters="wide"), r"the declared architecture cannot be built"),
    (lambda d: d.update(band_names=["a", "b", "c"], normalisation={"method": "none", "offset": [0.0] * 3,
                                                                   "scale": [1.0] * 3}),
     r"architecture declares 2 factor band\(s\), the description names 3"),
    (lambda d: d.update(cell_size=[30.0]), r"cell_size \[30.0\] is not two positive numbers"),
])
def test_patch_cnn_damaged_description_is_refused(tmp_path, damage, message):
    model, description = _patch_model()
    damage(description)
    _refused(_write(tmp_path, "patch-cnn", model.state_dict(), description), load_patch_cnn, message)


def test_patch_cnn_weights_that_do_not_match_the_architecture_are_refused(tmp_path):
    model, description = _patch_model()
    wider = PatchCNN(2, 22, (4, 8, 16), (32, 16))  # other filters than declared
    _refused(_write(tmp_path, "patch-cnn", wider.state_dict(), description), load_patch_cnn,
             r"the weights do not match the declared architecture \(shapes blocks\.2\.pointwise\.weight "
             r"\(16, 8, 1, 1\) instead of \(8, 8, 1, 1\), .* and 6 more\)")
    state = model.state_dict()
    del state["output.weight"]
    state["surplus"] = torch.zeros(1)
    _refused(_write(tmp_path, "patch-cnn", state, description), load_patch_cnn,
             r"do not match the declared architecture \(missing output\.weight; unexpected surplus\)")
    _refused(_write(tmp_path, "patch-cnn", None, description), load_patch_cnn, "the file holds no weights")
    state = copy.deepcopy(model.state_dict())
    state["head.0.bias"][0] = float("nan")
    _refused(_write(tmp_path, "patch-cnn", state, description), load_patch_cnn,
             r"the weights hold NaN or infinite values \(head\.0\.bias\)")


def test_a_sound_susceptibility_file_loads_and_predicts_as_saved(tmp_path):
    model, description = _susceptibility_model()
    path = _write(tmp_path, "susceptibility-cnn", model.state_dict(), description)
    trained, _ = load_susceptibility_model(path)
    values = np.array([[0.5, 1.5, np.nan], [1.5, 0.2, 1.0], [0.1, 1.9, 1.0]])
    x = torch.from_numpy(trained.encoder.encode(values[:, :2]))
    with torch.no_grad():
        expected = torch.sigmoid(model.eval()(x)).numpy()
    np.testing.assert_allclose(trained.predict(values)[:2], expected, rtol=1e-6)
    assert np.isnan(trained.predict(values)[2])


@pytest.mark.parametrize("damage, message", [
    (lambda d: d.pop("encoder"), r"the description lacks 'encoder'"),
    (lambda d: d.pop("architecture"), r"the description lacks 'architecture'"),
    (lambda d: d["encoder"]["factors"][1].pop("edges"), r"factor 2 of the encoder lacks 'edges'"),
    (lambda d: d["encoder"]["factors"][0].update(frequency_ratio=[1.0, 2.0, 3.0]),
     r"factor 1 of the encoder \('a'\) has 3 frequency ratio\(s\) for 2 class\(es\)"),
    (lambda d: d["encoder"].update(mean=[0.0, 0.0]), r"the encoder's mean holds 2 value\(s\) instead of 3"),
    (lambda d: d["encoder"].pop("std"), r"the encoder lacks 'std'"),
    (lambda d: d["settings"].update(colour="red"), r"the description's settings are not valid"),
    (lambda d: d["architecture"].update(factors=4), r"the architecture declares 4 factor\(s\), the encoder 3"),
])
def test_susceptibility_damaged_description_is_refused(tmp_path, damage, message):
    model, description = _susceptibility_model()
    damage(description)
    _refused(_write(tmp_path, "susceptibility-cnn", model.state_dict(), description), load_susceptibility_model,
             message)


def test_susceptibility_weights_that_do_not_match_the_architecture_are_refused(tmp_path):
    model, description = _susceptibility_model()
    other = FactorVectorCNN(3, (4, 8), 16)  # a wider dense layer than declared
    _refused(_write(tmp_path, "susceptibility-cnn", other.state_dict(), description), load_susceptibility_model,
             r"the weights do not match the declared architecture \(shapes head\.2\.weight \(16, 16\) instead of "
             r"\(8, 16\)")
    state = model.state_dict()
    del state["head.4.bias"]
    _refused(_write(tmp_path, "susceptibility-cnn", state, description), load_susceptibility_model,
             r"do not match the declared architecture \(missing head\.4\.bias\)")


def test_frequency_ratio_file_without_encoder_is_refused(tmp_path):
    _, description = _susceptibility_model()
    description["architecture"] = {"type": "frequency_ratio"}
    path = _write(tmp_path, "frequency-ratio", None, description)
    trained, read = load_susceptibility_model(path)
    assert trained.model is None and read["kind"] == "frequency-ratio"
    del description["encoder"]
    _refused(_write(tmp_path, "frequency-ratio", None, description, "fr.pt"), load_susceptibility_model,
             "the description lacks 'encoder'")


def test_a_description_that_is_not_an_object_is_refused(tmp_path):
    path = str(tmp_path / "list.pt")
    torch.save({"description": json.dumps([1, 2]), "state_dict": None}, path)
    with pytest.raises(ValueError, match="list.pt is not a model file of this plugin"):
        read_model(path)
