"""Trainer(compile=...): the opt-in torch.compile path. The wiring is tested with dynamo's ``aot_eager``
backend (no C++ compile in the suite); bench/overhead.py part f measures the real modes."""

import pytest
import torch

import nbtrain as nt


def test_compile_refuses_an_unknown_mode_naming_the_allowed_ones():
    with pytest.raises(ValueError, match=r"compile='fast' is not allowed: one of False, True, 'default', 'reduce-overhead'"):
        nt.Trainer(data="spiral", hidden=[8], compile="fast")


def test_compiled_steps_match_eager_and_follow_a_live_activation_swap(monkeypatch):
    made = []
    real = torch.compile

    def fake_compile(model, mode=None, **kw):
        made.append(mode)
        return real(model, backend="aot_eager", **kw)

    monkeypatch.setattr(torch, "compile", fake_compile)
    runs = {}
    for mode in (False, True):
        with nt.Trainer(data="spiral", hidden=[16, 16], lr=0.1, seed=0, stats_every=25, compile=mode) as tr:
            tr.step(40).wait(timeout=120)
            tr.config.activation = "tanh"  # dynamo's guards see the new module and recompile
            tr.step(40).wait(timeout=120)
            assert tr.state == "paused" and tr.global_step == 80, tr.message
            runs[mode] = tr.metrics.steps.column("train_loss").copy()
            if mode:
                assert tr._compiled is not None and tr._compiled[0] is tr.model
    assert made == [None]  # one wrapper for the model; probed steps ran the model itself
    assert len(runs[True]) == len(runs[False]) == 80
    assert runs[True] == pytest.approx(runs[False], rel=1e-4, abs=1e-6)
    torch._dynamo.reset()
