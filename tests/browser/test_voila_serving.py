"""A visitor's view of a served notebook: the README's recommended Voilà launch serving a Lab and the schedule
gallery, driven in a real browser. Escape payloads typed into the formula box never run (no marker file),
markup typed into text boxes is shown as text (no element, no script), sizes beyond the budget are refused,
and nothing shown carries a server path."""

from __future__ import annotations

from pages import ARTIFACTS, install

XSS = "<img src=x onerror=\"window.__pwned=1\">"


def _text_box(page, label: str):
    return page.locator(".widget-text", has=page.locator(f"label:text-is('{label}')")).locator("input").first


def _type(page, box, text: str) -> None:
    box.fill(text)
    box.press("Enter")


def test_visitor_payloads_never_run_in_the_served_page(page, voila_served):
    marker = voila_served.root / "pwned"
    install(page)
    page.goto(f"{voila_served.url}/?token={voila_served.token}", timeout=120_000)
    page.wait_for_selector(".nbtrain-lab .nbtrain-plots .bqplot .mainheading", timeout=120_000)
    fn = _text_box(page, "fn(t) =")
    fn.wait_for(timeout=60_000)

    # code: the formula box takes the expression language only
    for payload in (f"[c for c in ().__class__.__base__.__subclasses__() if c.__name__=='Popen'][0](['touch','{marker}']).wait()",
                    f"__import__('os').system('touch {marker}')",
                    "9**9**9**9"):
        _type(page, fn, payload)
        page.wait_for_function("() => [...document.querySelectorAll('.widget-html')].some("
                               "e => /not allowed|fails at/.test(e.textContent))", timeout=30_000)
    assert not marker.exists()
    _type(page, fn, "0.5 ** (t // 50)")  # the formula still works for what it is for
    page.wait_for_function("() => ![...document.querySelectorAll('.widget-html')].some("
                           "e => /not allowed|fails at/.test(e.textContent))", timeout=30_000)

    # markup: shown as text in the gallery's and the Lab's status lines
    _type(page, _text_box(page, "boundaries"), XSS)
    page.wait_for_function("() => [...document.querySelectorAll('.widget-html')].some("
                           "e => e.textContent.includes('<img src=x'))", timeout=30_000)
    lab_hidden = page.locator(".nbtrain-lab .nbtrain-control-hidden input").first
    page.click(".nbtrain-lab .nbtrain-controls .lm-TabBar-tab:has-text('model')")
    _type(page, lab_hidden, XSS)
    page.wait_for_function("() => document.querySelector('.nbtrain-lab .nbtrain-status').textContent.includes('<img')",
                           timeout=30_000)
    page.wait_for_timeout(500)
    assert page.evaluate("window.__pwned") is None
    assert page.locator(".widget-html img, .nbtrain-status img").count() == 0

    # a size beyond the budget: refused, named, nothing allocated
    _type(page, lab_hidden, "65536, 65536")
    page.wait_for_function("() => document.querySelector('.nbtrain-lab .nbtrain-status').textContent"
                           ".includes('resource budget')", timeout=30_000)
    assert lab_hidden.input_value() == "8"

    page.screenshot(path=str(ARTIFACTS / "voila-served-payloads.png"), full_page=True)
    text = page.locator("body").inner_text()
    assert str(voila_served.root) not in text and "/tmp/" not in text
    assert not marker.exists()
    assert [m for m in page.console_messages if m.startswith("pageerror")] == []
