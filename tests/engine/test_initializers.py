"""Initializers: empirical std of a 1000×1000 layer within 5 % of theory."""

import math

import pytest
import torch
from torch import nn

import nbtrain as nt

FAN = 1000
THEORY = {
    "small_gaussian": 0.01,
    "large_gaussian": 1.0,
    "xavier_normal": math.sqrt(2 / (FAN + FAN)),
    "xavier_uniform": math.sqrt(2 / (FAN + FAN)),
    "he_normal": math.sqrt(2 / FAN),
    "he_uniform": math.sqrt(2 / FAN),
    "orthogonal": 1 / math.sqrt(FAN),
    "lecun_normal": 1 / math.sqrt(FAN),
    "lecun_uniform": 1 / math.sqrt(FAN),
    "pytorch_default": math.sqrt(1 / (3 * FAN)),
    "zero_init_residual": math.sqrt(2 / FAN),
}


@pytest.mark.parametrize("scheme", sorted(THEORY))
def test_empirical_std_within_5_percent_of_theory(scheme):
    layer = nt.initializers.apply(nn.Linear(FAN, FAN), scheme, generator=torch.Generator().manual_seed(0))
    std = layer.weight.std().item()
    assert abs(std / THEORY[scheme] - 1) < 0.05, (scheme, std, THEORY[scheme])
    assert layer.weight.mean().abs().item() < 0.05 * THEORY[scheme] + 1e-4
    assert torch.count_nonzero(layer.bias) == 0


def test_every_registered_initializer_is_checked():
    assert set(nt.initializers.names()) == set(THEORY) | {"zeros"}


def test_zeros_breaks_no_symmetry():
    layer = nt.initializers.apply(nn.Linear(10, 5), "zeros")
    assert torch.count_nonzero(layer.weight) == 0


def test_orthogonal_is_orthogonal():
    w = nt.initializers.apply(nn.Linear(64, 64, bias=False), "orthogonal").weight
    torch.testing.assert_close(w @ w.T, torch.eye(64), atol=1e-5, rtol=0)


def test_uniform_variants_are_bounded():
    w = nt.initializers.apply(nn.Linear(FAN, FAN), "he_uniform").weight
    assert w.abs().max().item() <= math.sqrt(6 / FAN) + 1e-6


def test_std_parameter_and_its_validation():
    w = nt.initializers.apply(nn.Linear(FAN, FAN), "small_gaussian", std=0.05).weight
    assert abs(w.std().item() / 0.05 - 1) < 0.05
    with pytest.raises(ValueError, match="std=-1"):
        nt.initializers.apply(nn.Linear(3, 3), "small_gaussian", std=-1)


def test_applies_to_every_layer_of_any_module_including_convs():
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 10))
    nt.initializers.apply(net, "zeros")
    assert all(torch.count_nonzero(p) == 0 for p in net.parameters())


def test_generator_makes_init_reproducible_without_touching_global_rng():
    la, lb = nn.Linear(20, 20), nn.Linear(20, 20)
    torch.manual_seed(1)
    before = torch.get_rng_state()
    a = nt.initializers.apply(la, "he_normal", generator=torch.Generator().manual_seed(5)).weight
    b = nt.initializers.apply(lb, "he_normal", generator=torch.Generator().manual_seed(5)).weight
    assert torch.equal(a, b)
    assert torch.equal(before, torch.get_rng_state())


def test_zero_init_residual_makes_blocks_identity():
    net = nt.models.make("resmlp", (4,), 3, hidden=[8, 8])
    nt.initializers.apply(net, "zero_init_residual")
    x = torch.randn(5, 8)
    for block in net.blocks:
        assert torch.count_nonzero(block.residual_last.weight) == 0
        torch.testing.assert_close(block(x.relu()), x.relu())


def test_zero_init_residual_on_torchvision_resnet():
    import torchvision

    net = torchvision.models.resnet18(weights=None, num_classes=10)
    assert nt.initializers.zero_residual_last(net) == 8
    assert all(torch.count_nonzero(b.bn2.weight) == 0 for layer in (net.layer1, net.layer2) for b in layer)
