"""What makes the views readable and steerable, checked on widget state (the browser tests check geometry):
round axes from 0, tick formats per scale, the learning rate's typed value + log slider, the live-change
marker (pending at once, applied at the step boundary), fixed-height findings, the stylesheet in every view,
an aligned results table."""

import math
import re

import bqplot as bq
import numpy as np
import pytest
from ui_helpers import wait_until

import nbtrain as nt
from nbtrain.ui import style
from nbtrain.ui.tuning import search_view


def test_step_axes_start_at_zero_with_few_round_ticks(make_lab):
    lab = make_lab(max_steps=130)
    lab.start()
    lab.wait(timeout=30)
    for name in ("loss", "accuracy", "act_std", "saturation", "grad_norm"):
        ax = lab.figures[name].axes[0]
        assert ax.scale.min == 0.0 and ax.scale.max >= 130, name
        ticks = list(ax.tick_values)
        assert ticks[0] == 0 and len(ticks) <= 5 and ticks[-1] == ax.scale.max, (name, ticks)
        assert all(t == round(t) for t in ticks)
    assert lab.figures["loss"].padding_y == 0.0  # no padding below 0 either (bqplot's default pads 2.5 %)


def test_loss_axis_is_round_from_zero_and_log_axis_uses_decades(make_lab):
    lab = make_lab(max_steps=60)
    lab.start()
    lab.wait(timeout=30)
    y = lab._loss_axis
    top = max(np.nanmax(lab.loss_lines["train"].y), np.nanmax(lab.loss_lines["val"].y))
    assert y.scale.min == 0.0 and y.scale.max >= top and len(y.tick_values) <= 7
    step = np.diff(y.tick_values)
    assert np.allclose(step, step[0])
    mantissa = step[0] / 10 ** math.floor(math.log10(step[0]))
    assert round(mantissa, 6) in (1.0, 2.0, 5.0)  # 1-2-5 spacing: values a lecturer can read aloud
    lab.log_loss.value = True
    assert isinstance(y.scale, bq.LogScale) and y.tick_format in (".2~g", ".0e")
    assert all(t > 0 for t in y.tick_values)
    grad = lab.figures["grad_norm"].axes[1]
    assert len(grad.tick_values) and all(t > 0 for t in grad.tick_values)


def test_axis_formats_follow_the_scale():
    assert style.axis(bq.OrdinalScale(), "hidden").tick_format is None  # "NaNm" otherwise
    assert style.axis(bq.LogScale(), "lr").tick_format == ".0e"
    vertical = style.axis(bq.LinearScale(), "loss", vertical=True)
    assert vertical.label_offset == style.Y_LABEL_OFFSET and not vertical.label_offset.startswith("-")
    assert vertical.num_ticks is None  # bqplot's num_ticks spaces ticks over the raw domain (1.22 0.901 ...)
    assert style.nice_step_ticks(21_700) == (30000.0, [0.0, 10000.0, 20000.0, 30000.0])
    assert style.log_ticks([1e-6, 10.0]) == ([1e-06, 0.0001, 0.01, 1.0], ".0e")  # every 2nd decade of 8
    assert style.log_ticks([0.01, 1.0]) == ([0.01, 0.03, 0.1, 0.3, 1.0], ".2~g")  # 1-3 steps in 2 decades


def test_lr_has_a_typed_value_and_a_log_slider_kept_in_sync(make_lab):
    lab = make_lab(lr=0.05)
    slider, text = lab.controls["lr"], lab.lr_text
    assert slider.description and text.description == "learning rate" and not slider.readout
    assert slider.max - slider.min <= 4 + 1e-9  # at most 4 decades over the column's width
    text.value = 0.0123
    assert lab.config.lr == 0.0123 and abs(slider.value - 0.0123) < 1e-12
    slider.value = 0.2
    assert lab.config.lr == 0.2 and text.value == 0.2
    lab.config.lr = 3e-5  # from code: outside the slider's range, which widens instead of clamping
    assert text.value == 3e-5 and abs(slider.value - 3e-5) < 1e-12 and slider.min <= math.log10(3e-5)
    text.value = -1.0  # refused: the error names it, both controls show the config's value again
    assert lab.config.lr == 3e-5 and text.value == 3e-5 and "lr" in lab.status.value


def test_a_live_change_is_marked_pending_then_applied(make_lab):
    lab = make_lab(max_steps=None, interval=0.02)
    lab.start()
    assert wait_until(lambda: lab.global_step > 5)
    seen = []
    lab.change_note.observe(lambda c: seen.append(c["new"]), names="value")
    lab.controls["lr"].value = 0.2
    assert "pending" in seen[0] and "lr → 0.2" in seen[0]  # set by the observer itself: no wait
    assert wait_until(lambda: "applied at step" in lab.change_note.value)
    assert lab.trainer._in_use["lr"] == 0.2
    lab.config.momentum = 0.5  # from code too
    assert wait_until(lambda: "momentum → 0.5: applied" in lab.change_note.value)
    lab.buttons["pause"].click()
    assert "pause: applied" in lab.change_note.value and lab.state == "paused"
    lab.controls["hidden"].value = "8"  # not live (applies on reset): the status line says so instead
    assert "pause: applied" in lab.change_note.value
    assert wait_until(lambda: "reset" in lab.status.value)


def test_findings_sit_in_a_fixed_height_panel_one_line_each(make_lab):
    lab = make_lab(lr=100.0, activation="identity", max_steps=200)
    lab.start()
    lab.wait(timeout=30)
    lab.publish(force=True)
    assert "nbtrain-diagnosis" in lab.diagnosis._dom_classes
    assert re.search(r"<div class='nbtrain-finding' title='[^']+'>", lab.diagnosis.value)
    assert "height: 44px" in style.CSS.split(".nbtrain-lab .nbtrain-diagnosis {")[1].split("}")[0]
    assert lab.diagnosis.value.count("nbtrain-finding") <= 2  # two lines at most: none hidden below them
    # a long finding wraps or ends in an ellipsis, never cut at the right edge (tests/browser/geometry.py)
    assert "line-clamp" in style.CSS.split(".nbtrain-lab .nbtrain-diagnosis .nbtrain-finding {")[1].split("}")[0]


def test_legends_sit_under_their_figures_never_over_the_curves(make_lab):
    lab = make_lab(hidden=[8, 8], max_steps=20)
    lab.start()
    lab.wait(timeout=30)
    lab.publish(force=True)
    for fig in lab.figures.values():
        assert not any(getattr(m, "display_legend", False) for m in fig.marks), fig.title
    loss, legend = lab.legends["loss"]
    assert loss is lab.figures["loss"] and "nbtrain-legend" in legend._dom_classes
    assert lab.figure_cells["loss"].children == (lab.figure_boxes["loss"], legend)  # the figure with its toolbar
    assert lab.figure_boxes["loss"].figure is loss
    assert "train" in legend.value and "nbtrain-swatch-dashed" in legend.value  # val: dashed, as drawn
    layers = lab.legends["act_std"][1].value
    assert all(name in layers for name in lab.marks["act_std"].labels) and len(lab.marks["act_std"].labels) >= 2
    assert all(c in layers for c in lab.marks["act_std"].colors)  # the layers' own colours
    assert "<b>" not in style.legend_html([bq.Lines(labels=["<b>x</b>"])])  # labels are escaped


def test_every_view_carries_the_stylesheet_and_the_view_classes(make_lab):
    lab = make_lab()
    t = nt.Trainer(data="xor", hidden=[4], max_steps=10)
    t.start().wait()
    views = [lab, nt.compare([t], live=False), nt.demos.zigzag("sigmoid", "tanh", steps=20)]
    try:
        for v in views:
            assert "nbtrain-view" in v._dom_classes
            css = [c for c in v.children if "nbtrain-css" in getattr(c, "_dom_classes", ())]
            assert css and css[0].value.startswith("<style>") and ".nbtrain-lecture" in css[0].value
        assert "nbtrain-demo" in views[2]._dom_classes  # lecture mode reaches the demos
    finally:
        for v in views[1:]:
            v.close()
        t.close()


def test_search_view_log_axis_has_a_domain_before_any_trial_and_an_aligned_table():
    s = nt.search.grid({"lr": nt.search.loguniform(0.01, 1.0), "hidden": nt.search.choice([8], [16])},
                       points=2, data="moons", max_steps=20, executor="sequential", wait=False)
    v = search_view(s)
    try:
        xs = v.scatter_figures["lr"].axes[0]
        assert xs.scale.min < 0.01 and xs.scale.max > 1.0  # an empty log scale draws no axis at all
        assert list(xs.tick_values) == [0.01, 0.03, 0.1, 0.3, 1.0] and xs.tick_format == ".2~g"
        assert v.scatter_figures["hidden"].axes[0].tick_format is None  # categories, not "NaNm"
        s.wait()
        v.refresh()
        assert "class=\"dataframe nbtrain-table\"" in v.table.value
        assert "<th class='nbtrain-left'>hidden</th>" in v.table.value and "<td class='nbtrain-left'>[8]</td>" in v.table.value
    finally:
        v.close()


@pytest.mark.parametrize("lo,hi", [(0.0123, 1.22), (-3.5, 7.1), (1e-4, 2e-4), (5.0, 5.0)])
def test_nice_ticks_cover_the_values_with_round_steps(lo, hi):
    a, b, ticks = style.nice_ticks(lo, hi, 5)
    assert a <= lo and b >= hi and ticks[0] == a and ticks[-1] == b and 2 <= len(ticks) <= 6
    step = np.diff(ticks)
    assert np.allclose(step, step[0])
