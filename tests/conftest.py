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
