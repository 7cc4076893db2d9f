"""The rendered course: pages readable without Jupyter (plotly figures, progress bars), and the index."""
import json

import nbformat
import numpy as np

from course_tools import site
from course_utils import plots


def _executed_notebook(tmp_path):
    fig = plots.interactive_image_grid(np.zeros((2, 4, 4), np.uint8), [0, 1], ["a", "b"], ncols=2)
    states = {
        "bar": {"model_name": "HBoxModel", "state": {"children": ["IPY_MODEL_left", "IPY_MODEL_p", "IPY_MODEL_right"]}},
        "left": {"model_name": "HTMLModel", "state": {"value": "epochs:\u2007100%"}},
        "p": {"model_name": "FloatProgressModel", "state": {"value": 3, "max": 3}},
        "right": {"model_name": "HTMLModel", "state": {"value": " 3/3 [00:01&lt;00:00]"}},
    }
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("fig", outputs=[
        nbformat.v4.new_output("display_data", data={site.PLOTLY_MIME: json.loads(fig.to_json()), "text/plain": "Figure"}),
        nbformat.v4.new_output("display_data", data={site.WIDGET_MIME: {"model_id": "bar", "version_major": 2,
                                                                        "version_minor": 0}, "text/plain": "0%"}),
    ])])
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": states}}
    path = tmp_path / "01_demo.ipynb"
    nbformat.write(nb, path)
    return path


def test_pages_draw_plotly_figures_and_final_progress_without_jupyter(tmp_path):
    page = site.export_html(_executed_notebook(tmp_path))
    text = page.read_text()
    assert "Plotly.newPlot" in text, "the figure is drawn by plotly.js in the page"
    assert text.index('<script src="plotly.min.js">') < text.index("require.min.js"), "before any AMD loader"
    assert (tmp_path / "plotly.min.js").stat().st_size > 1_000_000, "plotly.js travels with the page (no CDN)"
    assert "epochs: 100% |██████████| 3/3 [00:01&lt;00:00]" in text, "the bar's final state, as text"


def test_site_index_links_pages_in_order_and_copies_plotly(tmp_path):
    executed = _executed_notebook(tmp_path)
    site.export_html(executed)
    rows = [{"notebook": "01_demo", "seconds": 3.0, "headline": "x = 1", "error": None, "output": executed.name},
            {"notebook": "02_missing", "seconds": 1.0, "headline": "FAILED", "error": "boom", "output": "02.ipynb"}]
    index = site.write_site(tmp_path / "site", "full", tmp_path, rows).read_text()
    assert '<a href="01_demo.html">01_demo</a>' in index and "failed" in index
    assert index.index("01_demo") < index.index("02_missing")
    assert (tmp_path / "site" / "plotly.min.js").exists() and (tmp_path / "site" / "01_demo.html").exists()


def test_interactive_grid_titles_each_image_with_its_own_label():
    images = np.arange(10, dtype=np.uint8)[:, None, None].repeat(4, 1).repeat(4, 2) * 20
    fig = plots.interactive_image_grid(images, np.arange(10), [f"c{i}" for i in range(10)], ncols=4)
    layout = fig.layout.to_plotly_json()
    for trace in fig.data:
        xaxis = layout["xaxis" + trace.xaxis[1:]]
        yaxis = layout["yaxis" + trace.yaxis[1:]]
        x_mid, y_top = sum(xaxis["domain"]) / 2, yaxis["domain"][1]
        title = min(fig.layout.annotations, key=lambda a: abs(a.x - x_mid) + abs(a.y - y_top)).text
        assert title == f"c{int(np.asarray(trace.z)[0][0][0]) // 20}"
