"""Each optimizer reduces the loss of a small problem; bad hyper-parameters are named."""

import pytest
import torch

import nbtrain as nt

LRS = {"sgd": 0.1, "momentum": 0.05, "nesterov": 0.05, "adagrad": 0.1, "rmsprop": 0.01,
       "adadelta": 1.0, "adam": 0.01, "adamw": 0.01}


def test_registry_has_every_required_optimizer():
    assert set(nt.optimizers.names()) == set(LRS)


@pytest.mark.parametrize("name", sorted(LRS))
def test_optimizer_reduces_loss_on_logistic_regression(name):
    g = torch.Generator().manual_seed(0)
    X = torch.randn(200, 5, generator=g)
    y = (X @ torch.tensor([1.0, -2.0, 0.5, 0.0, 1.5]) > 0).long()
    model = torch.nn.Linear(5, 2)
    opt = nt.optimizers.make(name, model.parameters(), lr=LRS[name])

    def loss():
        return torch.nn.functional.cross_entropy(model(X), y)

    first = loss().item()
    for _ in range(100):
        opt.zero_grad()
        loss().backward()
        opt.step()
    assert loss().item() < 0.7 * first


def test_hyper_parameters_reach_torch():
    w = [torch.nn.Parameter(torch.zeros(2))]
    opt = nt.optimizers.make("nesterov", w, lr=0.1, momentum=0.8, weight_decay=1e-3)
    assert opt.param_groups[0]["nesterov"] and opt.param_groups[0]["momentum"] == 0.8
    assert opt.param_groups[0]["weight_decay"] == 1e-3
    assert nt.optimizers.make("adam", w, lr=0.1, beta1=0.5).param_groups[0]["betas"] == (0.5, 0.999)


def test_bad_values_are_named():
    w = [torch.nn.Parameter(torch.zeros(2))]
    with pytest.raises(ValueError, match="lr=0"):
        nt.optimizers.make("sgd", w, lr=0)
    with pytest.raises(ValueError, match="weight_decay=-1"):
        nt.optimizers.make("sgd", w, lr=0.1, weight_decay=-1)
    with pytest.raises(TypeError, match="no parameter.*momentum.*allowed: params, lr, weight_decay"):
        nt.optimizers.make("sgd", w, lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match="unknown optimizer 'sgdd'"):
        nt.optimizers.make("sgdd", w, lr=0.1)
