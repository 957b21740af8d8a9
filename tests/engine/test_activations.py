"""Every activation's values and gradients checked against its formula at a few points."""

import math

import pytest
import torch

import nbtrain as nt

X = torch.tensor([-3.0, -0.5, 0.0, 0.7, 2.5], dtype=torch.float64)


def _phi(x):
    return 0.5 * (1 + torch.erf(x / math.sqrt(2)))


FORMULAS = {
    "sigmoid": lambda x: 1 / (1 + torch.exp(-x)),
    "tanh": lambda x: (torch.exp(x) - torch.exp(-x)) / (torch.exp(x) + torch.exp(-x)),
    "relu": lambda x: torch.where(x > 0, x, torch.zeros_like(x)),
    "leaky_relu": lambda x: torch.where(x > 0, x, 0.01 * x),
    "prelu": lambda x: torch.where(x > 0, x, 0.25 * x),
    "elu": lambda x: torch.where(x > 0, x, torch.exp(x) - 1),
    "selu": lambda x: 1.0507009873554805 * torch.where(x > 0, x, 1.6732632423543772 * (torch.exp(x) - 1)),
    "gelu": lambda x: x * _phi(x),
    "silu": lambda x: x / (1 + torch.exp(-x)),
    "identity": lambda x: x,
}


def test_registry_lists_every_required_activation():
    # maxout is not pointwise (a max over affine maps of the layer's input): tests/engine/test_notes_defects.py
    assert set(FORMULAS) == set(nt.activations.pointwise_names())
    assert set(nt.activations.names()) == set(FORMULAS) | {"maxout"}


@pytest.mark.parametrize("name", sorted(FORMULAS))
def test_activation_values_and_gradients_match_formula(name):
    act = nt.activations.make(name).double()
    x = X.clone().requires_grad_(True)
    y = act(x)
    x_ref = X.clone().requires_grad_(True)
    y_ref = FORMULAS[name](x_ref)
    torch.testing.assert_close(y, y_ref)
    # gradient away from the kink at 0
    mask = X != 0
    (g,) = torch.autograd.grad(y[mask].sum(), x)
    (g_ref,) = torch.autograd.grad(y_ref[mask].sum(), x_ref)
    torch.testing.assert_close(g, g_ref)


def test_learnable_activations_own_parameters_per_instance():
    a, b = nt.activations.make("prelu"), nt.activations.make("prelu")
    assert a.weight is not b.weight
    m = nt.activations.make("maxout", k=4).bind(torch.nn.Linear(3, 2))
    n = nt.activations.make("maxout", k=4).bind(torch.nn.Linear(3, 2))
    assert len(m.pieces) == 3 and all(p.weight.shape == (2, 3) for p in m.pieces)
    assert m.pieces[0].weight is not n.pieces[0].weight


def test_maxout_rejects_fewer_than_two_pieces():
    with pytest.raises(ValueError, match="k=1"):
        nt.activations.make("maxout", k=1)


def test_unknown_activation_lists_allowed_names():
    with pytest.raises(ValueError, match="unknown activation 'sigmoidd'.*sigmoid, tanh"):
        nt.activations.make("sigmoidd")


def test_aliases_resolve():
    assert isinstance(nt.activations.make("swish"), torch.nn.SiLU)
    assert nt.activations.saturation_kind("tanh") == "saturated"
    assert nt.activations.saturation_kind("relu") == "dead"
