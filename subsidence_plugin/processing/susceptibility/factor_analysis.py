"""subsidence:factoranalysis - frequency ratio, information gain, Pearson correlation and VIF (seed 002)."""
from __future__ import annotations

from qgis.core import QgsProcessing, QgsProcessingParameterFeatureSink, QgsProcessingParameterFileDestination

from ...core.susceptibility.factors import FR_COLUMNS, STAT_COLUMNS, VIF_LIMIT, fr_rows, statistics_rows
from ...core.susceptibility.reports import new_analysis_report
from ..base import SubsidenceAlgorithm, processing_errors, progress_adapter
from ..inputs import factor_stack
from ..outputs import table_sink
from .common import (CLASS_METHODS, INVENTORY_FIELDS, add_factor_class_parameters, add_inventory_parameters,
                     categorical_names, inventory_cells, read_inventory)


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

    def process(self, parameters, context, feedback):
        from ...core.susceptibility.factors import analyse_factors, sample_values

        stack_layer = self.parameterAsRasterLayer(parameters, "STACK", context)
        with processing_errors():
            stack = factor_stack(stack_layer, projected=True)
            columns = stack.columns(categorical_names(self, parameters, context))
            x, y, label, _ = read_inventory(self, parameters,
                                            stack_layer.crs(), context, feedback,
                                            self.parameterAsString(parameters, "LABEL_FIELD", context)
                                            or INVENTORY_FIELDS["label"])
            rows, cols, ok = inventory_cells(stack.grid, stack.valid_cells(), x, y, feedback)
            values = sample_values(stack.path, columns, rows[ok], cols[ok])
            analysis = analyse_factors(stack.path, columns, values, label[ok],
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


