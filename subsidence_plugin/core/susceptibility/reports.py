"""HTML reports of the susceptibility algorithms (seed 002) and the GARDLIF weight optimisation (seed 003)."""
from __future__ import annotations

from . import gardlif
from .factors import fr_rows, statistics_rows


def add_analysis_sections(report, analysis) -> None:
    """FR tables and charts, information gain, VIF / tolerance and the correlation matrix."""
    from ..reports.plots import correlation_figure, frequency_ratio_figure

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
    from ..reports.html import HtmlReport

    report = HtmlReport("Factor analysis", "Land subsidence plugin - seed 002")
    report.paragraph(f"{cells} inventory cells ({subsiding} subsiding, {cells - subsiding} stable); "
                     f"{analysis.valid_cells} valid cells in the stack. FR = share of subsiding cells in the class "
                     "/ share of all cells in the class.")
    add_analysis_sections(report, analysis)
    return report


def write_susceptibility_report(path, model_name, analysis, evaluations, trained, table, method, label,
                                class_colours) -> None:
    """Accuracy on both test parts with ROC curves, tuning and loss curves, class areas and the factor analysis."""
    from ..reports.html import HtmlReport
    from ..reports.plots import class_area_figure, fitness_figure, loss_figure, roc_figure

    report = HtmlReport(f"Susceptibility: {model_name}", "Land subsidence plugin - seed 002")
    report.paragraph(f"{len(label)} inventory cells ({int(label.sum())} subsiding). Test parts: the paper's "
                     "stratified random 70 / 30 split, and the spatially blocked split.")
    report.heading("Accuracy on the test parts")
    report.table([(split, name, s["auc"], s["rmse"], s["mse"], s["mae"], s["std"], s["n"])
                  for (split, name), (s, _, _) in evaluations.items()],
                 header=("split", "model", "AUC", "RMSE", "MSE", "MAE", "StD of error", "test cells"))
    for split in ("random", "blocked"):
        curves = {name: (fpr, tpr, s["auc"]) for (sp, name), (s, fpr, tpr) in evaluations.items() if sp == split}
        if curves:
            report.figure(roc_figure(curves, f"ROC, {split} split"), f"ROC curves, test part of the {split} split",
                          width=420)
    if trained.tuned:
        report.heading("Training")
        report.table([(k, v) for k, v in trained.tuned.items()], header=("setting", "value"))
    if trained.tuning is not None:
        report.figure(fitness_figure([1.0 - c for c in trained.tuning.history],
                                     f"{model_name}: best validation AUC", "AUC"), width=420)
    if trained.history is not None:
        report.figure(loss_figure(trained.history.train_loss, trained.history.validation_loss, "Loss",
                                  ylabel="binary cross-entropy"),
                      width=420)
    report.heading("Susceptibility classes")
    report.table([(r[1], r[2], r[3], r[4], r[5]) for r in table],
                 header=("class", "from", "to", "cells", "area %"), caption=f"classes by {method}")
    report.figure(class_area_figure({model_name: [r[5] for r in table]}, [r[1] for r in table],
                                    class_colours), width=460)
    add_analysis_sections(report, analysis)
    report.write(path)


def write_weights_report(path, result, weight_rows, classes) -> None:
    from ..reports.html import HtmlReport
    from ..reports.plots import fitness_figure

    names = [c.title() for c in gardlif.VULNERABILITY_CLASSES]
    report = HtmlReport("GARDLIF weights optimised by PSO", "Land subsidence plugin - seed 003")
    report.paragraph(f"{result.points} InSAR points with a rate and all seven ratings; PSO maximises Pearson r "
                     "between the index and the subsidence rate (mm/yr, positive = sinking).")
    report.table([(n, s, w, gardlif.PAPER_PSO_WEIGHTS[layer]) for (n, s, w), layer in zip(weight_rows, gardlif.LAYERS)],
                 header=("layer", "starting weight", "PSO weight", "seed 003 PSO weight (Tehran)"))
    report.table([("starting weights", result.r_before, result.r2_before, result.ci_before),
                  ("PSO weights", result.r_after, result.r2_after, result.ci_after)],
                 header=("weights", "Pearson r", "R²", f"CI (max {4 * result.points})"))
    for title, table in (("starting weights", result.ci_table_before), ("PSO weights", result.ci_table_after)):
        report.table([[names[i]] + list(map(int, row)) for i, row in enumerate(table)],
                     header=["index class \\ rate class"] + names, caption=f"Points per class pair, {title}")
    report.figure(fitness_figure([-c for c in result.result.history], "PSO convergence", "best Pearson r"),
                  "PSO convergence: best Pearson r after each iteration", width=420)
    report.table([(n, lo, hi, cells, share) for n, lo, hi, cells, share in classes],
                 header=("class", "index from", "to", "cells", "area %"), caption="Vulnerability classes (PSO weights)")
    report.write(path)
