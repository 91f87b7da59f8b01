"""Report figures name their axes and units (issue 12)."""
import numpy as np

from subsidence_plugin.core.reports.html import HtmlReport, figure_png, png_width
from subsidence_plugin.core.reports.plots import (loss_figure, loss_label, residual_map_figure,
                                                  residual_panels_figure, squared_unit, surface_map_figure,
                                                  variogram_figure)
from subsidence_plugin.core.spatial.variogram import Variogram


def test_loss_axis_names_the_loss():
    bce = loss_figure([0.7, 0.5], [0.8, 0.6], "Loss (BCE)")
    assert bce.axes[0].get_ylabel() == "loss (binary cross-entropy)" and bce.axes[0].get_title() == "Loss (BCE)"
    assert loss_figure([1.0, 0.5], [1.1, 0.6]).axes[0].get_ylabel() == "loss (MSE of standardised values)"
    assert loss_figure([1.0], [], "x", ylabel="loss (mm²)").axes[0].get_ylabel() == "loss (mm²)"
    assert loss_label("binary cross-entropy") == "loss (binary cross-entropy)"


def test_residual_maps_have_labelled_axes_and_colour_bar():
    rng = np.random.default_rng(0)
    x, y, r = rng.uniform(0, 5000, 50), rng.uniform(0, 5000, 50), rng.normal(0, 2, 50)
    fig = residual_map_figure(x, y, r, "Residuals", "mm/yr")
    ax, bar = fig.axes
    assert ax.get_xlabel() == "easting (m)" and ax.get_ylabel() == "northing (m)"
    assert bar.get_ylabel() == "predicted - observed (mm/yr)"
    panels = residual_panels_figure({"a": (x, y, r), "b": (x, y, -r)}, "mm/yr")
    assert [a.get_xlabel() for a in panels.axes if a.get_xlabel()] == ["easting (m)", "easting (m)"]


def test_variogram_axis_in_squared_units():
    model = Variogram(model="linear", psill=0.094, range=0.0, nugget=1.0)
    fig = variogram_figure(np.array([100.0, 200.0]), np.array([10.0, 20.0]), np.array([5, 10]), {"linear": model},
                           "linear", "mm/yr")
    assert fig.axes[0].get_ylabel() == "semivariance ((mm/yr)²)" and fig.axes[0].get_xlabel() == "lag distance (m)"
    assert squared_unit("mm") == "mm²" and squared_unit("") == ""


def test_surface_map_diverging_with_colour_bar():
    values = np.linspace(-30, 10, 200).reshape(10, 20)
    values[0, 0] = np.nan
    fig = surface_map_figure(values, (0.0, 0.0, 2000.0, 1000.0), "Kriging", "mm/yr")
    ax, bar = fig.axes
    image = ax.get_images()[0]
    assert image.get_cmap().name == "RdBu" and image.get_clim()[1] == -image.get_clim()[0] > 0
    assert bar.get_ylabel() == "mm/yr" and ax.get_xlabel() == "easting (m)"
    assert tuple(image.get_extent()) == (0.0, 2000.0, 0.0, 1000.0)
    png = figure_png(fig)
    report = HtmlReport("t")
    report.image(png, "natural width", None)
    assert f"<img width='{png_width(png)}'" in report.html() and png_width(png) > 300
