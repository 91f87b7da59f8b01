"""Run by QGIS desktop (--code) after start-up: report what the plugin added, then quit."""
import json
import os

import qgis.utils
from qgis.core import Qgis, QgsApplication
from qgis.PyQt.QtCore import QTimer
from qgis.PyQt.QtWidgets import QToolBar

from subsidence_plugin.dependencies import missing_packages

window = qgis.utils.iface.mainWindow()
try:
    import pykrige  # noqa: F401
    import torch

    dependencies = f"torch {torch.__version__}: {float(torch.ones(3).sum())}"
except Exception as error:  # report any import failure inside QGIS
    dependencies = f"failed: {error!r}"
provider = QgsApplication.processingRegistry().providerById("subsidence")
result = {
    "qgis": Qgis.QGIS_VERSION,
    "plugin_loaded": "subsidence_plugin" in qgis.utils.plugins and "subsidence_plugin" in qgis.utils.active_plugins,
    "provider": provider is not None and provider.name() == "Land subsidence",
    "algorithms": len(provider.algorithms()) if provider is not None else 0,
    "menu": any(a.text() == "&Land subsidence" for a in window.menuBar().actions()),
    "toolbar": any(t.windowTitle() == "Land subsidence" for t in window.findChildren(QToolBar)),
    "missing_packages": missing_packages(),
    "dependencies": dependencies,
}
with open(os.environ["SUBSIDENCE_CI_RESULT"], "w", encoding="utf-8") as fh:
    json.dump(result, fh)
QTimer.singleShot(200, lambda: os._exit(0))
