"""The same smoke test in the two other front ends: Notebook 7 (with and without the nbtrain extension) and
Voilà's standalone app mode (which has no JupyterLab extensions at all). The Lab widget must render from the
quickstart and its run/pause/reset buttons must drive the live loss curve in every one of them."""

from __future__ import annotations

import pytest
from geometry import view_problems, wait_settled
from pages import (
    ARTIFACTS,
    error_outputs,
    install,
    loss_points,
    run_all,
    wait_all_executed,
    wait_app,
    wait_kernel_idle,
    wait_loss_grows,
    wait_loss_stable,
    watch_requests,
)

NBTRAIN_PLUGINS = ("nbtrain:kernels", "nbtrain:lecture", "nbtrain:transport", "nbtrain:status", "nbtrain:launcher")


# Console errors that are not nbtrain's, logged with nbtrain's extension enabled or disabled alike: Notebook 7's
# own lab-extension under Voilà and Notebook 7 ("reading 'schema'", a shared module Voilà does not provide).
# Voilà runs with nbtrain's template (no CDN request), and the kernel opens no comm a page could refuse.
THIRD_PARTY_ERRORS = ("reading 'schema'", "The getter for the shared module is not a function")


def check_narrow_screen(page, where: str, outside: list[str]) -> None:
    """At 800×900 (a laptop split screen, a small projector) the Lab's figures, texts and labels are whole
    and apart (tests/browser/geometry.py); the page logged no error and asked no outside host for anything."""
    page.set_viewport_size({"width": 800, "height": 900})
    wait_settled(page)
    problems = view_problems(page, 0, f"{where} 800x900: ")
    page.screenshot(path=str(ARTIFACTS / f"layout-{where}-800x900.png"))
    assert not problems, "\n".join(problems)
    errors = [m for m in page.console_messages if m.startswith(("error:", "pageerror:"))
              and not any(known in m for known in THIRD_PARTY_ERRORS)]
    assert errors == [], errors
    assert outside == [], outside


def drive_lab_buttons(page) -> None:
    """reset empties the loss curve, run makes it grow, pause stops it."""
    assert loss_points(page) > 10  # the quickstart trained already
    page.click(".nbtrain-lab .nbtrain-reset")
    page.wait_for_function("window.__nbt.lossPoints() === 0")
    page.click(".nbtrain-lab .nbtrain-play")
    wait_loss_grows(page)
    page.click(".nbtrain-lab .nbtrain-pause")
    wait_loss_stable(page)


@pytest.mark.parametrize("extension", ["enabled", "disabled"])
def test_notebook7_runs_the_quickstart(page, tmp_path, extension, request):
    server = request.getfixturevalue("jupyter_notebook_disabled" if extension == "disabled" else "jupyter_notebook")
    outside = watch_requests(page)
    install(page)
    page.goto(f"{server.url}/notebooks/00-quickstart.ipynb?token={server.token}")
    wait_app(page)
    activated = set(page.evaluate(f"{list(NBTRAIN_PLUGINS)}.filter(id => window.jupyterapp.isPluginActivated(id))"))
    if extension == "enabled":  # (Notebook 7 has no launcher or status bar: those plugins then do nothing)
        assert {"nbtrain:kernels", "nbtrain:lecture", "nbtrain:transport"} <= activated
    else:
        assert activated == set()
    wait_kernel_idle(page)
    run_all(page)
    page.wait_for_selector(".nbtrain-lab .nbtrain-plots .bqplot .mainheading")
    wait_all_executed(page)
    assert error_outputs(page) == []
    drive_lab_buttons(page)
    page.screenshot(path=str(ARTIFACTS / f"notebook7-extension-{extension}.png"))
    check_narrow_screen(page, f"notebook7-extension-{extension}", outside)


def test_voila_renders_the_quickstart_as_an_app(page, voila):
    outside = watch_requests(page)
    install(page)
    page.goto(f"{voila.url}/?token={voila.token}", timeout=120_000)
    page.wait_for_selector(".nbtrain-lab .nbtrain-plots .bqplot .mainheading", timeout=120_000)
    page.wait_for_function("window.__nbt.lossPoints() > 10", timeout=120_000)
    assert page.locator(".jp-OutputArea-output pre:has-text('Traceback')").count() == 0
    assert page.locator(".jp-InputArea .cm-content, .jp-InputArea pre").locator("visible=true").count() == 0  # app mode: no code
    drive_lab_buttons(page)
    page.screenshot(path=str(ARTIFACTS / "voila-quickstart.png"), full_page=False)
    check_narrow_screen(page, "voila", outside)
