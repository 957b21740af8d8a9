"""Layout checks read from the DOM's geometry (``getBoundingClientRect`` in the page), for every nbtrain view
on the page: what a room sees must be readable, whatever the screen.

:func:`layout_problems` returns a list of human-readable problems (empty = fine):

- two figures' boxes intersect, or a figure leaves its view / its output area (cut off);
- a text element of a figure (title, axis label, tick label, legend text) leaves its figure or overlaps
  another one (tick labels running together, a legend over the title, ...);
- an axis label lies inside its plot area (over the data);
- a figure's "PNG" / "SVG" toolbar (nbtrain/ui/figure_tools.py) leaves its figure or lies over one of its
  texts or its plot area;
- a legend lies over a plot area (bqplot draws its legends inside the plot area, over the curves; an
  HTML legend under a figure must stay outside every plot area);
- a text line of a view (the Lab's progress, status, change note and diagnosis findings, an HTML legend)
  is cut off: each of its texts lies inside every box that clips it, or, too long for its line, ends in an
  ellipsis (``text-overflow`` or ``line-clamp`` of the block holding it) and has its whole text in a tooltip;
- a control's label or a tab title is clipped (its text is wider than its box), or the control column
  scrolls sideways.
"""

from __future__ import annotations

from playwright.sync_api import Page

GEOMETRY_JS = r"""
(opts) => {
  const tol = 1.0;
  const problems = [];
  const R = el => el.getBoundingClientRect();
  const shown = el => {
    if (!el.isConnected) return false;
    const r = R(el);
    if (r.width <= 0 || r.height <= 0) return false;
    return el.checkVisibility ? el.checkVisibility({opacityProperty: true, visibilityProperty: true}) : true;
  };
  const overlap = (a, b) => Math.min(a.right, b.right) - Math.max(a.left, b.left) > tol &&
                            Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > tol;
  const inside = (a, b) => a.left >= b.left - tol && a.right <= b.right + tol &&
                           a.top >= b.top - tol && a.bottom <= b.bottom + tol;
  const fmt = r => `[${Math.round(r.left)},${Math.round(r.top)} ${Math.round(r.width)}×${Math.round(r.height)}]`;
  const title = fig => (fig.querySelector('.mainheading')?.textContent || '').trim() || '(untitled)';
  const where = opts.where || '';
  const root = opts.index === undefined ? document : document.querySelectorAll('.nbtrain-view')[opts.index];
  if (!root) return [`${where}no nbtrain view #${opts.index}`];

  const figs = [...root.querySelectorAll('.bqplot.figure')].filter(shown);
  for (let i = 0; i < figs.length; i++) {
    for (let j = i + 1; j < figs.length; j++) {
      if (overlap(R(figs[i]), R(figs[j]))) {
        problems.push(`${where}figures overlap: '${title(figs[i])}' ${fmt(R(figs[i]))} and '${title(figs[j])}' ${fmt(R(figs[j]))}`);
      }
    }
  }
  const checked = [];
  const H = window.innerHeight, W = window.innerWidth;
  figs.forEach((fig, k) => {
    const fr = R(fig), name = title(fig);
    // bqplot re-lays a figure out only while it is on screen: read its drawing once it is wholly in view
    if (opts.onScreen && !(fr.top >= 0 && fr.bottom <= H && fr.left >= 0 && fr.right <= W)) return;
    checked.push(k);
    const view = fig.closest('.nbtrain-view');
    if (view && !inside(fr, R(view))) problems.push(`${where}'${name}' ${fmt(fr)} leaves its view ${fmt(R(view))}`);
    const out = fig.closest('.jp-OutputArea-output, .jp-OutputArea-child');
    if (out && fr.right > R(out).right + tol) problems.push(`${where}'${name}' is cut off at the right (${Math.round(fr.right)} > ${Math.round(R(out).right)})`);
    if (fr.right > document.documentElement.clientWidth + tol) problems.push(`${where}'${name}' leaves the page at the right`);
    const texts = [...fig.querySelectorAll('svg text')].filter(t => t.textContent.trim() && shown(t));
    const rects = texts.map(R);
    texts.forEach((t, i) => {
      if (!inside(rects[i], fr)) problems.push(`${where}'${name}': text '${t.textContent.trim()}' ${fmt(rects[i])} leaves the figure ${fmt(fr)}`);
    });
    for (let i = 0; i < texts.length; i++) {
      for (let j = i + 1; j < texts.length; j++) {
        if (overlap(rects[i], rects[j])) {
          problems.push(`${where}'${name}': texts overlap: '${texts[i].textContent.trim()}' and '${texts[j].textContent.trim()}'`);
        }
      }
    }
    const area = fig.querySelector('.plotarea_background');
    // the figure's toolbar: a sibling in its box, inside the figure, over none of its texts nor the data
    const box = fig.parentElement;
    const tools = box && box.classList.contains('nbtrain-figbox') ? box.querySelector(':scope > .nbtrain-figtools') : null;
    if (tools && shown(tools)) {
      const tr = R(tools);
      if (!inside(tr, fr)) problems.push(`${where}'${name}': its toolbar ${fmt(tr)} leaves the figure ${fmt(fr)}`);
      texts.forEach((t, i) => {
        if (overlap(tr, rects[i])) problems.push(`${where}'${name}': its toolbar ${fmt(tr)} lies over text '${t.textContent.trim()}' ${fmt(rects[i])}`);
      });
      if (area && shown(area) && overlap(tr, R(area))) problems.push(`${where}'${name}': its toolbar ${fmt(tr)} lies over the plot area`);
    }
    if (area && shown(area)) {
      const ar = R(area);
      for (const legend of fig.querySelectorAll('.g_legend')) {
        const names = [...legend.querySelectorAll('text.legendtext')].filter(t => t.textContent.trim() && shown(t))
          .map(t => t.textContent.trim());
        if (names.length && overlap(R(legend), ar)) {
          problems.push(`${where}'${name}': legend (${names.join(', ')}) ${fmt(R(legend))} lies over the plot area ${fmt(ar)}`);
        }
      }
      for (const label of fig.querySelectorAll('.axislabel')) {
        if (label.textContent.trim() && shown(label) && overlap(R(label), ar)) {
          problems.push(`${where}'${name}': axis label '${label.textContent.trim()}' lies inside the plot area`);
        }
      }
      // the first and last tick label of every axis inside the figure (also checked above, named here)
      for (const axis of fig.querySelectorAll('g.axis')) {
        const ticks = [...axis.querySelectorAll('.tick text')].filter(t => t.textContent.trim() && shown(t));
        for (const t of [ticks[0], ticks[ticks.length - 1]].filter(Boolean)) {
          if (!inside(R(t), fr)) problems.push(`${where}'${name}': end tick '${t.textContent.trim()}' outside the figure`);
        }
      }
    }
  });
  // HTML legends outside every plot area (of the figures read above: off screen, a drawing may be stale)
  const areas = figs.filter((f, k) => checked.includes(k))
    .map(f => [title(f), f.querySelector('.plotarea_background')]).filter(([, a]) => a && shown(a));
  for (const legend of root.querySelectorAll('.nbtrain-legend')) {
    if (!shown(legend) || !legend.textContent.trim()) continue;
    for (const [name, a] of areas) {
      if (overlap(R(legend), R(a))) problems.push(`${where}legend '${legend.textContent.trim()}' lies over the plot area of '${name}'`);
    }
  }
  // text lines: every text inside what clips it, or ellipsised with its whole text in a tooltip
  const clips = el => { const s = getComputedStyle(el); return s.overflowX !== 'visible' || s.overflowY !== 'visible'; };
  const blockish = el => /^(block|inline-block|flow-root|list-item|-webkit-box|-webkit-inline-box)$/.test(getComputedStyle(el).display);
  const elides = el => { const s = getComputedStyle(el);
    return blockish(el) && ((s.textOverflow === 'ellipsis' && s.whiteSpace.startsWith('nowrap')) ||
                            (s.webkitLineClamp && s.webkitLineClamp !== 'none')); };
  const LINES = ':is(.nbtrain-lab :is(.nbtrain-progress, .nbtrain-status, .nbtrain-change, .nbtrain-diagnosis), .nbtrain-legend)';
  const viewOf = el => el.closest('.nbtrain-view') || document.documentElement;
  for (const line of root.querySelectorAll(LINES)) {
    if (!shown(line)) continue;
    const walk = document.createTreeWalker(line, NodeFilter.SHOW_TEXT);
    for (let node = walk.nextNode(); node; node = walk.nextNode()) {
      const text = node.textContent.trim(), parent = node.parentElement;
      if (!text || !parent || !shown(parent)) continue;
      const range = document.createRange();
      range.selectNodeContents(node);
      const rects = [...range.getClientRects()].filter(r => r.width > 0 && r.height > 0);
      if (!rects.length) continue;
      // the boxes that clip this text, innermost first, up to the view
      const clippers = [];
      for (let el = parent, top = viewOf(line); el; el = el.parentElement) {
        if (clips(el) || el === top) clippers.push(el);
        if (el === top) break;
      }
      const cutBy = c => rects.some(r => !inside(r, R(c)));
      const cut = clippers.filter(cutBy);
      if (!cut.length) continue;
      const inner = clippers[0];
      let inline = true;
      for (let el = parent; el && el !== inner; el = el.parentElement) if (getComputedStyle(el).display !== 'inline') inline = false;
      const tip = parent.closest('[title]');
      const tipped = tip && line.contains(tip) && tip.getAttribute('title').includes(text.slice(0, 40));
      // an ellipsis shows only where the block that ends in it is itself wholly visible
      const seen = clippers.slice(1).every(c => inside(R(inner), R(c)));
      const elided = cut[0] === inner && seen && inline && elides(inner) && tipped;
      if (!elided) {
        const c = cut[cut.length - 1];
        const wide = Math.round(Math.max(...rects.map(r => r.right)) - Math.min(...rects.map(r => r.left)));
        problems.push(`${where}text '${text.slice(0, 60)}${text.length > 60 ? '…' : ''}' (${wide} px wide) is cut off by ` +
                      `${c.tagName.toLowerCase()}.${[...c.classList].slice(-2).join('.')} (${Math.round(R(c).width)} px)` +
                      `${cut[0] === inner && elides(inner) && !tipped ? ' (ellipsised, no tooltip with its whole text)' : ''}`);
      }
    }
  }
  // controls: labels whole, tab titles whole, no sideways scrolling of the control column
  for (const el of root.querySelectorAll(':is(.widget-label, .lm-TabBar-tabLabel, .widget-label-basic)')) {
    if (!shown(el) || !el.textContent.trim()) continue;
    if (el.scrollWidth > el.clientWidth + 1) problems.push(`${where}label '${el.textContent.trim()}' is clipped (${el.scrollWidth} > ${el.clientWidth} px)`);
  }
  for (const el of root.querySelectorAll('.nbtrain-controls .widget-box, .nbtrain-controls .lm-StackedPanel')) {
    if (shown(el) && el.scrollWidth > el.clientWidth + 1) {
      const right = R(el).left + el.clientWidth;
      const wide = [...el.querySelectorAll('*')].filter(c => shown(c) && R(c).right > right + 1)
        .map(c => `${c.tagName.toLowerCase()}.${[...c.classList].slice(-2).join('.')}`).slice(0, 4);
      problems.push(`${where}the control column scrolls sideways (${el.scrollWidth} > ${el.clientWidth} px: ${wide.join(', ')})`);
    }
  }
  return opts.onScreen ? {problems, checked, total: figs.length} : problems;
}
"""

# A signature of every figure's box and its svg size: stable once bqplot has re-laid out after a resize.
SIGNATURE_JS = r"""
() => [...document.querySelectorAll('.nbtrain-view .bqplot.figure')].map(f => {
  const r = f.getBoundingClientRect(), s = f.querySelector('svg.svg-figure');
  const a = f.querySelector('.plotarea_background');
  return [r.left, r.top, r.width, r.height, s ? s.getAttribute('width') : 0, s ? s.getAttribute('height') : 0,
          a ? a.getBoundingClientRect().width : 0, a ? a.getBoundingClientRect().height : 0]
    .map(Math.round).join(',');
}).join(';')
"""


def wait_settled(page: Page, ms: int = 700, timeout: float = 20_000) -> None:
    """Wait until no figure's box or drawing size changed for ``ms`` milliseconds (bqplot debounces its
    relayout after a resize)."""
    page.evaluate("window.__geo = {sig: null, t: 0}")
    page.wait_for_function(
        f"""() => {{
          const sig = ({SIGNATURE_JS})(), now = performance.now(), g = window.__geo;
          if (sig !== g.sig) {{ g.sig = sig; g.t = now; return false; }}
          return now - g.t >= {ms};
        }}""", polling=100, timeout=timeout)


def layout_problems(page: Page, where: str = "", index: int | None = None) -> list[str]:
    """Problems of view number ``index`` (in document order), or of every view on the page."""
    opts: dict = {"where": where}
    if index is not None:
        opts["index"] = index
    return page.evaluate(GEOMETRY_JS, opts)


def view_problems(page: Page, index: int, where: str = "") -> list[str]:
    """Problems of view ``index``, each of its figures read while wholly on screen (scrolled there in turn)."""
    page.evaluate("(i) => document.querySelectorAll('.nbtrain-view')[i].scrollIntoView({block: 'start'})", index)
    wait_settled(page)
    first = page.evaluate(GEOMETRY_JS, {"where": where, "index": index, "onScreen": True})
    problems, done = list(first["problems"]), set(first["checked"])
    for k in range(first["total"]):
        if k in done:
            continue
        page.evaluate("""([i, k]) => [...document.querySelectorAll('.nbtrain-view')[i].querySelectorAll('.bqplot.figure')]
                           .filter(f => f.getBoundingClientRect().width > 0)[k].scrollIntoView({block: 'center'})""",
                      [index, k])
        wait_settled(page)
        more = page.evaluate(GEOMETRY_JS, {"where": where, "index": index, "onScreen": True})
        new = set(more["checked"]) - done
        problems += [p for p in more["problems"] if p not in problems and ("figures overlap" not in p)]
        done |= new
        if k not in new:
            problems.append(f"{where}figure #{k} never fits the viewport to be read")
    return problems


def in_viewport(page: Page, selector: str) -> dict:
    """The element's box and whether it lies wholly inside the viewport."""
    return page.evaluate(
        """(sel) => {
          const el = [...document.querySelectorAll(sel)].find(e => e.getBoundingClientRect().width > 0);
          if (!el) return {found: false, inside: false};
          const r = el.getBoundingClientRect();
          return {found: true, box: [r.left, r.top, r.right, r.bottom].map(Math.round),
                  inside: r.left >= -1 && r.top >= -1 && r.right <= innerWidth + 1 && r.bottom <= innerHeight + 1};
        }""", selector)
