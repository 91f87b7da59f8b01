"""PNG pictures of styled layers for HTML reports, rendered by QGIS itself (same styles as in the project)."""
from __future__ import annotations

from typing import Optional, Sequence

from qgis.core import QgsMapLayer, QgsMapRendererSequentialJob, QgsMapSettings, QgsRectangle
from qgis.PyQt.QtCore import QBuffer, QByteArray, QIODevice, QSize
from qgis.PyQt.QtGui import QColor


def render_png(layers: Sequence[QgsMapLayer], width: int = 520, extent: Optional[QgsRectangle] = None) -> bytes:
    """Render layers (first on top) to PNG bytes; the height follows the extent's aspect ratio."""
    settings = QgsMapSettings()
    settings.setLayers(list(layers))
    settings.setDestinationCrs(layers[-1].crs())
    full = QgsRectangle(extent) if extent is not None else QgsRectangle(layers[-1].extent())
    height = max(1, int(round(width * full.height() / max(full.width(), 1e-9))))
    settings.setOutputSize(QSize(width, height))
    settings.setExtent(full)
    settings.setBackgroundColor(QColor("white"))
    job = QgsMapRendererSequentialJob(settings)
    job.start()
    job.waitForFinished()
    image = job.renderedImage()
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.WriteOnly)
    image.save(buffer, "PNG")
    return bytes(data)
