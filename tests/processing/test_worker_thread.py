"""What an algorithm does in a task's worker thread: no project lookup, no QGIS layer, no garbage collection.

QGIS runs `runPrepared` in a task's thread and `prepare` / `postProcess` on the main thread. Project layers are
looked up in `prepareAlgorithm`, rasters are styled (and their .qml saved) in `postProcessAlgorithm`, and the
transaction collects garbage only when a file it must move is still open (CI crashed with a segfault while a
task was running).
"""
import gc
import os
import threading

from qgis.core import QgsApplication, QgsProcessingContext, QgsProcessingFeedback, QgsProject

from subsidence_plugin.processing import base, transaction


def _in_worker(function):
    """Run ``function`` in another thread, as a QgsTask runs `runPrepared`; re-raise its error here."""
    outcome = {}

    def target():
        try:
            outcome["value"] = function()
        except BaseException as error:  # noqa: BLE001 - handed to the test's thread
            outcome["error"] = error

    worker = threading.Thread(target=target)
    worker.start()
    worker.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def test_the_worker_looks_nothing_up_and_styles_nothing(provider, sample_area, tmp_path, monkeypatch):
    algorithm = QgsApplication.processingRegistry().createAlgorithmById("subsidence:slope")
    context = QgsProcessingContext()
    context.setProject(QgsProject.instance())
    feedback = QgsProcessingFeedback()
    output = str(tmp_path / "slope.tif")
    parameters = {"INPUT": sample_area.rasters["dem"], "OUTPUT": output}
    assert algorithm.prepare(parameters, context, feedback)

    main = threading.current_thread()
    styled_in = []
    real_style = base.style_raster_file

    def style(path, name, styler):
        styled_in.append(threading.current_thread())
        real_style(path, name, styler)

    def no_lookup(*_args):
        raise AssertionError("input files looked up outside prepareAlgorithm")

    def no_collection(*_args):
        raise AssertionError("garbage collected in the worker")

    monkeypatch.setattr(base, "style_raster_file", style)
    with monkeypatch.context() as worker:
        worker.setattr(transaction, "input_files", no_lookup)
        worker.setattr(gc, "collect", no_collection)
        results = _in_worker(lambda: algorithm.runPrepared(parameters, context, feedback))

    assert results["OUTPUT"] == output and os.path.exists(output)
    assert styled_in == [] and not os.path.exists(str(tmp_path / "slope.qml"))
    algorithm.postProcess(context, feedback)
    assert styled_in == [main]
    with open(tmp_path / "slope.qml") as fh:
        assert "singlebandpseudocolor" in fh.read()  # style_sequential's ramp, saved as the file's default
    assert list(context.layersToLoadOnCompletion()) == [output]


def test_a_file_still_open_is_moved_after_a_collection(provider, sample_area, tmp_path, monkeypatch):
    """Windows refuses to rename an open file (PermissionError); a dataset only a reference cycle holds keeps it
    open until a collection."""
    algorithm = QgsApplication.processingRegistry().createAlgorithmById("subsidence:slope")
    context = QgsProcessingContext()
    refused, collections = set(), []
    real_rename, real_collect = transaction._rename, gc.collect

    def rename_once_refused(source, target):
        if ".tmp" in source and source not in refused:
            refused.add(source)
            raise PermissionError(13, "The process cannot access the file (test)")
        real_rename(source, target)

    def collect(*args):
        collections.append(args)
        return real_collect(*args)

    monkeypatch.setattr(transaction, "_rename", rename_once_refused)
    monkeypatch.setattr(gc, "collect", collect)
    results = algorithm.run({"INPUT": sample_area.rasters["dem"], "OUTPUT": str(tmp_path / "slope.tif")},
                            context, QgsProcessingFeedback())[0]
    monkeypatch.undo()
    assert results["OUTPUT"] == str(tmp_path / "slope.tif") and os.path.exists(results["OUTPUT"])
    assert len(collections) == len(refused) >= 1
    assert not [name for name in os.listdir(tmp_path) if ".tmp" in name]
