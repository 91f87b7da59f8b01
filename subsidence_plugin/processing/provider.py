"""The "Land subsidence" Processing provider (id ``subsidence``)."""
from __future__ import annotations

from qgis.core import QgsProcessingProvider
from qgis.PyQt.QtGui import QIcon

from ..resources import plugin_version, resource_path
from .apply_model import ApplyModel
from .aspect import Aspect
from .build_factor_stack import BuildFactorStack
from .classify_susceptibility import ClassifySusceptibility
from .compare_surface_methods import CompareSurfaceMethods
from .create_sample_area import CreateSampleArea
from .curvature import Curvature
from .distance_to_features import DistanceToFeatures
from .factor_analysis import FactorAnalysis
from .drainage_density import DrainageDensity
from .fill_depressions import FillDepressions
from .flow_accumulation import FlowAccumulation
from .gardlif_index import Gardlif
from .groundwater_change import GroundwaterChange
from .idw import InverseDistanceWeighting
from .interpolate_points import InterpolatePoints
from .kriging import Kriging
from .optimize_weights import OptimizeWeights
from .slope import Slope
from .spectral_index import SpectralIndex
from .stream_power_index import StreamPowerIndex
from .subsidence_inventory import SubsidenceInventory
from .topographic_wetness_index import TopographicWetnessIndex
from .train_patch_cnn import TrainPatchCnn
from .train_susceptibility import TrainSusceptibility

ALGORITHMS = (CreateSampleArea, Slope, Aspect, Curvature, FillDepressions, FlowAccumulation,
              TopographicWetnessIndex, StreamPowerIndex, DistanceToFeatures, DrainageDensity, SpectralIndex,
              InterpolatePoints, GroundwaterChange, BuildFactorStack, Kriging, InverseDistanceWeighting,
              TrainPatchCnn, ApplyModel, CompareSurfaceMethods, SubsidenceInventory, FactorAnalysis,
              TrainSusceptibility, ClassifySusceptibility, Gardlif, OptimizeWeights)


class SubsidenceProvider(QgsProcessingProvider):
    """Registers every algorithm of the plugin."""

    def id(self):
        return "subsidence"

    def name(self):
        return "Land subsidence"

    def longName(self):  # noqa: N802
        return f"Land subsidence {plugin_version()}"

    def icon(self):
        return QIcon(resource_path("icon.svg"))

    def versionInfo(self):  # noqa: N802
        return plugin_version()

    def loadAlgorithms(self):  # noqa: N802
        for algorithm in ALGORITHMS:
            self.addAlgorithm(algorithm())
