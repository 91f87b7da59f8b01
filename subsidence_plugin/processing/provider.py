"""The "Land subsidence" Processing provider (id ``subsidence``)."""
from __future__ import annotations

from qgis.core import QgsProcessingProvider
from qgis.PyQt.QtGui import QIcon

from ..resources import plugin_version, resource_path
from .factors.build_factor_stack import BuildFactorStack
from .factors.distance_to_features import DistanceToFeatures
from .factors.drainage_density import DrainageDensity
from .factors.groundwater_change import GroundwaterChange
from .factors.interpolate_points import InterpolatePoints
from .factors.spectral_index import SpectralIndex
from .groundwater.compare_series import CompareSeries
from .groundwater.groundwater_storage import GroundwaterStorage
from .points.hotspots import Hotspots
from .points.label_measurement_points import LabelMeasurementPoints
from .points.screen_measurement_points import ScreenMeasurementPoints
from .points.validate_with_gnss import ValidateWithGnss
from .sample_data.create_groundwater_sample import CreateGroundwaterSample
from .sample_data.create_sample_area import CreateSampleArea
from .surface.apply_model import ApplyModel
from .surface.compare_surface_methods import CompareSurfaceMethods
from .surface.idw import InverseDistanceWeighting
from .surface.kriging import Kriging
from .surface.train_patch_cnn import TrainPatchCnn
from .susceptibility.classify_susceptibility import ClassifySusceptibility
from .susceptibility.factor_analysis import FactorAnalysis
from .susceptibility.gardlif_index import Gardlif
from .susceptibility.optimize_weights import OptimizeWeights
from .susceptibility.subsidence_inventory import SubsidenceInventory
from .susceptibility.train_susceptibility import TrainSusceptibility
from .terrain.aspect import Aspect
from .terrain.curvature import Curvature
from .terrain.fill_depressions import FillDepressions
from .terrain.flow_accumulation import FlowAccumulation
from .terrain.slope import Slope
from .terrain.stream_power_index import StreamPowerIndex
from .terrain.topographic_wetness_index import TopographicWetnessIndex
from .timeseries.forecast_series import ForecastSeries
from .timeseries.groundwater_series import GroundwaterSeries
from .timeseries.import_insar_series import ImportInsarSeries
from .timeseries.train_series_model import TrainSeriesModel

ALGORITHMS = (CreateSampleArea, Slope, Aspect, Curvature, FillDepressions, FlowAccumulation,
              TopographicWetnessIndex, StreamPowerIndex, DistanceToFeatures, DrainageDensity, SpectralIndex,
              InterpolatePoints, GroundwaterChange, BuildFactorStack, Kriging, InverseDistanceWeighting,
              TrainPatchCnn, ApplyModel, CompareSurfaceMethods, SubsidenceInventory, FactorAnalysis,
              TrainSusceptibility, ClassifySusceptibility, Gardlif, OptimizeWeights, ImportInsarSeries,
              GroundwaterSeries, TrainSeriesModel, ForecastSeries, LabelMeasurementPoints, ScreenMeasurementPoints,
              Hotspots, ValidateWithGnss, GroundwaterStorage, CompareSeries, CreateGroundwaterSample)


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
