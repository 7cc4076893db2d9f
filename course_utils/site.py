"""The rendered course: ``build/site/index.html`` linking the executed notebooks of the latest run, in order."""
from __future__ import annotations

import html
import shutil
from datetime import datetime, timezone
from pathlib import Path


def write_site(site: Path, mode: str, out_dir: Path, rows: list[dict]) -> Path:
    """Copy each executed notebook's HTML from ``out_dir`` into ``site`` and write an index with the summary."""
    site = Path(site)
    site.mkdir(parents=True, exist_ok=True)
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
