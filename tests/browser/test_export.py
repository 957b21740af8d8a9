"""Lab.export(): the HTML file opens in Chromium without a kernel or a network and draws the curves."""

from __future__ import annotations

from pages import ARTIFACTS

import nbtrain as nt


def test_exported_run_opens_offline_and_draws_the_curves(page, tmp_path):
    lab = nt.Lab(data="spiral", hidden=[16], n_samples=300, lr=0.3, seed=0, max_steps=200, eval_every=20,
                 interval=0.05)
    try:
        lab.step(100).wait()
        branch_free_label = lab.config.activation
        branch = lab.fork(lr=0.02)  # a "what if" from step 100, overlaid dashed on the same plots
        lab.config.activation = "tanh"
        lab.step(100).wait()
        branch.step(100).wait()
        path = lab.export(tmp_path / "run.html")
    finally:
        lab.close()
        lab.trainer.close()
    requests: list[str] = []
    failed: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("requestfailed", lambda r: failed.append(r.url))
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"file://{path}")
    # the loss figure's train line is drawn with one point per logged step (200), decimated at most to 1000
    page.wait_for_function("""() => {
        for (const fig of document.querySelectorAll('.bqplot')) {
            const t = fig.querySelector('.mainheading');
            if (t && t.textContent.trim() === 'loss') {
                const p = fig.querySelector('path.line');
                return p && (p.getAttribute('d') || '').split(/[ML]/).length - 1 >= 150;
            }
        }
        return false;
    }""", timeout=60_000)
    titles = page.eval_on_selector_all(".bqplot .mainheading", "els => els.map(e => e.textContent.trim())")
    assert "loss" in titles and "accuracy" in titles
    # the legend rows under the figures (never over the curves); the fork's key names what differs
    legend = page.eval_on_selector_all(".nbtrain-legend .nbtrain-key", "els => els.map(e => e.textContent.trim())")
    assert "lr=0.02 @100" in legend and "train" in legend, legend
    assert page.eval_on_selector_all(".bqplot .g_legend text.legendtext", "els => els.length") == 0
    page.screenshot(path=str(ARTIFACTS / "export-run.png"), full_page=True)
    assert not [u for u in requests if not u.startswith(("file:", "data:", "blob:"))], requests  # nothing online
    # only the icon font files the widget bundle refers to relatively are missing (icons are not used)
    assert all(u.rsplit(".", 1)[-1] in ("woff", "woff2", "ttf", "eot", "svg") for u in failed), failed
    errors = [m for m in page.console_messages if m.startswith(("error", "pageerror"))
              and "Failed to load resource" not in m]
    assert not errors, errors
    assert branch_free_label != "tanh" and "tanh" in page.content()
