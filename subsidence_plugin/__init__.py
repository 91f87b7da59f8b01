"""Land Subsidence plugin for QGIS.

Loading the package appends the plugin's dependency folder to ``sys.path`` (see `dependencies`), so torch and
pykrige installed there are importable by QGIS desktop and ``qgis_process`` without touching QGIS's numpy.
"""
from .dependencies import add_dependency_folder

add_dependency_folder()


def classFactory(iface):  # noqa: N802 (QGIS plugin entry point)
    """QGIS calls this to create the plugin."""
    from .plugin import SubsidencePlugin

    return SubsidencePlugin(iface)
