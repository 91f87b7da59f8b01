"""GUI test isolation: the docks remember their last choices in QgsSettings; each test starts without them."""
import pytest


@pytest.fixture(autouse=True)
def forget_dock_choices(qgis_app):
    from qgis.core import QgsSettings

    from subsidence_plugin.gui.widgets.layer_choices import SETTINGS_GROUP

    QgsSettings().remove(SETTINGS_GROUP)
    yield
    QgsSettings().remove(SETTINGS_GROUP)
