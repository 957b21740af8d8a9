"""The shared DemoView: errors go to the status line; redraws are batched; re-entrant changes are safe."""

import bqplot as bq
import ipywidgets as widgets

from nbtrain.demos._view import DemoView


def _view(compute):
    sx, sy = bq.LinearScale(), bq.LinearScale()
    line = bq.Lines(x=[], y=[], scales={"x": sx, "y": sy})
    fig = bq.Figure(marks=[line], animation_duration=0)
    control = widgets.IntSlider(value=1, min=0, max=10)

    def draw(n):
        line.x, line.y = list(range(n + 1)), list(range(n + 1))
        return f"n = {n}"

    return DemoView({"n": control}, [fig], {"line": line}, lambda: compute(control.value), draw), control, line


def test_a_control_change_recomputes_and_sets_mark_traits():
    view, control, line = _view(lambda n: n)
    assert len(line.x) == 2 and "n = 1" in view.status.value
    control.value = 5
    assert len(line.x) == 6 and view.result == 5


def test_a_value_error_is_shown_not_raised_and_the_last_drawing_stays():
    def compute(n):
        if n > 7:
            raise ValueError(f"n={n} must be ≤ 7")
        return n

    view, control, line = _view(compute)
    control.value = 9
    assert "n=9 must be ≤ 7" in view.status.value and len(line.x) == 2
    control.value = 3
    assert "n = 3" in view.status.value and len(line.x) == 4


def test_one_thread_restores_the_thread_count_even_when_nested_or_failing():
    import pytest
    import torch

    from nbtrain.engine import threads

    one_thread = lambda: threads.limited(1)  # noqa: E731 - what the demos use
    before = torch.get_num_threads()
    with one_thread():
        assert torch.get_num_threads() == 1
        with one_thread():
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with pytest.raises(RuntimeError), one_thread():
        raise RuntimeError("boom")
    assert torch.get_num_threads() == before

    from torch import nn

    assert threads.for_model(nn.Linear(2, 3)) == 1 and threads.for_model(nn.Linear(2, 3), threads=3) == 3
    assert threads.for_model(nn.Linear(1000, 1001)) is None  # ≥ 1M parameters: torch's default


def test_demo_views_use_the_shared_style_and_carry_the_lecture_mode_classes():
    from nbtrain import demos
    from nbtrain.ui import style

    view = demos.max_norm()
    assert {"nbtrain-view", "nbtrain-demo"} <= set(view._dom_classes)  # .nbtrain-lecture .nbtrain-view ... reaches it
    assert ".nbtrain-lecture" in view.children[0].value  # the one stylesheet
    for fig in view.figures:
        assert fig.fig_margin == style.DEMO.margin and "nbtrain-figure" in fig._dom_classes
        for ax in fig.axes:
            offset = style.DEMO.y_label_offset if ax.side in ("left", "right") else style.DEMO.x_label_offset
            assert ax.label_offset == offset and not ax.label_offset.startswith("-")  # outside the plot area
            assert ax.tick_style == style.DEMO.ticks
