"""The Lab's image panels in a real JupyterLab at 1024×768 in lecture mode: drawn, readable (no text overlaps
other text), hover shows a confusion cell's count, a click on a cell fills the gallery with its examples.

Screenshot: ``tests/artifacts/browser/lab-image-panels-lecture-1024x768.png``.
"""

from __future__ import annotations

import json

from pages import ARTIFACTS, CURRENT, error_outputs, run_all, wait_all_executed, wait_app, wait_kernel_idle

SHOT = ARTIFACTS / "lab-image-panels-lecture-1024x768.png"
SOURCE = """\
import nbtrain as nt
lab = nt.Lab(data="digits", model="cnn", optimizer="momentum", lr=0.05, max_steps=300, seed=0)
lab.start()
lab
"""
WAIT = "lab.wait();"

# every piece of text inside the image panels, with its box (SVG text of the bqplot figures, HTML text)
TEXT_BOXES = """() => {
  const root = document.querySelector('.nbtrain-lab .nbtrain-plots');
  const panels = [...root.children].filter(el =>
      el.matches('.nbtrain-gallery-panel, .nbtrain-filters-panel') ||
      ['accuracy per class', 'confusion (val'].some(t =>
          (el.querySelector('.mainheading')?.textContent || '').startsWith(t)));
  const boxes = [];
  for (const [p, panel] of panels.entries()) {
    const els = panel.querySelectorAll('text, figcaption, .widget-html-content div, .widget-toggle-button');
    for (const el of els) {
      const text = (el.textContent || '').trim();
      const r = el.getBoundingClientRect();
      if (!text || r.width === 0 || r.height === 0 || getComputedStyle(el).visibility === 'hidden') continue;
      if (el.querySelector('text, figcaption, div')) continue;  // leaves only
      boxes.push({panel: p, text, x: r.left, y: r.top, w: r.width, h: r.height});
    }
  }
  return {count: panels.length, boxes};
}"""


def _overlaps(boxes: list[dict]) -> list[tuple[str, str]]:
    bad = []
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            dx = min(a["x"] + a["w"], b["x"] + b["w"]) - max(a["x"], b["x"])
            dy = min(a["y"] + a["h"], b["y"] + b["h"]) - max(a["y"], b["y"])
            if dx > 1 and dy > 1:  # more than a pixel of anti-aliasing
                bad.append((a["text"], b["text"]))
    return bad


def test_image_panels_in_lecture_mode_at_1024x768(page, jupyter_lab):
    nb = {"cells": [{"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": SOURCE},
                    {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": WAIT}],
          "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
          "nbformat": 4, "nbformat_minor": 5}
    (jupyter_lab.root / "images.ipynb").write_text(json.dumps(nb))
    page.set_viewport_size({"width": 1024, "height": 768})
    page.goto(f"{jupyter_lab.url}/lab/tree/images.ipynb?token={jupyter_lab.token}")
    wait_app(page)
    wait_kernel_idle(page)
    page.evaluate("window.jupyterapp.commands.execute('nbtrain:toggle-lecture-mode')")
    page.wait_for_function("document.body.classList.contains('nbtrain-lecture')")
    page.evaluate("window.jupyterapp.commands.execute('application:toggle-left-area')")  # a lecturer's screen
    run_all(page)
    wait_all_executed(page)
    assert error_outputs(page) == []
    # the gallery's eight PNGs have loaded (8×8 digits), the filter tile too, the matrix has its 100 cells
    page.wait_for_function("""() => {
        const imgs = [...document.querySelectorAll('.nbtrain-gallery img')];
        const tile = document.querySelector('.nbtrain-filters img');
        return imgs.length === 8 && imgs.every(i => i.complete && i.naturalWidth === 8) &&
               tile && tile.complete && tile.naturalWidth > 0 &&
               document.querySelectorAll('.nbtrain-plots .heatmapcell').length === 100;
    }""", timeout=60_000)
    assert page.locator(".nbtrain-plots .mainheading:text-matches('decision boundary')").count() == 0

    # the panels on screen: confusion + per-class accuracy, then gallery + filters
    page.locator(".nbtrain-lab .nbtrain-gallery-panel").scroll_into_view_if_needed()
    page.evaluate("""() => document.querySelector('.nbtrain-lab .nbtrain-plots .bqplot:has(.heatmapcell)')
                        .scrollIntoView({block: 'start'})""")
    page.wait_for_function("""() => [...document.querySelectorAll('.nbtrain-lab .nbtrain-plots .bqplot')]
        .every(f => { const a = f.querySelector('.plotarea_background');
                      return !a || a.getBoundingClientRect().width >= 0.5 * f.getBoundingClientRect().width; })""")
    page.screenshot(path=str(SHOT))
    page.evaluate("() => document.querySelector('.nbtrain-lab .nbtrain-gallery-panel').scrollIntoView({block: 'start'})")
    page.screenshot(path=str(ARTIFACTS / "lab-image-panels-gallery-lecture-1024x768.png"))

    found = page.evaluate(TEXT_BOXES)
    assert found["count"] == 4, found["count"]
    assert len(found["boxes"]) > 30
    assert _overlaps(found["boxes"]) == []
    # nothing of the panels sticks out of the screen to the right
    right = page.evaluate("""() => Math.max(...[...document.querySelectorAll(
        '.nbtrain-gallery-panel, .nbtrain-filters-panel, .nbtrain-plots .bqplot')].map(e => e.getBoundingClientRect().right))""")
    assert right <= 1024, right

    # hover a cell: its tooltip tells the count; a click fills the gallery with that cell's examples
    cell = page.locator(".nbtrain-plots .bqplot:has(.heatmapcell) .object_grp .dot").nth(3 * 10 + 3)
    cell.hover(force=True)
    page.wait_for_function("""() => [...document.querySelectorAll('.bqplot_tooltip, .bqplot-tooltip, div')]
        .some(d => /true 3 → predicted 3: \\d+ of \\d+/.test(d.textContent || '') && d.offsetParent !== null)""")
    cell.click(force=True)
    page.wait_for_function("""() => /true 3 → predicted 3 \\(\\d+\\)/.test(
        document.querySelector('.nbtrain-gallery-panel')?.textContent || '')""")
    page.wait_for_function("""() => [...document.querySelectorAll('.nbtrain-gallery figcaption')].length > 0 &&
        [...document.querySelectorAll('.nbtrain-gallery figcaption')].every(c => c.textContent.startsWith('3'))""")
    page.screenshot(path=str(ARTIFACTS / "lab-image-panels-cell-clicked.png"))
    page.evaluate(f"{CURRENT}.sessionContext.session.kernel.requestExecute({{code: 'lab.close(); lab.trainer.close()'}})")
