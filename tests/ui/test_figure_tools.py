"""Every figure's "PNG" / "SVG" toolbar (nbtrain/ui/figure_tools.py): in the Lab, compare, the tuning views and
the demos; a click delivered as a browser would send it makes bqplot's save message go to that figure with a
file name the kernel chose (the page cannot choose it); the buttons are guarded like the Lab's other controls."""

import bqplot as bq
import ipywidgets as widgets
import numpy as np
import pytest

import nbtrain as nt
from nbtrain.demos._view import DemoView
from nbtrain.ui.figure_tools import FigureBox, add_toolbars
from nbtrain.ui.guard import click_from_page, update_from_page
from nbtrain.ui.util import all_widgets


def saves(sent, fig):
    """The bqplot save messages ``fig`` sent (its custom messages of type save_png / save_svg)."""
    return [m["content"] for w, m in sent if w is fig and m.get("method") == "custom"
            and m["content"].get("type", "").startswith("save_")]


def boxes_in(view):
    return [w for w in all_widgets([view]) if isinstance(w, FigureBox)]


def test_every_lab_figure_has_a_toolbar_in_the_lab(make_lab):
    lab = make_lab(max_steps=50, interval=60)
    shown = boxes_in(lab)
    assert set(lab.figures) == set(lab.figure_boxes)  # loss, accuracy, boundary, per-layer, schedule preview
    for key, fig in lab.figures.items():
        box = lab.figure_boxes[key]
        assert box.figure is fig and box in shown and fig in box.children
        assert [b.description for b in box.buttons.values()] == ["PNG", "SVG"]
        assert [b.tooltip for b in box.buttons.values()] == ["save this figure as PNG", "save this figure as SVG"]
        assert all(b.layout.width == "auto" for b in box.buttons.values())  # compact
        assert "nbtrain-figtools" in box.children[1]._dom_classes
    # the plot grid holds the boxes, a figure with a legend in its cell over its legend row (the stylesheet's
    # lecture order goes by their classes)
    assert list(lab._plot_grid.children)[0] is lab.figure_cells["loss"]
    assert lab.figure_cells["loss"].children[0] is lab.figure_boxes["loss"]
    assert list(lab._plot_grid.children)[2] is lab.figure_boxes["boundary"]
    assert "nbtrain-figbox-loss" in lab.figure_boxes["loss"]._dom_classes
    # the image panels' figures have theirs too (shown in the boundary's place for image data)
    assert {k: b.figure for k, b in lab.image_panels.figure_boxes.items()} == lab.image_panels.figures
    assert all(b in lab.image_panels.panels for b in lab.image_panels.figure_boxes.values())


@pytest.mark.parametrize("fmt", ["png", "svg"])
def test_a_click_sends_the_save_message_with_the_servers_file_name(make_lab, sent, fmt):
    lab = make_lab(max_steps=50, interval=60)
    lab.step(7).wait()
    assert lab.global_step == 7
    for key in ("loss", "boundary", "schedule", "grad_norm"):
        fig, box = lab.figures[key], lab.figure_boxes[key]
        click_from_page(box.buttons[fmt])
        name = f"nbtrain-{key.replace('_', '-')}-step7.{fmt}"
        expected = {"type": "save_png", "filename": name, "scale": 2.0} if fmt == "png" else \
            {"type": "save_svg", "filename": name}
        assert saves(sent, fig) == [expected]
        assert box.saved == [name]
    # nothing went to the other figures
    assert saves(sent, lab.figures["accuracy"]) == []


def test_the_page_cannot_choose_the_file_name_and_a_disabled_button_does_nothing(make_lab, sent):
    lab = make_lab(max_steps=50, interval=60)
    box = lab.figure_boxes["loss"]
    png = box.buttons["png"]
    assert png._nbtrain_guarded and box.buttons["svg"]._nbtrain_guarded  # the guard of every Lab control
    update_from_page(png, {"description": "/etc/passwd", "tooltip": "x", "disabled": True})
    assert png.description == "PNG" and not png.disabled
    # a click message carrying a file name of its own: the kernel's name is used
    png._handle_msg({"content": {"data": {"method": "custom", "content": {"event": "click",
                                                                         "filename": "../../evil.sh"}}}, "buffers": []})
    assert [m["filename"] for m in saves(sent, lab.figures["loss"])] == ["nbtrain-loss-step0.png"]
    png.disabled = True
    click_from_page(png)
    assert len(saves(sent, lab.figures["loss"])) == 1


def test_lab_save_figure_is_the_toolbar_from_python(make_lab, sent):
    lab = make_lab(max_steps=50, interval=60)
    assert lab.save_figure("accuracy", "svg") == "nbtrain-accuracy-step0.svg"
    assert saves(sent, lab.figures["accuracy"]) == [{"type": "save_svg", "filename": "nbtrain-accuracy-step0.svg"}]
    assert lab.save_figure("confusion") == "nbtrain-confusion-step0.png"  # an image panel's figure
    with pytest.raises(ValueError, match="the Lab's figures: schedule, loss"):
        lab.save_figure("nope")
    with pytest.raises(ValueError, match="png, svg"):
        lab.save_figure("loss", "pdf")


def test_compare_figures_have_toolbars_named_by_the_longest_run(sent):
    a = nt.Trainer(data="moons", hidden=[8], n_samples=200, seed=0, device="cpu", max_steps=12)
    b = nt.Trainer(data="moons", hidden=[8], n_samples=200, seed=0, device="cpu", max_steps=5, lr=0.5)
    try:
        for t in (a, b):
            t.start()
            t.wait(timeout=30)
        view = nt.compare([a, b], live=False)
        assert [bx.figure for bx in view.figure_boxes] == list(view.figures.values())
        assert set(boxes_in(view)) == set(view.figure_boxes)
        loss = view.figure_boxes[0]
        click_from_page(loss.buttons["png"])
        assert saves(sent, view.figures["loss"]) == [
            {"type": "save_png", "filename": "nbtrain-compare-loss-step12.png", "scale": 2.0}]
        assert all(bt._nbtrain_guarded for bx in view.figure_boxes for bt in bx.buttons.values())
        view.close()
        assert all(bt.comm is None for bx in view.figure_boxes for bt in bx.buttons.values())
    finally:
        a.close()
        b.close()


def test_demo_figures_get_toolbars_in_their_place_in_the_row(sent):
    sx, sy = bq.LinearScale(), bq.LinearScale()
    line = bq.Lines(x=[], y=[], scales={"x": sx, "y": sy})
    left = bq.Figure(marks=[line], title="Paths of w₁ / w₂", layout=widgets.Layout(width="50%"))
    right = bq.Figure(title="loss", layout=widgets.Layout(width="50%"))
    stacked = widgets.VBox([right, widgets.HTML("note")])  # a figure inside a box of the row (data_preprocessing)
    control = widgets.IntSlider(value=1, min=0, max=10)
    view = DemoView({"n": control}, [left, right], {"line": line}, lambda: control.value,
                    lambda n: f"n = {n}", figure_rows=[[left, stacked]])
    assert [b.figure for b in view.figure_boxes] == [left, right]
    box = view.figure_boxes[0]
    # the box took the figure's flex share of the row; the figure fills the box
    assert box.layout.flex == "1 1 calc(50% - 8px)" and left.layout.flex is None
    assert stacked.children[0] is view.figure_boxes[1]
    click_from_page(box.buttons["svg"])
    assert saves(sent, left) == [{"type": "save_svg", "filename": "nbtrain-paths-of-w1-w2.svg"}]
    assert all(bt._nbtrain_guarded for bx in view.figure_boxes for bt in bx.buttons.values())


def test_real_demo_and_tuning_views_have_toolbars():
    view = nt.demos.search_layout(budget=9)
    assert view.figure_boxes and {b.figure for b in view.figure_boxes} == set(view.figures)
    assert all(b.filename("png").startswith("nbtrain-") for b in view.figure_boxes)
    from nbtrain.tuning.lr_finder import LRFinderResult
    from nbtrain.ui.tuning import lr_finder_view

    lrs = np.geomspace(1e-5, 1, 50)
    loss = 2 - np.tanh(np.log10(lrs) + 3)
    v = lr_finder_view(LRFinderResult(lrs, loss, loss, {"steepest": 1e-3}, "finished", (5, 45)))
    assert [b.figure for b in v.figure_boxes] == [v.figure]
    assert v.figure_boxes[0].filename("svg") == "nbtrain-lr-range-test.svg"


def test_add_toolbars_leaves_boxed_figures_alone():
    fig = bq.Figure(title="a")
    root = widgets.VBox([widgets.HBox([fig])])
    first = add_toolbars(root, prefix="x")
    assert add_toolbars(root) == [] and root.children[0].children == (first[0],)
