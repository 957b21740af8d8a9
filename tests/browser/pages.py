"""What the browser tests read from and do to a page: the Lab widget's DOM (``nbtrain-*`` classes from
``nbtrain/ui/lab.py``) and JupyterLab/Notebook 7 through ``window.jupyterapp`` (``expose_app_in_browser``).

Every wait is a ``wait_for_function`` on the page: no fixed sleeps. Proving that something *stopped*
needs an observation window, so :func:`wait_loss_stable` waits until the loss curve has not changed for
``ms`` milliseconds (while training it changes at every publish, ≈ 10 per second).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from playwright.sync_api import Page

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts" / "browser"  # git-ignored: screenshots and server logs

# The first figure of the Lab's plot grid is "loss"; its first line mark is the training loss.
JS_LIB = """
window.__nbt = {
  lossFigure() {
    for (const fig of document.querySelectorAll('.nbtrain-lab .nbtrain-plots .bqplot')) {
      const title = fig.querySelector('.mainheading');
      if (title && title.textContent.trim() === 'loss') return fig;
    }
    return null;
  },
  lossPath() {
    const fig = this.lossFigure();
    return fig ? fig.querySelector('path.line') : null;
  },
  /** points of the training-loss line (bqplot draws one 'M' then an 'L' per point) */
  /** -1 without a loss figure; bqplot drops the path element of an empty line */
  lossPoints() {
    if (!this.lossFigure()) return -1;
    const p = this.lossPath();
    if (!p) return 0;
    const d = p.getAttribute('d') || '';
    return d ? d.split(/[ML]/).length - 1 : 0;
  },
  lossD() {
    const p = this.lossPath();
    return p ? p.getAttribute('d') || '' : null;
  },
  /** live-change markers (the triangle Scatter of the loss figure) */
  markers() {
    const fig = this.lossFigure();
    return fig ? fig.querySelectorAll('.object_grp .dot').length : -1;
  },
  grows() {
    const n = this.lossPoints();
    if (n <= 0) return false;
    if (this.n0 === undefined) { this.n0 = n; return false; }
    return n > this.n0;
  },
  stable(ms) {
    const d = this.lossD();
    const now = performance.now();
    if (d !== this.d0) { this.d0 = d; this.t0 = now; return false; }
    return now - this.t0 >= ms;
  },
  changes() {
    const d = this.lossD();
    if (this.d1 === undefined) { this.d1 = d; return false; }
    return d !== this.d1;
  },
  reset() { delete this.n0; delete this.d0; delete this.t0; delete this.d1; }
};
"""


def install(page: Page) -> None:
    """Make ``window.__nbt`` available now and after every navigation."""
    page.add_init_script(JS_LIB)
    if page.url.startswith("http"):
        page.evaluate(JS_LIB)


def loss_points(page: Page) -> int:
    return page.evaluate("window.__nbt.lossPoints()")


def markers(page: Page) -> int:
    return page.evaluate("window.__nbt.markers()")


def wait_loss_grows(page: Page, timeout: float = 30_000) -> None:
    """Wait until the training-loss line has more points than when first seen non-empty."""
    page.evaluate("window.__nbt.reset()")
    page.wait_for_function("window.__nbt.grows()", polling="raf", timeout=timeout)


def wait_loss_changes(page: Page, timeout: float = 30_000) -> None:
    page.evaluate("window.__nbt.reset()")
    page.wait_for_function("window.__nbt.changes()", polling=50, timeout=timeout)


def wait_loss_stable(page: Page, ms: int = 1500, timeout: float = 20_000) -> None:
    page.evaluate("window.__nbt.reset()")
    page.wait_for_function(f"window.__nbt.stable({ms})", polling=100, timeout=timeout)


# ---- JupyterLab / Notebook 7 through window.jupyterapp ----------------------------------------------
CURRENT = "window.jupyterapp.shell.currentWidget"


def wait_app(page: Page, timeout: float = 90_000) -> None:
    page.wait_for_function("!!(window.jupyterapp && window.jupyterapp.started)", timeout=timeout)
    page.evaluate("window.jupyterapp.started")


def wait_kernel_idle(page: Page, timeout: float = 90_000) -> None:
    page.wait_for_function(f"{CURRENT}?.sessionContext?.session?.kernel?.status === 'idle'", timeout=timeout)


def run_all(page: Page) -> None:
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")


def wait_all_executed(page: Page, timeout: float = 180_000) -> None:
    """Every code cell has an execution count and the kernel is idle again."""
    page.wait_for_function(
        f"""() => {{
          const nb = {CURRENT};
          return nb.sessionContext.session.kernel.status === 'idle' &&
            nb.content.widgets.every(c => c.model.type !== 'code' || c.model.executionCount);
        }}""", timeout=timeout, polling=200)


def error_outputs(page: Page) -> list[str]:
    return page.evaluate(
        f"""() => {CURRENT}.content.widgets.filter(c => c.model.type === 'code').flatMap(c =>
              c.model.outputs.toJSON().filter(o => o.output_type === 'error').map(o => o.ename + ': ' + o.evalue))""")


def append_and_run(page: Page, source: str, timeout: float = 60_000) -> None:
    """Add a code cell at the end of the notebook, run it and wait for it to finish."""
    page.evaluate(
        f"""async (source) => {{
          const app = window.jupyterapp, nb = {CURRENT};
          nb.content.activeCellIndex = nb.content.widgets.length - 1;
          await app.commands.execute('notebook:insert-cell-below');
          await app.commands.execute('notebook:change-cell-to-code');
          nb.content.activeCell.model.sharedModel.setSource(source);
          await app.commands.execute('notebook:run-cell');
        }}""", source)
    page.wait_for_function(
        f"""() => {{
          const nb = {CURRENT}, cell = nb.content.widgets[nb.content.widgets.length - 1];
          return cell.model.type === 'code' && !!cell.model.executionCount &&
            nb.sessionContext.session.kernel.status === 'idle';
        }}""", timeout=timeout, polling=100)


def watch_requests(page) -> list[str]:
    """URLs of requests to any host but the test server's (icon fonts from a CDN, news feeds, ...)."""
    outside: list[str] = []

    def on_request(req) -> None:
        url = urlparse(req.url)
        if url.scheme in ("http", "https", "ws", "wss") and url.hostname not in ("127.0.0.1", "localhost"):
            outside.append(req.url)

    page.on("request", on_request)
    return outside
