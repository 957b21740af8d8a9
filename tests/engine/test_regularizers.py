"""Penalties match their formulas; inverted dropout and DropConnect keep the expected value."""

import pytest
import torch
from torch import nn

import nbtrain as nt


def _net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))


def test_penalties_match_formulas_and_skip_biases():
    net = _net()
    ws = [net[0].weight, net[2].weight]
    l1 = sum(w.abs().sum() for w in ws)
    l2 = sum((w**2).sum() for w in ws)
    torch.testing.assert_close(nt.regularizers.make("l1", strength=0.1)(net), 0.1 * l1)
    torch.testing.assert_close(nt.regularizers.make("l2", strength=0.1)(net), 0.5 * 0.1 * l2)
    torch.testing.assert_close(nt.regularizers.make("elastic_net", l1=0.1, l2=0.2)(net), 0.1 * l1 + 0.5 * 0.2 * l2)
    assert nt.regularizers.penalty(net, 0, 0) is None
    torch.testing.assert_close(nt.regularizers.penalty(net, 0.1, 0.2), 0.1 * l1 + 0.5 * 0.2 * l2)


def test_l2_gradient_is_weight_decay():
    net = _net()
    nt.regularizers.make("l2", strength=0.3)(net).backward()
    torch.testing.assert_close(net[0].weight.grad, 0.3 * net[0].weight)
    assert net[0].bias.grad is None


def test_negative_strength_rejected():
    with pytest.raises(ValueError, match="l1 strength=-1"):
        nt.regularizers.make("l1", strength=-1)


def test_inverted_dropout_keeps_the_mean_and_is_identity_in_eval():
    torch.manual_seed(0)
    drop = nt.regularizers.Dropout(0.5)
    x = torch.ones(200_000)
    y = drop(x)
    assert abs(y.mean().item() - 1.0) < 0.01
    assert set(torch.unique(y).tolist()) == {0.0, 2.0}
    drop.eval()
    assert torch.equal(drop(x), x)


def test_dropout_rate_is_validated_on_assignment():
    drop = nt.regularizers.Dropout(0.1)
    with pytest.raises(ValueError, match=r"p=1.0 must be in \[0, 1\)"):
        drop.p = 1.0
    assert drop.p == 0.1


def test_dropconnect_masks_weights_and_keeps_expectation():
    torch.manual_seed(0)
    layer = nt.regularizers.DropConnectLinear(50, 1, bias=False, p=0.5)
    nn.init.ones_(layer.weight)
    x = torch.ones(1, 50)
    outs = torch.stack([layer(x) for _ in range(4000)])
    assert abs(outs.mean().item() - 50) < 1.0  # E[y] = Wx
    assert outs.std().item() > 1  # weights really dropped
    layer.eval()
    assert layer(x).item() == 50
