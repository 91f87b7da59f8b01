"""Default and remembered layer / field choices of the docks.

Defaults: the InSAR points are a point layer with a numeric velocity-like field (that field is chosen, never an
id such as ``fid``), the factor stack is the raster with the most bands (a multi-band stack before a single
DEM), a GARDLIF factor is the raster whose name names the factor (or none). The last choices (layer source and
name, field) are remembered in QgsSettings and win over the defaults while the layer is in the project.
"""
from __future__ import annotations

import re
from typing import Callable, Dict, Iterable, List, Optional

from qgis.core import QgsMapLayer, QgsProject, QgsRasterLayer, QgsSettings, QgsVectorLayer, QgsWkbTypes

SETTINGS_GROUP = "subsidence_plugin/docks"
VELOCITY_PATTERNS = (r"^velocity$", r"velocity", r"^vel", r"vel", r"rate", r"mm_?/?yr", r"v_?los", r"^v$")
ID_NAMES = {"fid", "id", "ogc_fid", "objectid", "gid", "pk", "station_id"}
INSAR_NAMES = re.compile(r"(^|[^a-z])(ps|ds|sbas|insar|psi|persistent|scatter)", re.IGNORECASE)
FACTOR_KEYWORDS = {
    "groundwater_decline": ("groundwater decline", "gw decline", "decline", "drawdown", "groundwater"),
    "aquifer_media": ("aquifer media", "media", "lithology"),
    "recharge": ("recharge",),
    "discharge": ("discharge", "pumping"),
    "land_use": ("land use", "landuse", "lulc", "land cover", "landcover"),
    "aquifer_thickness": ("aquifer thickness", "thickness"),
    "fault_distance": ("fault",),
}


def _normal(name: str) -> str:
    return re.sub(r"[_\-.]+", " ", name.lower())


def velocity_field(layer) -> Optional[str]:
    """The layer's velocity-like numeric field, else its first numeric field that is no id; None if none."""
    if not isinstance(layer, QgsVectorLayer):
        return None
    numeric = [f.name() for f in layer.fields() if f.isNumeric()]
    for pattern in VELOCITY_PATTERNS:
        for name in numeric:
            if re.search(pattern, name.lower()):
                return name
    return next((name for name in numeric if name.lower() not in ID_NAMES), None)


def _has_velocity(layer) -> bool:
    names = [f.name().lower() for f in layer.fields() if f.isNumeric()]
    return any(re.search(p, n) for p in VELOCITY_PATTERNS for n in names)


def is_point_layer(layer) -> bool:
    return isinstance(layer, QgsVectorLayer) and layer.isValid() and \
        layer.geometryType() == QgsWkbTypes.PointGeometry


def default_points(layers: Iterable[QgsMapLayer]) -> Optional[QgsMapLayer]:
    """A point layer with a numeric velocity-like field; InSAR-like names and more points first."""
    candidates = [lyr for lyr in layers if is_point_layer(lyr) and _has_velocity(lyr)]
    if not candidates:
        return None
    return max(candidates, key=lambda lyr: (bool(INSAR_NAMES.search(lyr.name())), lyr.featureCount()))


def default_stack(layers: Iterable[QgsMapLayer]) -> Optional[QgsMapLayer]:
    """The raster with the most bands if it has several (names with 'stack' first among equals), else None."""
    rasters = [lyr for lyr in layers if isinstance(lyr, QgsRasterLayer) and lyr.isValid() and lyr.bandCount() > 1]
    if not rasters:
        return None
    return max(rasters, key=lambda lyr: (lyr.bandCount(), "stack" in lyr.name().lower()))


def factor_layer(layers: Iterable[QgsMapLayer], factor: str) -> Optional[QgsMapLayer]:
    """The raster whose name names a GARDLIF factor (the most specific keyword wins), else None."""
    rasters = [lyr for lyr in layers if isinstance(lyr, QgsRasterLayer) and lyr.isValid()]
    for keyword in FACTOR_KEYWORDS[factor]:
        for layer in rasters:
            if keyword in _normal(layer.name()):
                return layer
    return None


class Choice:
    """One layer combo (optionally with its field combo) whose default is picked by ``pick`` and whose last
    choice is remembered under ``key``."""

    def __init__(self, key: str, combo, pick: Callable[[List[QgsMapLayer]], Optional[QgsMapLayer]], field=None,
                 keep_empty: bool = False):
        self.key, self.combo, self.pick, self.field = key, combo, pick, field
        self.keep_empty = keep_empty  # None is a valid default (GARDLIF: no layer named for the factor)
        self.chosen = False  # chosen by the user (or used in a run) in this project: defaults leave it alone


class LayerChoices:
    """The docks' choices: `add` each combo, `apply_defaults()` when the project changes, `remember()` on run."""

    def __init__(self, dock_name: str):
        self.prefix = f"{SETTINGS_GROUP}/{dock_name}"
        self.choices: Dict[str, Choice] = {}

    def add(self, choice: Choice) -> Choice:
        self.choices[choice.key] = choice
        choice.combo.activated.connect(lambda _index, c=choice: self._user_chose(c))
        if choice.field is not None:
            choice.combo.layerChanged.connect(lambda layer, c=choice: self._default_field(c, layer))
            choice.field.activated.connect(lambda _index, c=choice: self._user_chose(c))
        return choice

    def _user_chose(self, choice: Choice) -> None:
        choice.chosen = True
        self._save(choice)

    def _save(self, choice: Choice) -> None:
        settings = QgsSettings()
        layer = choice.combo.currentLayer()
        settings.setValue(f"{self.prefix}/{choice.key}/source", layer.source() if layer is not None else "")
        settings.setValue(f"{self.prefix}/{choice.key}/name", layer.name() if layer is not None else "")
        if choice.field is not None:
            settings.setValue(f"{self.prefix}/{choice.key}/field", choice.field.currentField())

    def remember(self) -> None:
        """Save every current choice and keep it (called when a run starts)."""
        for choice in self.choices.values():
            choice.chosen = True
            self._save(choice)

    def forget_project(self) -> None:
        """A new or another project: the defaults apply again."""
        for choice in self.choices.values():
            choice.chosen = False

    def remembered(self, choice: Choice, layers: List[QgsMapLayer]) -> Optional[QgsMapLayer]:
        settings = QgsSettings()
        source = settings.value(f"{self.prefix}/{choice.key}/source", "")
        name = settings.value(f"{self.prefix}/{choice.key}/name", "")
        allowed = [lyr for lyr in layers if self._allowed(choice, lyr)]
        for test in (lambda lyr: source and lyr.source() == source, lambda lyr: name and lyr.name() == name):
            found = next((lyr for lyr in allowed if test(lyr)), None)
            if found is not None:
                return found
        return None

    @staticmethod
    def _allowed(choice: Choice, layer) -> bool:
        """The layer is offered by the combo (its filters accept it)."""
        combo = choice.combo
        return any(combo.layer(i) is not None and combo.layer(i).id() == layer.id() for i in range(combo.count()))

    def _default_field(self, choice: Choice, layer) -> None:
        if choice.field is None or layer is None:
            return
        remembered = QgsSettings().value(f"{self.prefix}/{choice.key}/field", "")
        names = layer.fields().names() if isinstance(layer, QgsVectorLayer) else []
        name = remembered if remembered in names and self.remembered(choice, [layer]) is layer \
            else velocity_field(layer)
        if name:
            choice.field.setField(name)

    def apply_defaults(self) -> None:
        """Every choice the user has not made in this project: the remembered layer if present, else the
        default; the field of a points choice follows (remembered, else velocity-like)."""
        layers = list(QgsProject.instance().mapLayers().values())
        for choice in self.choices.values():
            if choice.chosen:
                continue
            layer = self.remembered(choice, layers) or choice.pick(layers)
            if layer is not None or choice.keep_empty:
                if choice.combo.currentLayer() is not layer:
                    choice.combo.setLayer(layer)
                self._default_field(choice, layer)
