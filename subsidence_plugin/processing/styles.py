"""Styles for the plugin's output layers, saved beside the data so QGIS shows them wherever they are opened.

Raster styles go to a ``.qml`` sidecar (QGIS loads ``name.qml`` with ``name.tif``); GeoPackage layer styles go
to the GeoPackage's ``layer_styles`` table as the default style. Ranges come from 2-98 % cumulative cuts, so a
few outliers do not wash out a map. Displacement uses a diverging red-white-blue ramp centred on 0 (red =
subsidence, negative), the DEM a terrain ramp, land use categories.
"""
from __future__ import annotations

import os
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
from qgis.core import (QgsBasicNumericFormat, QgsCategorizedSymbolRenderer, QgsColorRampLegendNodeSettings,
                       QgsColorRampShader, QgsContrastEnhancement, QgsGraduatedSymbolRenderer, QgsLineSymbol,
                       QgsMapLayer, QgsMarkerSymbol, QgsMultiBandColorRenderer, QgsPalettedRasterRenderer,
                       QgsRasterLayer, QgsRasterShader, QgsRendererCategory, QgsRendererRange,
                       QgsScientificNumericFormat, QgsSingleBandPseudoColorRenderer, QgsSingleSymbolRenderer,
                       QgsVectorLayer)
from qgis.PyQt.QtGui import QColor

from ..core.points.hotspots import CLASSES as HOT_SPOT_CLASSES

DIVERGING = ("#b2182b", "#ef8a62", "#fddbc7", "#f7f7f7", "#d1e5f0", "#67a9cf", "#2166ac")
TERRAIN = ("#1a9850", "#91cf60", "#d9ef8b", "#fee08b", "#c8915a", "#8c5a3c", "#ffffff")
SEQUENTIAL = ("#ffffcc", "#c7e9b4", "#7fcdbb", "#41b6c4", "#1d91c0", "#225ea8", "#0c2c84")
WARM = ("#fff5eb", "#fdd0a2", "#fdae6b", "#fd8d3c", "#e6550d", "#a63603", "#7f2704")
LAND_USE = {1: ("town", "#7f7f7f"), 2: ("fields", "#a6d96a"), 3: ("rangeland", "#d8b365")}
POINT_LABELS = {1: ("good (1)", "#1a9850"), 0: ("bad (0)", "#d73027")}
KEPT_POINTS = {1: ("kept", "#1a9850"), 0: ("removed", "#d73027")}


def raster_range(layer: QgsRasterLayer, band: int = 1, low: float = 0.02, high: float = 0.98) -> Tuple[float, float]:
    """2-98 % cumulative cut of a band (sampled), as (min, max)."""
    provider = layer.dataProvider()
    lo, hi = provider.cumulativeCut(band, low, high, layer.extent(), 250000)
    if not lo < hi:
        lo, hi = lo - 1.0, hi + 1.0
    return float(lo), float(hi)


MINUS = "\u2212"  # typographic minus sign in legend labels


def label_decimals(step: float) -> int:
    """Decimals that show a step between legend values with two significant digits (0 for steps >= 10)."""
    step = abs(float(step))
    if not np.isfinite(step) or step == 0:
        return 2
    return int(min(6, max(0, 1 - np.floor(np.log10(step)))))


def format_value(value: float, decimals: int, unit: str = "") -> str:
    """A legend value rounded to ``decimals`` with its unit, e.g. '\u221220 mm/yr' (no trailing zeros, no
    '-0')."""
    text = f"{float(value):.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if float(text) == 0:
        text = text.lstrip("-")
    return f"{text.replace('-', MINUS)} {unit}".strip()


NICE_STEPS = (1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0)


def nice_limit(value: float, steps: int = 3) -> float:
    """The smallest ``steps`` x (a round step: 1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 x 10^k) that reaches
    ``value``, so a ramp from 0 to it has items at round values (29.2 -> 30, 52 -> 60, 17 -> 18)."""
    value = abs(float(value))
    if not np.isfinite(value) or value == 0:
        return float(steps)
    raw = value / steps
    power = 10.0 ** np.floor(np.log10(raw))
    step = next(m * power for m in NICE_STEPS if m * power >= raw * (1 - 1e-9))
    return float(round(step * steps, 10))


def is_tiny(step: float) -> bool:
    """Whether legend values this far apart need scientific notation (e.g. hydraulic conductivities in m/s)."""
    return 0 < abs(float(step)) < 1e-5


def _ramp_items(colours: Sequence[str], lo: float, hi: float, unit: str) -> list:
    n = len(colours)
    step = (hi - lo) / (n - 1)
    decimals = label_decimals(step)
    items = []
    for i, colour in enumerate(colours):
        value = lo + (hi - lo) * i / (n - 1)
        label = f"{value:.2e} {unit}".strip() if is_tiny(step) else format_value(value, decimals, unit)
        items.append(QgsColorRampShader.ColorRampItem(value, QColor(colour), label))
    return items


def _legend_settings(lo: float, hi: float, n: int, unit: str) -> QgsColorRampLegendNodeSettings:
    """The continuous legend's minimum / maximum labels: rounded like the ramp items, with the unit."""
    settings = QgsColorRampLegendNodeSettings()
    settings.setUseContinuousLegend(True)
    step = (hi - lo) / max(n - 1, 1)
    number = QgsScientificNumericFormat() if is_tiny(step) else QgsBasicNumericFormat()
    number.setNumberDecimalPlaces(2 if is_tiny(step) else label_decimals(step))
    number.setShowTrailingZeros(False)
    number.setShowThousandsSeparator(False)
    settings.setNumericFormat(number)
    if unit:
        settings.setSuffix(f" {unit}")
    return settings


def _pseudocolor(layer: QgsRasterLayer, colours: Sequence[str], lo: float, hi: float, unit: str,
                 band: int = 1) -> None:
    ramp = QgsColorRampShader(lo, hi)
    ramp.setColorRampType(QgsColorRampShader.Interpolated)
    ramp.setColorRampItemList(_ramp_items(colours, lo, hi, unit))
    ramp.setLegendSettings(_legend_settings(lo, hi, len(colours), unit))
    shader = QgsRasterShader()
    shader.setRasterShaderFunction(ramp)
    renderer = QgsSingleBandPseudoColorRenderer(layer.dataProvider(), band, shader)
    renderer.setClassificationMin(lo)
    renderer.setClassificationMax(hi)
    layer.setRenderer(renderer)


def style_diverging(layer: QgsRasterLayer, unit: str = "mm", band: int = 1, vmax: Optional[float] = None) -> None:
    """Red (negative, subsidence) - white (0) - blue (positive, uplift), symmetric about 0. Without ``vmax`` the
    larger end of the 2-98 % cut, rounded up so the seven items fall on round values, bounds the ramp."""
    if vmax is None:
        lo, hi = raster_range(layer, band)
        vmax = nice_limit(max(abs(lo), abs(hi)), (len(DIVERGING) - 1) // 2)
    _pseudocolor(layer, DIVERGING, -vmax, vmax, unit, band)


def style_sequential(layer: QgsRasterLayer, unit: str = "", band: int = 1, colours: Sequence[str] = SEQUENTIAL) -> None:
    lo, hi = raster_range(layer, band)
    _pseudocolor(layer, colours, lo, hi, unit, band)


def style_terrain(layer: QgsRasterLayer, band: int = 1) -> None:
    lo, hi = raster_range(layer, band, 0.0, 1.0)
    _pseudocolor(layer, TERRAIN, lo, hi, "m", band)


def style_categories(layer: QgsRasterLayer, classes: Dict[int, Tuple[str, str]] = LAND_USE, band: int = 1) -> None:
    """Paletted renderer: value -> (label, colour)."""
    entries = [QgsPalettedRasterRenderer.Class(value, QColor(colour), label)
               for value, (label, colour) in sorted(classes.items())]
    layer.setRenderer(QgsPalettedRasterRenderer(layer.dataProvider(), band, entries))


def style_false_colour(layer: QgsRasterLayer, red: int, green: int, blue: int) -> None:
    """Multiband composite (e.g. NIR-red-green false colour) with a 2-98 % stretch per band."""
    renderer = QgsMultiBandColorRenderer(layer.dataProvider(), red, green, blue)
    for band, setter in ((red, renderer.setRedContrastEnhancement), (green, renderer.setGreenContrastEnhancement),
                         (blue, renderer.setBlueContrastEnhancement)):
        lo, hi = raster_range(layer, band)
        enhancement = QgsContrastEnhancement(layer.dataProvider().dataType(band))
        enhancement.setContrastEnhancementAlgorithm(QgsContrastEnhancement.StretchToMinimumMaximum)
        enhancement.setMinimumValue(lo)
        enhancement.setMaximumValue(hi)
        setter(enhancement)
    layer.setRenderer(renderer)


def style_points_diverging(layer: QgsVectorLayer, field: str, unit: str, vmax: float, size: float = 1.6) -> None:
    """Graduated points on the diverging ramp, symmetric about 0 (red = subsidence)."""
    _graduated_points(layer, field, unit, DIVERGING, -vmax, vmax, size)


def style_points_sequential(layer: QgsVectorLayer, field: str, unit: str, vmax: float, size: float = 1.6) -> None:
    """Graduated points from 0 to ``vmax`` on the warm ramp (darker = larger, e.g. an error)."""
    _graduated_points(layer, field, unit, WARM, 0.0, vmax, size)


def _graduated_points(layer, field, unit, colours, lo_value, hi_value, size) -> None:
    n = len(colours)
    bounds = [lo_value + (hi_value - lo_value) * i / n for i in range(n + 1)]
    decimals = label_decimals((hi_value - lo_value) / n)
    ranges = []
    for i, colour in enumerate(colours):
        symbol = QgsMarkerSymbol.createSimple({"name": "circle", "color": colour, "size": str(size),
                                               "outline_color": "#404040", "outline_width": "0.1"})
        lo, hi = bounds[i], bounds[i + 1]
        if i == 0:
            lo, label = -1e12, f"< {format_value(hi, decimals, unit)}"
        elif i == n - 1:
            hi, label = 1e12, f"> {format_value(lo, decimals, unit)}"
        else:
            label = f"{format_value(lo, decimals)} to {format_value(hi, decimals, unit)}"
        ranges.append(QgsRendererRange(lo, hi, symbol, label))
    layer.setRenderer(QgsGraduatedSymbolRenderer(field, ranges))


def style_point_categories(layer: QgsVectorLayer, field: str, classes: Dict[object, Tuple[str, str]],
                           size: float = 1.6, other: Optional[str] = None) -> None:
    """Points categorised by ``field``: {value: (legend label, colour)}; ``other`` labels the points with any other
    value or NULL (grey)."""
    from qgis.core import QgsCategorizedSymbolRenderer, QgsRendererCategory

    def marker(colour):
        return QgsMarkerSymbol.createSimple({"name": "circle", "color": colour, "size": str(size),
                                             "outline_color": "#404040", "outline_width": "0.1"})

    categories = [QgsRendererCategory(value, marker(colour), label) for value, (label, colour) in classes.items()]
    if other:
        categories.append(QgsRendererCategory(None, marker("#bdbdbd"), other))
    layer.setRenderer(QgsCategorizedSymbolRenderer(field, categories))


def set_legend_title(tree_layer, text: Optional[str] = None) -> None:
    """Replace a pseudocolour raster's band-name legend line ('Band 1: velocity_kriged (Gray)') by ``text``
    (default: the band's name without the colour interpretation); stored in the project's layer tree (QGIS 3.22
    keeps no such label in a .qml)."""
    from qgis.core import QgsMapLayerLegendUtils

    layer = tree_layer.layer()
    if isinstance(layer, QgsRasterLayer) and isinstance(layer.renderer(), QgsSingleBandPseudoColorRenderer):
        if text is None:
            text = layer.dataProvider().generateBandName(layer.renderer().band())
        QgsMapLayerLegendUtils.setLegendNodeUserLabel(tree_layer, 0, text)


def style_marker(layer: QgsVectorLayer, shape: str, colour: str, size: float = 3.0) -> None:
    layer.setRenderer(QgsSingleSymbolRenderer(QgsMarkerSymbol.createSimple(
        {"name": shape, "color": colour, "size": str(size), "outline_color": "#202020", "outline_width": "0.3"})))


def style_line(layer: QgsVectorLayer, colour: str, width: float = 0.6, dashed: bool = False) -> None:
    props = {"line_color": colour, "line_width": str(width), "capstyle": "round"}
    if dashed:
        props.update({"use_custom_dash": "1", "customdash": "4;2", "customdash_unit": "MM"})
    layer.setRenderer(QgsSingleSymbolRenderer(QgsLineSymbol.createSimple(props)))


def save_default_style(layer: QgsMapLayer) -> None:
    """Store the layer's current style as its default: a .qml sidecar, or the GeoPackage's style table."""
    source = layer.source()
    if isinstance(layer, QgsVectorLayer) and layer.storageType().upper() == "GPKG":
        layer.saveStyleToDatabase(layer.name(), "Land subsidence plugin style", True, "")
        return
    path = source.split("|")[0]
    layer.saveNamedStyle(os.path.splitext(path)[0] + ".qml")


ASPECT = ("#ff0000", "#ffa500", "#ffff00", "#00ff00", "#00ffff", "#0000ff", "#8a2be2", "#ff00ff", "#ff0000")


def style_aspect(layer: QgsRasterLayer, band: int = 1) -> None:
    """Cyclic colours for 0-360 degrees clockwise from north (north red at both ends); flat (-1) grey."""
    ramp = QgsColorRampShader(-1.0, 360.0)
    ramp.setColorRampType(QgsColorRampShader.Interpolated)
    items = [QgsColorRampShader.ColorRampItem(-1.0, QColor("#bdbdbd"), "flat"),
             QgsColorRampShader.ColorRampItem(-0.001, QColor("#bdbdbd"), "")]
    labels = ("N", "NE", "E", "SE", "S", "SW", "W", "NW", "N")
    items += [QgsColorRampShader.ColorRampItem(45.0 * i, QColor(c), f"{labels[i]} ({45 * i}°)")
              for i, c in enumerate(ASPECT)]
    ramp.setColorRampItemList(items)
    shader = QgsRasterShader()
    shader.setRasterShaderFunction(ramp)
    layer.setRenderer(QgsSingleBandPseudoColorRenderer(layer.dataProvider(), band, shader))


SUSCEPTIBILITY = {1: ("very low", "#1a9641"), 2: ("low", "#a6d96a"), 3: ("moderate", "#ffffbf"),
                  4: ("high", "#fdae61"), 5: ("very high", "#d7191c")}
VULNERABILITY = {1: ("low", "#1a9641"), 2: ("moderate", "#ffffbf"), 3: ("high", "#fdae61"), 4: ("very high", "#d7191c")}
SUSCEPTIBILITY_RAMP = ("#1a9641", "#a6d96a", "#ffffbf", "#fdae61", "#d7191c")


def style_susceptibility_index(layer: QgsRasterLayer, band: int = 1, lo: Optional[float] = None,
                               hi: Optional[float] = None) -> None:
    """Green (low) to red (high) over the index range (0-1 for probabilities)."""
    if lo is None or hi is None:
        lo, hi = raster_range(layer, band, 0.0, 1.0)
    _pseudocolor(layer, SUSCEPTIBILITY_RAMP, lo, hi, "", band)


def style_hot_spots(layer: QgsVectorLayer, field: str = "GI_CLASS", size: float = 1.6) -> None:
    """Points categorised by Gi* class (−3 … +3): cold spots blue, hot spots red, darker = more confident, not
    significant grey."""
    categories = []
    for value, (label, colour) in sorted(HOT_SPOT_CLASSES.items()):
        symbol = QgsMarkerSymbol.createSimple({"name": "circle", "color": colour, "size": str(size),
                                               "outline_color": "#404040", "outline_width": "0.1"})
        categories.append(QgsRendererCategory(value, symbol, f"{value:+d} {label}".replace("+0", "0")
                                              .replace("-", MINUS)))
    layer.setRenderer(QgsCategorizedSymbolRenderer(field, categories))
