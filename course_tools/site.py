"""The rendered course: each executed notebook as a standalone HTML page, and ``index.html`` linking them in order.

The pages are meant to be read where nothing runs (GitHub Pages, an offline copy), so two kinds of output that
need a live Jupyter front end are turned into something a browser shows by itself:

- plotly figures (``application/vnd.plotly.v1+json``) become an HTML ``<div>`` drawn by ``plotly.min.js``, which
  is copied next to the pages from the installed plotly package (no CDN needed);
- progress bars (tqdm's ipywidgets) become the text of their final state, read from the widget state that the
  notebook's execution stored, e.g. ``timed epochs: 100% |██████████| 2/2 [00:10<00:00, 5.1s/it]``.
"""
from __future__ import annotations

import copy
import html
import json
import re
import shutil
from datetime import datetime, timezone
from pathlib import Path

PLOTLY_MIME = "application/vnd.plotly.v1+json"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
PLOTLY_JS = "plotly.min.js"


def plotly_js_path() -> Path:
    import plotly

    return Path(plotly.__file__).parent / "package_data" / PLOTLY_JS


def _plotly_html(figure: dict) -> str:
    import plotly.io as pio

    fig = pio.from_json(json.dumps(figure))
    return pio.to_html(fig, include_plotlyjs=False, full_html=False, config={"responsive": True})


def _strip_tags(text: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", text or "")).strip()


def widget_text(states: dict, model_id: str) -> str | None:
    """The final text of a stored widget: a tqdm bar (HBox of HTML, FloatProgress, HTML) or a plain label."""
    model = states.get(model_id)
    if model is None:
        return None
    state = model.get("state", {})
    name = model.get("model_name", "")
    if name in ("HTMLModel", "LabelModel", "HTMLMathModel"):
        return _strip_tags(state.get("value", "")).replace("\u2007", " ")
    if name in ("FloatProgressModel", "IntProgressModel"):
        top = state.get("max") or 0
        filled = round(10 * (state.get("value") or 0) / top) if top else 0
        return "|" + "█" * filled + " " * (10 - filled) + "|"  # tqdm's own text bar
    if name in ("HBoxModel", "VBoxModel"):
        parts = [widget_text(states, child.removeprefix("IPY_MODEL_")) for child in state.get("children", [])]
        return " ".join(p for p in parts if p)
    return None


def readable_notebook(nb):
    """A copy of an executed notebook whose plotly figures and progress widgets render without Jupyter.

    Returns ``(notebook, uses_plotly)``.
    """
    nb = copy.deepcopy(nb)
    states = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    uses_plotly = False
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data")
            if not data:
                continue
            if PLOTLY_MIME in data:
                data["text/html"] = _plotly_html(data.pop(PLOTLY_MIME))
                uses_plotly = True
            if WIDGET_MIME in data:
                text = widget_text(states, data[WIDGET_MIME].get("model_id", ""))
                data.pop(WIDGET_MIME)
                if text is not None:
                    data["text/plain"] = text
    return nb, uses_plotly


def export_html(notebook: Path) -> Path:
    """Write ``notebook`` (executed) as a standalone HTML page beside it, with ``plotly.min.js`` when needed."""
    import nbformat
    from nbconvert import HTMLExporter

    notebook = Path(notebook)
    nb, uses_plotly = readable_notebook(nbformat.read(notebook, as_version=4))
    body, _ = HTMLExporter().from_notebook_node(nb)
    if uses_plotly:
        # loaded first, before any AMD loader on the page, so that it defines window.Plotly
        body = body.replace("<head>", f'<head>\n<script src="{PLOTLY_JS}"></script>', 1)
        shutil.copy2(plotly_js_path(), notebook.parent / PLOTLY_JS)
    page = notebook.with_suffix(".html")
    page.write_text(body, encoding="utf-8")
    return page


def write_site(site: Path, mode: str, out_dir: Path, rows: list[dict]) -> Path:
    """Copy each executed notebook's HTML from ``out_dir`` into ``site`` and write an index with the summary."""
    site = Path(site)
    site.mkdir(parents=True, exist_ok=True)
    if (Path(out_dir) / PLOTLY_JS).exists():
        shutil.copy2(Path(out_dir) / PLOTLY_JS, site / PLOTLY_JS)
    lines = []
    for row in rows:
        page = Path(out_dir) / Path(row["output"]).with_suffix(".html").name
        link = html.escape(row["notebook"])
        if page.exists():
            shutil.copy2(page, site / page.name)
            link = f'<a href="{html.escape(page.name)}">{link}</a>'
        status = "failed" if row["error"] else "ok"
        lines.append(f"<tr class='{status}'><td>{link}</td><td>{row['seconds']:.0f}</td>"
                     f"<td>{html.escape(row['headline'])}</td></tr>")
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    index = site / "index.html"
    index.write_text(f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Image classification with deep learning: the course ({html.escape(mode)} run)</title>
<style>body{{font-family:system-ui,sans-serif;max-width:56rem;margin:2rem auto;padding:0 1rem}}
table{{border-collapse:collapse;width:100%}}td,th{{border-bottom:1px solid #ddd;padding:.4rem;text-align:left}}
tr.failed td{{color:#b00020}}</style></head>
<body><h1>Image classification with deep learning</h1>
<p>Executed notebooks, in course order. Mode: <strong>{html.escape(mode)}</strong>; built {stamp}.</p>
<table><thead><tr><th>Notebook</th><th>Seconds</th><th>Headline metric</th></tr></thead>
<tbody>
{chr(10).join(lines)}
</tbody></table></body></html>
""", encoding="utf-8")
    return index
