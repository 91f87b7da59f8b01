"""The plugin loads and unloads cleanly in (a stub of) the QGIS desktop, and its metadata is complete."""
import configparser
import os

from qgis.core import QgsApplication
from qgis.PyQt.QtCore import QEvent
from qgis.PyQt.QtWidgets import QApplication, QToolBar

import subsidence_plugin
from subsidence_plugin.plugin import MENU_TITLE, TOOLBAR_TITLE

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _menus(iface):
    return [a.text() for a in iface.mainWindow().menuBar().actions()]


def _toolbars(iface):
    return [t for t in iface.mainWindow().findChildren(QToolBar) if t.windowTitle() == TOOLBAR_TITLE]


def test_load_and_unload_leave_nothing_behind(qgis_iface, qgis_processing):
    registry = QgsApplication.processingRegistry()
    assert registry.providerById("subsidence") is None
    plugin = subsidence_plugin.classFactory(qgis_iface)
    plugin.initGui()
    provider = registry.providerById("subsidence")
    assert provider is not None and provider.name() == "Land subsidence"
    assert "subsidence:createsamplearea" in [a.id() for a in provider.algorithms()]
    assert _menus(qgis_iface).count(MENU_TITLE) == 1
    texts = [a.text() for a in plugin.menu.actions()]
    assert "Create sample study area…" in texts and "Install dependencies…" in texts and "Time series…" in texts
    assert not plugin.series_dock.isVisible() and plugin.series_dock.canvas is qgis_iface.mapCanvas()
    assert len(_toolbars(qgis_iface)) == 1
    plugin.initProcessing()  # QGIS may call it again: still one provider
    assert [p.id() for p in registry.providers()].count("subsidence") == 1

    plugin.unload()
    QApplication.sendPostedEvents(None, QEvent.DeferredDelete)
    assert registry.providerById("subsidence") is None
    assert MENU_TITLE not in _menus(qgis_iface)
    assert _toolbars(qgis_iface) == []
    assert plugin.actions == [] and plugin.menu is None and plugin.toolbar is None and plugin.series_dock is None


def test_headless_processing_registration(qgis_processing):
    """qgis_process calls initProcessing() without initGui()."""
    plugin = subsidence_plugin.classFactory(None)
    plugin.initProcessing()
    registry = QgsApplication.processingRegistry()
    assert registry.algorithmById("subsidence:createsamplearea") is not None
    plugin.unload()
    assert registry.providerById("subsidence") is None


def test_metadata_is_complete_for_the_plugin_repository():
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(os.path.join(ROOT, "metadata.txt"), encoding="utf-8")
    meta = parser["general"]
    for key in ("name", "description", "about", "version", "qgisMinimumVersion", "author", "email", "homepage",
                "tracker", "repository", "tags", "experimental", "license", "icon", "hasProcessingProvider"):
        assert meta.get(key, "").strip(), key
    assert meta["qgisMinimumVersion"] == "3.22"
    assert meta["hasProcessingProvider"] == "yes"
    assert meta["license"].startswith("GPL")
    assert os.path.exists(os.path.join(ROOT, meta["icon"]))
    assert open(os.path.join(ROOT, "LICENSE")).read().startswith("                    GNU GENERAL PUBLIC LICENSE")


def test_a_second_install_click_after_qgis_deleted_the_first_task(qgis_iface, monkeypatch):
    """QGIS deletes a task when it ends; the plugin must not ask a deleted task for its status."""
    import time

    from qgis.core import QgsTask
    from qgis.PyQt import sip

    from subsidence_plugin.gui import install_dependencies

    class QuickTask(QgsTask):
        def __init__(self, message_bar=None):
            super().__init__("Land subsidence: test task", QgsTask.CanCancel)

        def run(self):
            return True

    monkeypatch.setattr(install_dependencies, "InstallDependenciesTask", QuickTask)
    plugin = subsidence_plugin.classFactory(qgis_iface)
    plugin.install_dependencies()
    first = plugin.tasks[0]
    started = time.time()
    while not sip.isdeleted(first):
        QApplication.processEvents()
        QApplication.sendPostedEvents(None, QEvent.DeferredDelete)
        assert time.time() - started < 30
    plugin.install_dependencies()
    assert len(plugin.tasks) == 1 and plugin.tasks[0] is not first
