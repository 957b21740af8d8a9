"""The figures' "PNG" / "SVG" toolbar in JupyterLab (nbtrain/ui/figure_tools.py): the quickstart run top to
bottom, then the loss figure's buttons clicked as a reader would: the browser downloads a PNG (drawn at twice
the figure's size, the training curve in it) and an SVG holding the very path of the loss curve on the page,
named by the kernel (``nbtrain-loss-step<N>``); the comparison's figures download too. The toolbar sits
inside its figure over no text and no data at 1024×768 (normal and lecture mode) and 1920×1080.

Screenshots: tests/artifacts/browser/figure-export-*.png (the page, and the loss figure with its toolbar).
"""

from __future__ import annotations

import io
import re
import struct
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
from geometry import view_problems, wait_settled
from pages import (
    ARTIFACTS,
    error_outputs,
    install,
    run_all,
    wait_all_executed,
    wait_app,
    wait_kernel_idle,
    watch_requests,
)
from PIL import Image

LOSS = ".nbtrain-lab .nbtrain-figbox-loss"
SIZES = [(1024, 768, "normal"), (1024, 768, "lecture"), (1920, 1080, "normal"), (1920, 1080, "lecture")]


def set_lecture(page, on: bool) -> None:
    if page.evaluate("document.body.classList.contains('nbtrain-lecture')") != on:
        page.evaluate("window.jupyterapp.commands.execute('nbtrain:toggle-lecture-mode')")
    page.wait_for_function(f"document.body.classList.contains('nbtrain-lecture') === {str(on).lower()}")


def lab_index(page) -> int:
    return page.evaluate("[...document.querySelectorAll('.nbtrain-view')].findIndex(v => v.classList.contains('nbtrain-lab'))")


def download(page, button):
    """Click ``button`` and return (file name, bytes) of the download it starts."""
    with page.expect_download(timeout=20_000) as info:
        button.click()
    d = info.value
    return d.suggested_filename, Path(d.path()).read_bytes()


def svg_line_paths(svg: bytes) -> list[str]:
    """The ``d`` of every bqplot line path in an SVG file."""
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg"), root.tag
    return [el.get("d") or "" for el in root.iter() if el.tag.endswith("path") and "line" in (el.get("class") or "").split()]


def test_loss_figure_downloads_as_png_and_svg(page, jupyter_lab):
    outside = watch_requests(page)
    install(page)
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{jupyter_lab.url}/lab/tree/00-quickstart.ipynb?token={jupyter_lab.token}")
    wait_app(page)
    wait_kernel_idle(page)
    run_all(page)
    page.wait_for_selector(".nbtrain-lab .nbtrain-plots .bqplot .mainheading")
    wait_all_executed(page)
    assert error_outputs(page) == []

    # paused: the step in the file name is the one the page shows
    page.click(".nbtrain-lab .nbtrain-pause")
    page.wait_for_function("document.querySelector('.nbtrain-lab .nbtrain-progress').textContent.includes('paused')")
    progress = page.text_content(".nbtrain-lab .nbtrain-progress")
    step = int(re.search(r"step ([\d,]+)", progress).group(1).replace(",", ""))
    assert step >= 1500, progress

    box = page.locator(LOSS)
    box.scroll_into_view_if_needed()
    wait_settled(page)
    assert box.locator(".nbtrain-save-png").get_attribute("title") == "save this figure as PNG"
    fig_width = page.evaluate(f"document.querySelector('{LOSS} > .bqplot').getBoundingClientRect().width")

    name, png = download(page, box.locator(".nbtrain-save-png"))
    assert name == f"nbtrain-loss-step{step}.png"
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert abs(width - 2 * fig_width) <= 4 and height > 300, (width, height, fig_width)  # drawn at scale 2
    (ARTIFACTS / "figure-export-loss-download.png").write_bytes(png)
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    train = np.abs(pixels - np.array([0x1F, 0x78, 0xB4])).sum(axis=2) < 60  # style.TRAIN, the training loss
    assert train.sum() > 200, train.sum()
    black = (pixels.sum(axis=2) < 40).sum()  # no box filled black (the legend's, drawn without the page's CSS)
    assert black < 2000, black

    name, svg = download(page, box.locator(".nbtrain-save-svg"))
    assert name == f"nbtrain-loss-step{step}.svg"
    assert b"<svg" in svg
    (ARTIFACTS / "figure-export-loss-download.svg").write_bytes(svg)
    on_page = page.evaluate("window.__nbt.lossD()")
    paths = svg_line_paths(svg)
    assert on_page and on_page in paths, (len(on_page or ""), [len(p) for p in paths])  # the loss curve itself
    assert len(re.findall(r"[ML]", on_page)) >= 100

    # the comparison (nt.compare) downloads its figures the same way, named by its longest run
    compare = page.locator(".nbtrain-compare .nbtrain-figbox").first
    compare.scroll_into_view_if_needed()
    name, png = download(page, compare.locator(".nbtrain-save-png"))
    assert name == "nbtrain-compare-loss-step1500.png" and png[:4] == b"\x89PNG"

    # the toolbar inside the figure, over no text and no data (geometry.py), at the sizes rooms use
    problems: list[str] = []
    index = lab_index(page)
    for w, h, mode in SIZES:
        page.set_viewport_size({"width": w, "height": h})
        set_lecture(page, mode == "lecture")
        page.evaluate("(i) => document.querySelectorAll('.nbtrain-view')[i].scrollIntoView({block: 'start'})", index)
        wait_settled(page)
        problems += view_problems(page, index, f"{w}x{h} {mode}: ")
        page.evaluate("(i) => document.querySelectorAll('.nbtrain-view')[i].scrollIntoView({block: 'start'})", index)
        wait_settled(page)
        box.hover()  # the toolbar at full strength, as a reader about to click sees it
        page.screenshot(path=str(ARTIFACTS / f"figure-export-{w}x{h}-{mode}.png"))
        box.screenshot(path=str(ARTIFACTS / f"figure-export-{w}x{h}-{mode}-loss.png"))
        tools = page.evaluate(f"""() => {{ const t = document.querySelector('{LOSS} > .nbtrain-figtools');
            const r = t.getBoundingClientRect(); return [r.width, r.height]; }}""")
        assert tools[0] < 90 and tools[1] < 24, (w, h, mode, tools)  # compact in lecture mode too
    set_lecture(page, False)
    assert not problems, "\n".join(problems)
    errors = [m for m in page.console_messages if m.startswith(("error:", "pageerror:"))]
    assert errors == [], errors
    assert outside == [], outside
