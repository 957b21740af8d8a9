"""What a room sees: every nbtrain view of the quickstart and of a demo notebook, in JupyterLab at the sizes
people use (800×900, 1024×768, 1280×800 with the file browser open, 1920×1080), in normal and lecture mode,
checked from the DOM's geometry (tests/browser/geometry.py): no figure over another, no text over another or
outside its figure, axis labels outside the plot area, end ticks inside the figure, labels never clipped;
lecture mode on a 1024×768 projector shows transport, controls, loss and decision boundary together; an LR
change is marked within 100 ms (page clock); no console errors and no request leaves 127.0.0.1.

Screenshots: tests/artifacts/browser/layout-*.png (one per view, size and mode).
"""

from __future__ import annotations

from geometry import in_viewport, view_problems, wait_settled
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

SIZES = [(800, 900, False), (1024, 768, False), (1280, 800, True), (1920, 1080, False)]  # (w, h, side panel)
LECTURE_FIT = (1024, 768)


def console_errors(page) -> list[str]:
    return [m for m in page.console_messages if m.startswith(("error:", "pageerror:"))]


def set_lecture(page, on: bool) -> None:
    if page.evaluate("document.body.classList.contains('nbtrain-lecture')") != on:
        page.evaluate("window.jupyterapp.commands.execute('nbtrain:toggle-lecture-mode')")
    page.wait_for_function(f"document.body.classList.contains('nbtrain-lecture') === {str(on).lower()}")


def set_side_panel(page, open_: bool) -> None:
    page.evaluate(f"window.jupyterapp.shell.{'expandLeft' if open_ else 'collapseLeft'}()")


def view_names(page) -> list[str]:
    return page.evaluate("""() => [...document.querySelectorAll('.nbtrain-view')].map(v =>
        ['nbtrain-lab', 'nbtrain-compare', 'nbtrain-demo', 'nbtrain-search', 'nbtrain-lr-finder']
          .find(c => v.classList.contains(c)) || 'view')""")


def scroll_to_view(page, index: int) -> None:
    page.evaluate("(i) => document.querySelectorAll('.nbtrain-view')[i].scrollIntoView({block: 'start'})", index)


def check_every_view(page, notebook: str) -> list[str]:
    """Every size × mode: each view scrolled to the top of the notebook, checked, photographed."""
    problems: list[str] = []
    names = view_names(page)
    assert names, "no nbtrain view on the page"
    for w, h, side in SIZES:
        page.set_viewport_size({"width": w, "height": h})
        set_side_panel(page, side)
        for mode in ("normal", "lecture"):
            set_lecture(page, mode == "lecture")
            for i, name in enumerate(names):
                scroll_to_view(page, i)
                wait_settled(page)
                scroll_to_view(page, i)
                suffix = "-sidepanel" if side else ""
                page.screenshot(path=str(ARTIFACTS / f"layout-{notebook}-{w}x{h}{suffix}-{mode}-{name}{i}.png"))
                tag = f"{notebook} {w}x{h}{' side panel' if side else ''} {mode} {name}#{i}: "
                problems += view_problems(page, i, tag)
            if mode == "lecture" and (w, h) == LECTURE_FIT and "nbtrain-lab" in names:
                problems += lecture_fits(page, names.index("nbtrain-lab"), notebook)
    set_lecture(page, False)
    return problems


def lecture_fits(page, index: int, notebook: str) -> list[str]:
    """Lecture mode on one 1024×768 screen: transport, the current tab's controls, the loss curve and the
    decision boundary all inside the viewport at once, once the Lab is scrolled to the top."""
    scroll_to_view(page, index)
    wait_settled(page)
    scroll_to_view(page, index)
    out = []
    for what, sel in (("run button", ".nbtrain-lab .nbtrain-play"), ("loss figure", ".nbtrain-lab .nbtrain-fig-loss"),
                      ("decision boundary", ".nbtrain-lab .nbtrain-fig-boundary"),
                      ("controls of the current tab", ".nbtrain-lab .nbtrain-controls")):
        r = in_viewport(page, sel)
        if not r["inside"]:
            out.append(f"{notebook} lecture 1024x768: the {what} is not inside the viewport: {r}")
    page.screenshot(path=str(ARTIFACTS / f"layout-{notebook}-lecture-1024x768-fit.png"))
    return out


ARM_JS = r"""
(value) => {
  const lab = document.querySelector('.nbtrain-lab');
  const note = lab.querySelector('.nbtrain-change');
  const input = lab.querySelector('.nbtrain-lr-text input');
  const seen = window.__feedback = {t0: null, front: null, pending: null, confirmed: null, text: ''};
  const look = () => {
    const now = performance.now();
    // the extension's mark, in the front end's own state (a class + CSS), set while the input event runs
    // (it may be set by a capture listener that runs before ours takes t0: keep its time, subtract below)
    if (seen.classAt === undefined && note.classList.contains('nbtrain-input-pending')) seen.classAt = now;
    if (seen.front === null && seen.classAt !== undefined && seen.t0 !== null) seen.front = Math.max(0, seen.classAt - seen.t0);
    seen.text = note.textContent;
    if (!seen.text.includes(String(value)) || seen.t0 === null) return;
    if (seen.pending === null && note.querySelector('.nbtrain-pending, .nbtrain-confirmed')) seen.pending = now - seen.t0;
    if (seen.confirmed === null && note.querySelector('.nbtrain-confirmed')) seen.confirmed = now - seen.t0;
  };
  new MutationObserver(look).observe(note, {subtree: true, childList: true, characterData: true, attributes: true,
                                            attributeFilter: ['class']});
  input.addEventListener('keydown', e => { if (e.key === 'Enter') seen.t0 = e.timeStamp; }, {capture: true, once: true});
}
"""


def lr_feedback(page, values: list[float]) -> list[dict]:
    """Type learning rates into the Lab's LR box (then Enter) while it trains: per change the page-clock
    times from the Enter key event to the pending marker and to the confirmed one."""
    page.locator(".nbtrain-lab .nbtrain-controls .lm-TabBar-tab:has-text('optim')").click()
    box = page.locator(".nbtrain-lab .nbtrain-lr-text input")
    out = []
    for v in values:
        box.fill(str(v))
        page.evaluate(ARM_JS, v)
        box.press("Enter")
        page.wait_for_function("window.__feedback.confirmed !== null", timeout=10_000, polling=50)
        page.evaluate("() => { const f = window.__feedback; if (f.front === null && f.classAt !== undefined) "
                      "f.front = Math.max(0, f.classAt - f.t0); }")
        out.append(page.evaluate("window.__feedback"))
    return out


def open_and_run(page, server, notebook: str) -> list[str]:
    outside = watch_requests(page)
    install(page)
    page.set_viewport_size({"width": 1920, "height": 1080})
    page.goto(f"{server.url}/lab/tree/{notebook}.ipynb?token={server.token}")
    wait_app(page)
    wait_kernel_idle(page)
    run_all(page)
    page.wait_for_selector(".nbtrain-view .bqplot .mainheading")
    wait_all_executed(page)
    assert error_outputs(page) == []
    return outside


def test_quickstart_views_fit_every_screen(page, jupyter_lab):
    outside = open_and_run(page, jupyter_lab, "00-quickstart")
    # the quickstart's Lab is still training after run-all: something to steer
    page.wait_for_function("document.querySelector('.nbtrain-lab .nbtrain-progress')?.textContent.includes('running')")

    # --- feedback within 100 ms of the input, on the page clock -------------------------------------------
    scroll_to_view(page, 0)
    times = lr_feedback(page, [0.2, 0.3, 0.25, 0.4, 0.5])
    print("LR change feedback (ms):", times)
    # the front end marks the change at once (the extension); the kernel's own marker (all Voilà has) follows
    # one round trip later (≈ 25-75 ms here when the machine is not busy: a number for the report, not a test)
    assert all(t["front"] is not None and t["front"] <= 100 for t in times), times
    assert all(t["confirmed"] < 3000 for t in times), times
    page.screenshot(path=str(ARTIFACTS / "layout-quickstart-lr-feedback.png"))

    page.click(".nbtrain-lab .nbtrain-pause")
    page.wait_for_function("document.querySelector('.nbtrain-lab .nbtrain-progress').textContent.includes('paused')")

    problems = check_every_view(page, "quickstart")
    assert not problems, "\n".join(problems)
    assert console_errors(page) == [], console_errors(page)
    assert outside == [], outside
def test_demo_views_fit_every_screen(page, jupyter_lab):
    outside = open_and_run(page, jupyter_lab, "01-activations")
    problems = check_every_view(page, "activations")
    assert not problems, "\n".join(problems)
    assert console_errors(page) == [], console_errors(page)
    assert outside == [], outside


TUNING_CELLS = [
    "import nbtrain as nt\nfrom nbtrain.ui.tuning import search_view\n"
    "base = dict(data='moons', hidden=[8], n_samples=200, seed=0)",
    "nt.find_lr(**base, num_iter=60).plot()",
    "s = nt.search.random({'lr': nt.search.loguniform(0.01, 1.0), 'hidden': nt.search.choice([8], [16, 16])},\n"
    "                     n=4, max_steps=40, eval_every=10, executor='sequential', **base)\nsearch_view(s)",
    "lab = nt.Lab(**base, max_steps=60)\nlab.start(); lab.wait()\nlab",
]


def luminance(css_colour: str) -> float:
    nums = [float(x) for x in css_colour[css_colour.index("(") + 1:css_colour.index(")")].split(",")[:3]]
    return (0.2126 * nums[0] + 0.7152 * nums[1] + 0.0722 * nums[2]) / 255


def test_tuning_views_and_themes(page, jupyter_lab):
    """Notebook 07's views (LR range test on a log axis with decade ticks, the search dashboard with a log-x
    scatter, a categorical axis and an aligned table) fit and draw without console errors; the Lab and those
    views follow JupyterLab's dark theme (text light on a dark plot area)."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(src) for src in TUNING_CELLS]
    nbformat.write(nb, jupyter_lab.root / "tuning-views.ipynb")
    outside = open_and_run(page, jupyter_lab, "tuning-views")
    names = view_names(page)
    assert names == ["nbtrain-lr-finder", "nbtrain-search", "nbtrain-lab"], names
    # the log-x scatter has its axis and its points (it used to stay blank: no domain before the first trial)
    scatter = page.evaluate("""() => { const f = [...document.querySelectorAll('.nbtrain-search .bqplot')]
        .find(f => f.querySelector('.mainheading')?.textContent.includes('vs lr'));
      return {ticks: [...f.querySelectorAll('.axis .tick text')].map(t => t.textContent),
              dots: f.querySelectorAll('.dot').length}; }""")
    assert scatter["dots"] >= 4 and "0.1" in scatter["ticks"], scatter
    categories = page.evaluate("""() => { const f = [...document.querySelectorAll('.nbtrain-search .bqplot')]
        .find(f => f.querySelector('.mainheading')?.textContent.includes('vs hidden'));
      return [...f.querySelectorAll('.axis .tick text')].map(t => t.textContent); }""")
    assert "[8]" in categories and "[16, 16]" in categories and not any("NaN" in c for c in categories), categories
    # the results table: each header right above its column (same right edge for numbers)
    misaligned = page.evaluate("""() => { const t = document.querySelector('.nbtrain-search table.nbtrain-table');
        const heads = [...t.querySelectorAll('thead th')], cells = [...t.querySelectorAll('tbody tr:first-child td')];
        return heads.map((h, i) => [h.textContent, Math.abs(h.getBoundingClientRect().left - cells[i].getBoundingClientRect().left)])
          .filter(([, d]) => d > 1); }""")
    assert misaligned == [], misaligned
    problems = []
    for w, h in ((1024, 768), (1920, 1080)):
        page.set_viewport_size({"width": w, "height": h})
        for mode in ("normal", "lecture"):
            set_lecture(page, mode == "lecture")
            for i, name in enumerate(names):
                scroll_to_view(page, i)
                wait_settled(page)
                scroll_to_view(page, i)
                page.screenshot(path=str(ARTIFACTS / f"layout-tuning-{w}x{h}-{mode}-{name}{i}.png"))
                problems += view_problems(page, i, f"tuning {w}x{h} {mode} {name}#{i}: ")
    set_lecture(page, False)
    assert not problems, "\n".join(problems)

    # JupyterLab's dark theme: figure text light, plot area dark, in every view
    page.evaluate("window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Dark'})")
    page.wait_for_function("document.body.dataset.jpThemeLight === 'false'", timeout=30_000)
    page.set_viewport_size({"width": 1280, "height": 800})
    for i, name in enumerate(names):
        scroll_to_view(page, i)
        wait_settled(page)
        colours = page.evaluate("""(i) => { const v = document.querySelectorAll('.nbtrain-view')[i];
            const f = v.querySelector('.bqplot.figure');
            return {text: getComputedStyle(f.querySelector('.tick text')).fill,
                    title: getComputedStyle(f.querySelector('.mainheading')).fill,
                    area: getComputedStyle(f.querySelector('.plotarea_background')).fill}; }""", i)
        assert luminance(colours["text"]) > 0.6 and luminance(colours["title"]) > 0.6, (name, colours)
        assert luminance(colours["area"]) < 0.3, (name, colours)
        page.screenshot(path=str(ARTIFACTS / f"layout-tuning-dark-{name}{i}.png"))
    page.evaluate("window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Light'})")
    assert console_errors(page) == [], console_errors(page)
    assert outside == [], outside
