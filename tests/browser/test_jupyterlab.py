"""JupyterLab end to end: the README's lab command (``jupyter lab``) with the nbtrain extension, the quickstart
run top to bottom, then every part of the extension driven as a lecturer would (mouse and keyboard).

One test on purpose: starting the server, the browser page and a kernel that imports torch is most of the
cost, and each step needs the state the previous one left.
"""

from __future__ import annotations

import time

from pages import (
    ARTIFACTS,
    CURRENT,
    append_and_run,
    error_outputs,
    install,
    loss_points,
    markers,
    run_all,
    wait_all_executed,
    wait_app,
    wait_kernel_idle,
    wait_loss_changes,
    wait_loss_grows,
    wait_loss_stable,
)
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

STATUS = ".nbtrain-statusbar"
NBTRAIN_PLUGINS = ("nbtrain:kernels", "nbtrain:lecture", "nbtrain:transport", "nbtrain:status", "nbtrain:launcher")


def status_state(page) -> str | None:
    return page.get_attribute(STATUS, "data-state")


def wait_status(page, state: str, timeout: float = 15_000) -> None:
    page.wait_for_function(f"document.querySelector('{STATUS}')?.dataset.state === '{state}'", timeout=timeout)


def focus_notebook(page) -> None:
    """Command mode on the last cell, focus inside `.jp-Notebook` (where the transport shortcuts live)."""
    page.evaluate(f"{CURRENT}.content.activate()")
    page.keyboard.press("Escape")


def test_lab_extension_drives_the_quickstart(page, jupyter_lab):
    timings: dict[str, float] = {}
    t0 = time.perf_counter()

    def mark(name: str) -> None:
        timings[name] = round(time.perf_counter() - t0, 1)

    install(page)
    page.goto(f"{jupyter_lab.url}/lab/tree/00-quickstart.ipynb?token={jupyter_lab.token}")
    wait_app(page)
    active = page.evaluate(f"{list(NBTRAIN_PLUGINS)}.filter(id => !window.jupyterapp.isPluginActivated(id))")
    assert active == [], f"nbtrain plugins not activated: {active}"
    wait_kernel_idle(page)
    mark("lab open, kernel idle")

    # --- the quickstart top to bottom ---------------------------------------------------------------------
    run_all(page)
    page.wait_for_selector(".nbtrain-lab .nbtrain-plots .bqplot .mainheading")
    wait_all_executed(page)
    mark("run all cells")
    assert error_outputs(page) == []
    assert loss_points(page) > 10
    page.screenshot(path=str(ARTIFACTS / "lab-quickstart-run-all.png"))

    # a fresh, long run of the Lab's trainer; the comparison's trainers are closed so the Lab's is the only one
    append_and_run(page, "for t in (before, after):\n    t.close()\nlab.config.max_steps = 1_000_000\n_ = lab.reset()  # (a Lab as the last value would be displayed again)")
    page.wait_for_function("window.__nbt.lossPoints() === 0")
    wait_status(page, "idle")  # the status bar item follows the kernel's trainer over the comm
    assert page.get_attribute(STATUS, "data-trainers") == "1"

    # --- the Lab's own buttons: the curve grows while running, pause stops it ----------------------------
    page.click(".nbtrain-lab .nbtrain-play")
    wait_loss_grows(page)
    wait_status(page, "running")
    text = page.text_content(STATUS)
    assert "running" in text and "step" in text and "loss" in text and "cpu" in text, text
    mark("run button: loss curve grows")

    # a live change of the activation adds a change marker to the loss plot
    before = markers(page)
    page.click(".nbtrain-lab .nbtrain-controls .lm-TabBar-tab:has-text('model')")
    page.locator(".nbtrain-lab .nbtrain-control-activation select").locator("visible=true").select_option("tanh")
    page.wait_for_function(f"window.__nbt.markers() > {before}")
    mark("activation change: marker")
    page.screenshot(path=str(ARTIFACTS / "lab-running-statusbar.png"))

    page.click(".nbtrain-lab .nbtrain-pause")
    wait_status(page, "paused")
    wait_loss_stable(page)
    mark("pause button: curve stops")

    # --- keyboard transport: Alt+P plays and pauses the active notebook's trainer --------------------------
    focus_notebook(page)
    page.keyboard.press("Alt+p")
    wait_status(page, "running")
    wait_loss_changes(page)
    page.keyboard.press("Alt+p")
    wait_status(page, "paused")
    wait_loss_stable(page)
    mark("Alt+P: play, pause")

    # --- the status bar item: a click toggles pause ---------------------------------------------------------
    page.click(STATUS)
    wait_status(page, "running")
    page.click(STATUS)
    wait_status(page, "paused")
    wait_loss_stable(page)
    mark("status bar click: play, pause")

    # --- the other transport keys: Alt+N steps (10 by default), Alt+I re-initialises, Alt+0 resets ------------
    step0 = int(page.get_attribute(STATUS, "data-step"))
    focus_notebook(page)
    page.keyboard.press("Alt+n")
    page.wait_for_function(f"document.querySelector('{STATUS}').dataset.step === '{step0 + 10}'")
    wait_status(page, "paused")
    before = markers(page)
    page.keyboard.press("Alt+i")
    page.wait_for_function(f"window.__nbt.markers() > {before}")  # the re-init is marked on the curve
    page.keyboard.press("Alt+0")
    page.wait_for_function(f"document.querySelector('{STATUS}').dataset.step === '0'")
    page.wait_for_function("window.__nbt.lossPoints() === 0")
    page.keyboard.press("Alt+n")  # a few points again, for lecture mode to restyle
    page.wait_for_function("window.__nbt.lossPoints() >= 5")
    mark("Alt+N step, Alt+I re-init, Alt+0 reset")

    # --- lecture mode from the View menu, remembered in the settings, off again with Alt+L ------------------
    def line_width() -> float:
        return page.evaluate("parseFloat(getComputedStyle(window.__nbt.lossPath()).strokeWidth)")

    def lab_font() -> float:
        return page.evaluate("parseFloat(getComputedStyle(document.querySelector('.nbtrain-lab')).fontSize)")

    width0, font0 = line_width(), lab_font()
    page.click(".lm-MenuBar-itemLabel:text-is('View')")
    page.click(".lm-Menu-itemLabel:text-is('nbtrain: Lecture Mode')")
    page.wait_for_function("document.body.classList.contains('nbtrain-lecture')")
    assert line_width() >= 2 * width0, (width0, line_width())
    assert lab_font() > 1.3 * font0, (font0, lab_font())
    # remembered: the server's copy of the settings says so (and so does the file it wrote)
    page.wait_for_function(
        "async () => (await window.jupyterapp.serviceManager.settings.fetch('nbtrain:lecture')).settings"
        "?.lectureMode === true", polling=200)
    saved = jupyter_lab.settings_dir / "nbtrain" / "lecture.jupyterlab-settings"
    assert '"lectureMode": true' in saved.read_text()  # JSON5 with comments
    # bqplot re-lays its figures out for the bigger grid cells once they are in view
    page.locator(".nbtrain-lab .nbtrain-plots").scroll_into_view_if_needed()
    page.wait_for_function("""() => Array.from(document.querySelectorAll('.nbtrain-lab .nbtrain-plots .bqplot'))
        .filter(f => f.getBoundingClientRect().bottom < window.innerHeight)
        .every(f => { const a = f.querySelector('.plotarea_background');
                      return a && a.getBoundingClientRect().width >= 0.7 * f.getBoundingClientRect().width; })""")
    page.screenshot(path=str(ARTIFACTS / "lab-lecture-mode.png"))
    focus_notebook(page)
    page.keyboard.press("Alt+l")
    page.wait_for_function("!document.body.classList.contains('nbtrain-lecture')")
    assert abs(line_width() - width0) < 0.01
    mark("lecture mode: on (menu), off (Alt+L)")

    # --- a reloaded page finds the kernel's trainer again (the extension opens the comm itself) ---------------
    page.reload()
    wait_app(page)
    wait_status(page, "paused", timeout=30_000)  # (after the last Alt+N)
    assert page.get_attribute(STATUS, "data-trainers") == "1"
    mark("page reload: status bar reconnects")

    # --- launcher cards copy a bundled notebook into the launcher's folder and open it ---------------------
    (jupyter_lab.root / "lecture").mkdir()
    # after the reload's layout restoration, made current; a launcher restored with the layout may exist too:
    # use the one just opened
    launcher_id = page.evaluate("""async () => {
        const app = window.jupyterapp;
        await app.restored;
        const launcher = await app.commands.execute('launcher:create', {cwd: 'lecture'});
        app.shell.activateById(launcher.id);
        return launcher.id;
    }""")
    card = page.locator(f"[id='{launcher_id}'] .jp-Launcher-section:has(.jp-Launcher-sectionTitle:text-is('nbtrain')) "
                        ".jp-LauncherCard")
    card.first.wait_for()
    assert card.count() == len(list(jupyter_lab.root.glob("*.ipynb"))), \
        "one card per notebook: a stale build? (`make install` rebuilds the extension when notebooks change)"
    # the reloaded notebook may take the main area back once more (its late activation): make the launcher
    # current again before each try
    for attempt in range(5):
        page.wait_for_function("""id => { const shell = window.jupyterapp.shell;
            if (shell.currentWidget?.id !== id) { shell.activateById(id); }
            return shell.currentWidget?.id === id; }""", arg=launcher_id, polling=200, timeout=30_000)
        if attempt == 0:
            page.screenshot(path=str(ARTIFACTS / "lab-launcher.png"))
        try:
            card.nth(1).click(timeout=5_000)
            break
        except PlaywrightTimeoutError:
            if attempt == 4:
                raise
    page.wait_for_function(f"{CURRENT}?.context?.path === 'lecture/01-activations.ipynb'")
    assert (jupyter_lab.root / "lecture" / "01-activations.ipynb").exists()
    mark("launcher card: copied and opened")
    print("timings (s):", timings)
