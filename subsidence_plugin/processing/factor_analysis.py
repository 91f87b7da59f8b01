"""subsidence:factoranalysis - frequency ratio, information gain, Pearson correlation and VIF (seed 002)."""
from __future__ import annotations

from qgis.core import (QgsProcessing, QgsProcessingParameterEnum, QgsProcessingParameterFeatureSink,
                       QgsProcessingParameterFileDestination, QgsProcessingParameterNumber,
                       QgsProcessingParameterString)

from .base import SubsidenceAlgorithm, add_advanced, processing_errors, progress_adapter, table_sink
from .susceptibility_common import (INVENTORY_FIELDS, add_inventory_parameters, inventory_cells, read_inventory,
                                    stack_factors, valid_cells)

CLASS_METHODS = ("quantile", "equal_interval")
VIF_LIMIT, TOLERANCE_LIMIT = 10.0, 0.1


def categorical_names(algorithm, parameters, context):
    text = algorithm.parameterAsString(parameters, "CATEGORICAL", context)
    return [t.strip() for t in text.replace(";", ",").split(",") if t.strip()]


def add_factor_class_parameters(algorithm) -> None:
    """CATEGORICAL band names, CLASS_METHOD and CLASSES, shared with the susceptibility training."""
    algorithm.addParameter(QgsProcessingParameterString(
        "CATEGORICAL", "Categorical bands (comma-separated; stacks built by the plugin know theirs)", "",
        optional=True))
    add_advanced(algorithm, QgsProcessingParameterEnum("CLASS_METHOD", "Classes of continuous factors",
                                                       ["Quantiles", "Equal intervals"], defaultValue=0))
    add_advanced(algorithm, QgsProcessingParameterNumber("CLASSES", "Classes per continuous factor",
                                                         QgsProcessingParameterNumber.Integer, 5, minValue=2,
                                                         maxValue=20))


class FactorAnalysis(SubsidenceAlgorithm):
    NAME = "factoranalysis"
    DISPLAY_NAME = "Factor analysis (frequency ratio, information gain, VIF)"
    GROUP = "Susceptibility"
    HELP = (
        "<p>Seed 002's analysis of the driving-force factors against the subsidence inventory.</p>"
        "<ul><li><b>Frequency ratio</b> (FR) per class of every factor = share of the subsiding inventory cells "
        "in the class / share of all valid cells of the stack in the class; FR &gt; 1 marks a class that favours "
        "subsidence. Continuous factors are cut into quantile (or equal-interval) classes, categorical ones "
        "(land use, lithology) keep their categories.</li>"
        "<li><b>Information gain</b> (bits) of each factor's classes about the inventory label.</li>"
        "<li><b>Pearson correlation</b> between factors and <b>VIF</b> / <b>tolerance</b> (VIF = 1 / (1 - "
        "R²) of each factor regressed on the others; flagged when VIF &gt; 10 or tolerance &lt; 0.1), over the "
        "inventory cells. Categorical factors enter these two with the FR of their class.</li></ul>"
        "<p>Inputs: the inventory (<i>Subsidence inventory from InSAR points</i>) and the factor stack. Outputs: "
        "an HTML report with tables and bar charts, and three tables (FR per class, statistics per factor, "
        "correlation matrix). A factor of zero variance is refused (VIF undefined); a category without any "
        "inventory cell is reported.</p>")

    def initAlgorithm(self, config=None):  # noqa: N802
        add_inventory_parameters(self)
        add_factor_class_parameters(self)
        self.addParameter(QgsProcessingParameterFileDestination("REPORT", "Report", "HTML files (*.html)"))
        self.addParameter(QgsProcessingParameterFeatureSink("FR_TABLE", "Frequency ratios", QgsProcessing.TypeVector,
                                                            optional=True))
        self.addParameter(QgsProcessingParameterFeatureSink("STATISTICS", "Factor statistics",
                                                            QgsProcessing.TypeVector, optional=True))
        self.addParameter(QgsProcessingParameterFeatureSink("CORRELATION", "Correlation matrix",
                                                            QgsProcessing.TypeVector, optional=True))

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        from ..core.susceptibility import analyse_factors, sample_values

        stack_layer = self.parameterAsRasterLayer(parameters, "STACK", context)
        with processing_errors():
            stack = stack_factors(stack_layer, categorical_names(self, parameters, context))
            x, y, label, _ = read_inventory(self.parameterAsSource(parameters, "INVENTORY", context),
                                            stack_layer.crs(), context, feedback,
                                            self.parameterAsString(parameters, "LABEL_FIELD", context)
                                            or INVENTORY_FIELDS["label"])
            rows, cols, ok = inventory_cells(stack.grid, valid_cells(stack.path), x, y, feedback)
            values = sample_values(stack.path, stack.columns, rows[ok], cols[ok])
            analysis = analyse_factors(stack.path, stack.columns, values, label[ok],
                                       CLASS_METHODS[self.parameterAsEnum(parameters, "CLASS_METHOD", context)],
                                       self.parameterAsInt(parameters, "CLASSES", context),
                                       progress_adapter(feedback), feedback.isCanceled)
        for warning in analysis.warnings:
            feedback.pushWarning(warning)
        for name, gain, vif in zip(analysis.names, analysis.information_gain, analysis.vif):
            flag = "  <- multicollinear" if vif > VIF_LIMIT else ""
            feedback.pushInfo(f"{name}: information gain {gain:.4f} bits, VIF {vif:.3g}{flag}")
        outputs = {"REPORT": self.parameterAsFileOutput(parameters, "REPORT", context)}
        outputs["FR_TABLE"] = table_sink(self, parameters, "FR_TABLE", context, FR_COLUMNS, fr_rows(analysis))
        outputs["STATISTICS"] = table_sink(self, parameters, "STATISTICS", context, STAT_COLUMNS,
                                           statistics_rows(analysis))
        outputs["CORRELATION"] = table_sink(
            self, parameters, "CORRELATION", context,
            [("factor", "string")] + [(n[:60], "double") for n in analysis.names],
            [[n] + list(row) for n, row in zip(analysis.names, analysis.correlation)])
        report = new_analysis_report(analysis, int(label[ok].sum()), int(ok.sum()))
        report.write(outputs["REPORT"])
        return outputs


FR_COLUMNS = (("factor", "string"), ("class", "int"), ("range", "string"), ("cells", "int"),
              ("cell_share", "double"), ("inventory", "int"), ("subsiding", "int"), ("subsiding_share", "double"),
              ("fr", "double"))
STAT_COLUMNS = (("factor", "string"), ("categorical", "int"), ("info_gain", "double"), ("vif", "double"),
                ("tolerance", "double"), ("flagged", "int"))


def fr_rows(analysis):
    rows = []
    for i, definition in enumerate(analysis.definitions):
        cells, hits = analysis.class_cells[i], analysis.class_positives[i]
        for k, label in enumerate(definition.labels()):
            rows.append((definition.name, k + 1, label, cells[k], cells[k] / max(cells.sum(), 1),
                         analysis.class_samples[i][k], hits[k], hits[k] / max(hits.sum(), 1),
                         analysis.frequency_ratios[i][k]))
    return rows


def statistics_rows(analysis):
    vif = analysis.vif
    return [(name, int(d.categorical), gain, v, 1.0 / v, int(v > VIF_LIMIT or 1.0 / v < TOLERANCE_LIMIT))
            for name, d, gain, v in zip(analysis.names, analysis.definitions, analysis.information_gain, vif)]


def add_analysis_sections(report, analysis) -> None:
    """FR tables and charts, information gain, VIF / tolerance and the correlation matrix."""
    from ..core.plots import correlation_figure, frequency_ratio_figure

    report.heading("Information gain, VIF and tolerance")
    report.table([(n, g, v, t, "yes" if f else "") for n, _, g, v, t, f in statistics_rows(analysis)],
                 header=("factor", "information gain (bits)", "VIF", "tolerance", "VIF > 10 or tolerance < 0.1"))
    report.heading("Pearson correlation between factors")
    report.figure(correlation_figure(analysis.correlation, analysis.names), "Pearson r over the inventory cells",
                  width=620)
    report.heading("Frequency ratio per class")
    for warning in analysis.warnings:
        report.paragraph(warning)
    for i, definition in enumerate(analysis.definitions):
        rows = [r for r in fr_rows(analysis) if r[0] == definition.name]
        report.table([(r[2], r[3], 100 * r[4], r[6], 100 * r[7], r[8]) for r in rows],
                     header=("class", "cells", "area %", "subsiding", "subsiding %", "FR"), caption=definition.name)
        report.figure(frequency_ratio_figure(definition.labels(), analysis.frequency_ratios[i], definition.name),
                      width=460)


def new_analysis_report(analysis, subsiding: int, cells: int):
    from ..core.report import HtmlReport

    report = HtmlReport("Factor analysis", "Land subsidence plugin - seed 002")
    report.paragraph(f"{cells} inventory cells ({subsiding} subsiding, {cells - subsiding} stable); "
                     f"{analysis.valid_cells} valid cells in the stack. FR = share of subsiding cells in the class "
                     "/ share of all cells in the class.")
    add_analysis_sections(report, analysis)
    return report
