"""``Lab.export(path)``: one self-contained HTML file of a run that opens offline, without a kernel.

The curves are the Lab's own bqplot figures, embedded with ipywidgets' widget-state format and rendered in
the page by the ipywidgets HTML manager; every script the page needs (RequireJS, the manager's AMD bundle,
bqplot's and bqscales' AMD bundles) is inlined, so nothing is fetched from a CDN. Below the figures: the
config, the events table and the script (``Lab.replay`` / ``nt.Trainer.replay`` reproduce the run from it).
"""

from __future__ import annotations

import html
import json
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
from ipywidgets.embed import embed_data

from . import style

if TYPE_CHECKING:  # pragma: no cover
    from .lab import Lab

_CLOSE = re.compile(r"</(script)", re.IGNORECASE)
ASSETS = Path(__file__).resolve().parent.parent / "export_assets"
FIGURES = ("loss", "accuracy", "lr", "boundary")  # the Lab figures put in the file (those that exist)


class ExportError(RuntimeError):
    """The HTML file could not be written (missing bundled scripts, unwritable path)."""


def _nbextension(name: str) -> Path:
    """The AMD bundle a widget package installs for the classic notebook (share/jupyter/nbextensions)."""
    import jupyter_core.paths

    candidates = [Path(sys.prefix) / "share" / "jupyter" / "nbextensions" / name / "index.js"]
    candidates += [Path(p) / "nbextensions" / name / "index.js" for p in jupyter_core.paths.jupyter_path()]
    for c in candidates:
        if c.is_file():
            return c
    raise ExportError(f"{name}'s browser bundle (nbextensions/{name}/index.js) is not installed: "
                      f"reinstall {name} (pip install --force-reinstall {name})")


def _asset(name: str) -> str:
    p = ASSETS / name
    if not p.is_file():
        raise ExportError(f"{p.name} is missing from nbtrain/export_assets: it is built with the JupyterLab "
                          "extension (pip install / make install builds it)")
    return p.read_text(encoding="utf-8")


def _named_amd(source: str, name: str) -> str:
    """Give an anonymous AMD bundle (``define([deps], factory)``) its module name, so it can be inlined."""
    i = source.find("define([")
    if i < 0:
        raise ExportError(f"unexpected format of {name}'s browser bundle (no anonymous define)")
    return source[:i] + f'define("{name}",[' + source[i + len("define(["):]


def _script_text(s: str) -> str:
    """Text safe inside <script>: no ``</script`` can end it early (``<\\/`` means the same in JS strings,
    regular expressions and JSON)."""
    return _CLOSE.sub(r"<\\/\1", s)


def _table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_cell(r.get(c)))}</td>" for c in columns) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6g}"
    return v if isinstance(v, str) else json.dumps(v)


def export_lab(lab: Lab, path: str | os.PathLike, *, title: str | None = None) -> str:
    """Write the Lab's run as one HTML file at ``path`` (atomically); returns the path."""
    lab.publish(force=True)
    tr = lab.trainer
    # each figure with its legend row (and the stylesheet that draws the legends' swatches)
    figures = [lab.figure_cells.get(k, lab.figures[k]) for k in FIGURES if k in lab.figures]
    grid = widgets.GridBox([style.stylesheet(), *figures],
                           layout=widgets.Layout(grid_template_columns="repeat(2, minmax(0, 1fr))",
                                                 grid_gap="4px", width="100%"))
    style.view_classes(grid, "nbtrain-export")
    try:
        data = embed_data(views=[grid])
    finally:
        grid.close()
    config = tr.config.to_dict()
    script = tr.script()
    events = list(tr.metrics.events)
    h = tr.history
    last = {c: (float(h[c].dropna().iloc[-1]) if c in h and h[c].notna().any() else None)
            for c in ("train_loss", "val_loss", "val_acc")}
    title = title or f"nbtrain run: {tr.data.name}, {tr.config.activation}, step {tr.global_step:,}"
    summary = (f"step {tr.global_step:,} · state {tr.state} · device {tr.device.type}"
               + "".join(f" · {k} {v:.4g}" for k, v in last.items() if v is not None))
    bqscales = _named_amd(_nbextension("bqscales").read_text(encoding="utf-8"), "bqscales")
    bqplot = _named_amd(_nbextension("bqplot").read_text(encoding="utf-8"), "bqplot")
    state = json.dumps(data["manager_state"])
    views = "\n".join(
        f'<script type="application/vnd.jupyter.widget-view+json">{_script_text(json.dumps(v))}</script>'
        for v in data["view_specs"])
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="nbtrain">
<title>{html.escape(title)}</title>
<style>
body {{ font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 16px 24px; color: #222; }}
h1 {{ font-size: 1.3em; }} h2 {{ font-size: 1.05em; margin-top: 1.4em; }}
table {{ border-collapse: collapse; font-size: 0.9em; }}
td, th {{ border: 1px solid #ccc; padding: 2px 8px; text-align: left; vertical-align: top; }}
th {{ background: #f3f3f3; }} pre {{ background: #f7f7f7; padding: 8px; overflow: auto; max-height: 24em; }}
.nbtrain-export-figures {{ min-height: 300px; }}
</style>
<script>{_script_text(_asset("require.js"))}</script>
<script>{_script_text(_asset("embed-amd.js"))}</script>
<script>{_script_text(bqscales)}</script>
<script>{_script_text(bqplot)}</script>
<script type="application/vnd.jupyter.widget-state+json">{_script_text(state)}</script>
</head><body>
<h1>{html.escape(title)}</h1>
<p class="nbtrain-export-summary">{html.escape(summary)}</p>
<div class="nbtrain-export-figures">
{views}
</div>
<h2>Config</h2>
{_table([{"field": k, "value": v} for k, v in config.items()], ["field", "value"])}
<h2>Live changes and events</h2>
{_table(events, ["step", "field", "old", "new"]) if events else "<p>none</p>"}
<h2>Script</h2>
<p>Replay this run bit for bit (same device and library versions): save the JSON below as
<code>run.json</code>, then <code>nt.Lab.replay(json.load(open("run.json")))</code>.</p>
<pre class="nbtrain-export-script">{html.escape(json.dumps(script, indent=1))}</pre>
</body></html>
"""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".nbtrain-export-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(page)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path
