"""PNG pictures of styled layers for HTML reports, rendered by QGIS itself (same styles as in the project), with a
legend (colour bar with the ramp's labelled values and units, class swatches) beside the map and a scale bar on it,
so values and distances can be read off the picture."""
from __future__ import annotations

import math
from typing import List, Optional, Sequence, Tuple

from qgis.core import (QgsCategorizedSymbolRenderer, QgsGraduatedSymbolRenderer, QgsMapLayer,
                       QgsMapRendererSequentialJob, QgsMapSettings, QgsPalettedRasterRenderer, QgsRasterLayer,
                       QgsRectangle, QgsSingleBandPseudoColorRenderer, QgsSingleSymbolRenderer, QgsUnitTypes,
                       QgsVectorLayer)
from qgis.PyQt.QtCore import QBuffer, QByteArray, QIODevice, QPointF, QRectF, QSize
from qgis.PyQt.QtGui import QColor, QFont, QFontMetrics, QImage, QLinearGradient, QPainter, QPen

FONT_PIXELS = 11
PAD = 6


def legend_entries(layer: QgsMapLayer) -> Optional[Tuple[str, str, list]]:
    """(title, kind, items) of a layer's legend: kind 'ramp' with items (value, QColor, label) of a pseudocolour
    raster, or 'classes' with items (QColor, label); None for a layer without a readable legend (e.g. an RGB
    composite)."""
    renderer = layer.renderer()
    if isinstance(layer, QgsRasterLayer):
        if isinstance(renderer, QgsSingleBandPseudoColorRenderer):
            function = renderer.shader().rasterShaderFunction() if renderer.shader() else None
            items = function.colorRampItemList() if function is not None else []
            if items:  # where the style labels its items, unlabelled ones are colour stops only: no text
                labelled = any(it.label for it in items)
                return layer.name(), "ramp", [(it.value, QColor(it.color),
                                               it.label or ("" if labelled else f"{it.value:.4g}")) for it in items]
        if isinstance(renderer, QgsPalettedRasterRenderer):
            return layer.name(), "classes", [(QColor(c.color), c.label or str(c.value)) for c in renderer.classes()]
        return None
    if isinstance(layer, QgsVectorLayer):
        if isinstance(renderer, QgsGraduatedSymbolRenderer):
            return layer.name(), "classes", [(QColor(r.symbol().color()), r.label()) for r in renderer.ranges()]
        if isinstance(renderer, QgsCategorizedSymbolRenderer):
            return layer.name(), "classes", [(QColor(c.symbol().color()), c.label()) for c in renderer.categories()]
        if isinstance(renderer, QgsSingleSymbolRenderer):
            return layer.name(), "classes", [(QColor(renderer.symbol().color()), layer.name())]
    return None


def scale_bar(metres_per_pixel: float, width: int, fraction: float = 0.3) -> Tuple[float, str, float]:
    """A round scale-bar length (1, 2 or 5 x 10^k m) near ``fraction`` of the map width: (metres, label,
    pixels)."""
    target = max(metres_per_pixel * width * fraction, 1e-9)
    power = 10.0 ** math.floor(math.log10(target))
    length = max(m * power for m in (1.0, 2.0, 5.0) if m * power <= target)
    label = f"{length / 1000:g} km" if length >= 1000 else f"{length:g} m"
    return length, label, length / metres_per_pixel


def _metres_per_unit(crs) -> Optional[float]:
    if not crs.isValid() or crs.isGeographic():
        return None
    return QgsUnitTypes.fromUnitToUnitFactor(crs.mapUnits(), QgsUnitTypes.DistanceMeters)


def _font() -> QFont:
    font = QFont()
    font.setPixelSize(FONT_PIXELS)
    return font


def _legend_size(entries: list, metrics: QFontMetrics) -> Tuple[int, int]:
    line = metrics.height()
    bold = _font()
    bold.setBold(True)
    titles = QFontMetrics(bold)
    width, height = 0, PAD
    for title, kind, items in entries:
        width = max(width, titles.horizontalAdvance(title) + 2)
        height += line + 2
        labels = [it[-1] for it in items]
        width = max(width, 22 + max((metrics.horizontalAdvance(t) for t in labels), default=0))
        height += (max(120, (len(items) - 1) * (line + 2)) + line) if kind == "ramp" else len(items) * (line + 2)
        height += PAD
    return width + 2 * PAD, height


def _draw_legend(painter: QPainter, entries: list, x0: int, metrics: QFontMetrics) -> None:
    line = metrics.height()
    y = PAD
    painter.setPen(QPen(QColor("#202020")))
    for title, kind, items in entries:
        font = painter.font()
        font.setBold(True)
        painter.setFont(font)
        painter.drawText(QPointF(x0 + PAD, y + metrics.ascent()), title)
        font.setBold(False)
        painter.setFont(font)
        y += line + 2
        if kind == "ramp":
            bar = max(120, (len(items) - 1) * (line + 2))
            top, bottom = y + line / 2, y + line / 2 + bar
            lo, hi = items[0][0], items[-1][0]
            span = (hi - lo) or 1.0
            gradient = QLinearGradient(0, bottom, 0, top)
            for value, colour, _ in items:
                gradient.setColorAt(min(1.0, max(0.0, (value - lo) / span)), colour)
            rect = QRectF(x0 + PAD, top, 14, bar)
            painter.fillRect(rect, gradient)
            painter.drawRect(rect)
            previous = None  # labels one line apart at least (aspect's "Flat" at -1 sits next to "N" at 0)
            for value, _, label in sorted((item for item in items if item[2]), key=lambda item: item[0]):
                ty = bottom - (value - lo) / span * bar
                painter.drawLine(QPointF(x0 + PAD + 14, ty), QPointF(x0 + PAD + 18, ty))
                text_y = ty if previous is None else min(ty, previous - line)
                painter.drawText(QPointF(x0 + PAD + 22, text_y + metrics.ascent() / 2 - 1), label)
                previous = text_y
            y += bar + line
        else:
            for colour, label in items:
                rect = QRectF(x0 + PAD, y + 2, 14, line - 4)
                painter.fillRect(rect, colour)
                painter.drawRect(rect)
                painter.drawText(QPointF(x0 + PAD + 22, y + metrics.ascent()), label)
                y += line + 2
        y += PAD


def _draw_scale_bar(painter: QPainter, metres_per_pixel: float, width: int, height: int,
                    metrics: QFontMetrics) -> str:
    _, label, pixels = scale_bar(metres_per_pixel, width)
    x, y = 10, height - 10
    box = QRectF(x - 4, y - metrics.height() - 12, pixels + 8 + metrics.horizontalAdvance(label) + 6,
                 metrics.height() + 18)
    painter.fillRect(box, QColor(255, 255, 255, 210))
    painter.setPen(QPen(QColor("#000000"), 1))
    half = pixels / 2
    painter.fillRect(QRectF(x, y - 6, half, 5), QColor("#000000"))
    painter.fillRect(QRectF(x + half, y - 6, half, 5), QColor("#ffffff"))
    painter.drawRect(QRectF(x, y - 6, pixels, 5))
    painter.drawText(QPointF(x, y - 9), "0")
    painter.drawText(QPointF(x + pixels + 4, y), label)
    return label


def render_image(layers: Sequence[QgsMapLayer], width: int = 520, extent: Optional[QgsRectangle] = None,
                 legend: bool = True, scale: bool = True) -> Tuple[QImage, dict]:
    """Render layers (first on top): the map ``width`` pixels wide (height from the extent's aspect ratio), with
    the legend of every layer that has one in a panel on the right and a scale bar in the map's lower left
    corner (projected CRS only). Returns the image and what was drawn: {'map_size', 'legend' (titles),
    'scale_bar' (label or None)}."""
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
    map_image = job.renderedImage()

    entries: List[tuple] = [e for e in (legend_entries(layer) for layer in layers) if e is not None] if legend else []
    font = _font()
    metrics = QFontMetrics(font)
    panel_w, panel_h = _legend_size(entries, metrics) if entries else (0, 0)
    image = QImage(width + panel_w, max(height, panel_h), QImage.Format_ARGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    painter.setRenderHint(QPainter.Antialiasing)
    painter.setRenderHint(QPainter.TextAntialiasing)
    painter.setFont(font)
    painter.drawImage(0, 0, map_image)
    drawn = {"map_size": (width, height), "legend": [e[0] for e in entries], "scale_bar": None}
    factor = _metres_per_unit(settings.destinationCrs())
    if scale and factor:
        visible = settings.visibleExtent()
        drawn["scale_bar"] = _draw_scale_bar(painter, visible.width() * factor / width, width, height, metrics)
    if entries:
        _draw_legend(painter, entries, width, metrics)
    painter.end()
    return image, drawn


def png_bytes(image: QImage) -> bytes:
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.WriteOnly)
    image.save(buffer, "PNG")
    return bytes(data)


def render_png(layers: Sequence[QgsMapLayer], width: int = 520, extent: Optional[QgsRectangle] = None,
               legend: bool = True, scale: bool = True) -> bytes:
    """PNG bytes of ``render_image``: the map, its legend / colour bar and a scale bar."""
    return png_bytes(render_image(layers, width, extent, legend, scale)[0])
