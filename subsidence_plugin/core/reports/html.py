"""Self-contained HTML reports: headings, text, tables and PNG figures embedded as data URIs.

One file the user can open anywhere, e-mail or archive with the project. Matplotlib figures are built
without pyplot and rendered to PNG by Agg (no Qt).
"""
from __future__ import annotations

import base64
import datetime as _dt
import html
import io
import os
import uuid
from typing import List, Optional, Sequence

_STYLE = """
body { font-family: -apple-system, Segoe UI, Helvetica, Arial, sans-serif; margin: 2em auto; max-width: 1100px;
       color: #222; line-height: 1.45; }
h1 { border-bottom: 3px solid #b2182b; padding-bottom: .2em; }
h2 { margin-top: 1.6em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: .8em 0; font-size: 0.92em; }
th, td { border: 1px solid #ccc; padding: .3em .6em; text-align: right; }
th { background: #f3f3f3; }
td:first-child, th:first-child { text-align: left; }
figure { display: inline-block; margin: .6em; vertical-align: top; }
figcaption { font-size: .9em; color: #555; max-width: 520px; }
.meta { color: #666; font-size: .9em; }
"""


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e5 else f"{value:.0f}"
    return html.escape(str(value))


class HtmlReport:
    """Builds an HTML report section by section; `write` saves it atomically."""

    def __init__(self, title: str, subtitle: str = ""):
        self.title = title
        self.parts: List[str] = []
        stamp = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
        self.parts.append(f"<h1>{html.escape(title)}</h1>")
        self.parts.append(f"<p class='meta'>{html.escape(subtitle)} &middot; written {stamp}</p>")

    def heading(self, text: str, level: int = 2) -> None:
        self.parts.append(f"<h{level}>{html.escape(text)}</h{level}>")

    def paragraph(self, text: str, raw_html: bool = False) -> None:
        self.parts.append(f"<p>{text if raw_html else html.escape(text)}</p>")

    def table(self, rows: Sequence[Sequence], header: Optional[Sequence[str]] = None, caption: str = "") -> None:
        out = ["<table>"]
        if caption:
            out.append(f"<caption>{html.escape(caption)}</caption>")
        if header:
            out.append("<tr>" + "".join(f"<th>{html.escape(str(h))}</th>" for h in header) + "</tr>")
        for row in rows:
            out.append("<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in row) + "</tr>")
        out.append("</table>")
        self.parts.append("".join(out))

    def image(self, png: bytes, caption: str = "", width: Optional[int] = 520) -> None:
        """Embed a PNG shown ``width`` pixels wide (None: its own width)."""
        if width is None:
            width = png_width(png)
        data = base64.b64encode(png).decode("ascii")
        self.parts.append(f"<figure><img width='{width}' src='data:image/png;base64,{data}' alt='{html.escape(caption)}'>"
                          f"<figcaption>{html.escape(caption)}</figcaption></figure>")

    def figure(self, fig, caption: str = "", width: int = 520) -> None:
        """Embed a matplotlib figure."""
        self.image(figure_png(fig), caption, width)

    def html(self) -> str:
        return ("<!DOCTYPE html><html><head><meta charset='utf-8'>"
                f"<title>{html.escape(self.title)}</title><style>{_STYLE}</style></head><body>"
                + "\n".join(self.parts) + "</body></html>")

    def write(self, path: str) -> str:
        folder = os.path.dirname(os.path.abspath(path))
        os.makedirs(folder, exist_ok=True)
        tmp = os.path.join(folder, f".{os.path.basename(path)}.{uuid.uuid4().hex}.tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(self.html())
        os.replace(tmp, path)
        return path


def png_width(png: bytes) -> int:
    """Pixel width of a PNG (from its IHDR chunk)."""
    return int.from_bytes(png[16:20], "big")


def figure_png(fig, dpi: int = 110) -> bytes:
    """PNG bytes of a matplotlib figure."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return buffer.getvalue()


def new_figure(width: float = 6.0, height: float = 3.6, rows: int = 1, cols: int = 1):
    """A matplotlib figure and its axes, drawn without pyplot (no GUI backend, safe in worker threads)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    return fig, fig.subplots(rows, cols)
