import base64

from subsidence_plugin.core.reports.html import HtmlReport, new_figure


def test_report_holds_tables_figures_and_escapes_text(tmp_path):
    report = HtmlReport("Title <1>", "sub")
    report.heading("Section & more")
    report.table([("a", 1.23456789), ("b", 1234567.0)], header=("name", "value"))
    fig, ax = new_figure(2, 2)
    ax.plot([0, 1], [1, 0])
    report.figure(fig, "a line")
    path = report.write(str(tmp_path / "r.html"))
    text = open(path).read()
    assert "<h1>Title &lt;1&gt;</h1>" in text and "Section &amp; more" in text
    assert "<td>1.235</td>" in text and "<td>1234567</td>" in text
    png = base64.b64decode(text.split("data:image/png;base64,")[1].split("'")[0])
    assert png.startswith(b"\x89PNG")
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]
