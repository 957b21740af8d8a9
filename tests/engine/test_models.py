"""Model builders; in-place activation / dropout / batch-norm changes keep every parameter tensor."""

import pytest
import torch

import nbtrain as nt


def _snapshot(model):
    return {k: v.detach().clone() for k, v in model.named_parameters()}


def _same(before, model):
    now = dict(model.named_parameters())
    return all(torch.equal(v, now[k]) for k, v in before.items())


@pytest.mark.parametrize("shape", [(2,), (1, 8, 8), (1, 28, 28), (3, 32, 32)])
@pytest.mark.parametrize("name", ["mlp", "cnn", "resmlp"])
def test_models_build_for_every_input_shape(name, shape):
    if name == "cnn" and len(shape) == 1:
        with pytest.raises(ValueError, match="input_shape"):
            nt.models.make(name, shape, 3)
        return
    model = nt.models.make(name, shape, 10)
    assert model(torch.randn(4, *shape)).shape == (4, 10)


@pytest.mark.parametrize("name,shape", [("mlp", (2,)), ("cnn", (1, 8, 8)), ("resmlp", (2,))])
@pytest.mark.parametrize("new", ["tanh", "sigmoid", "leaky_relu", "prelu", "maxout", "identity", "relu"])
def test_activation_swap_keeps_every_parameter(name, shape, new):
    model = nt.models.make(name, shape, 3, activation="relu", dropout=0.1)
    before = _snapshot(model)
    nt.models.set_activation(model, new)
    assert _same(before, model)
    assert nt.models.current_activation(model) == new
    assert model(torch.randn(2, *shape)).shape == (2, 3)


def test_learnable_activation_swap_returns_new_parameters():
    model = nt.models.make("mlp", (2,), 3, hidden=[4, 4])
    new = nt.models.set_activation(model, "prelu")
    assert len(new) == 2 and all(p.numel() == 1 for p in new)


def test_dropout_and_batch_norm_changes_keep_parameters():
    model = nt.models.make("mlp", (2,), 3, dropout=0.2, batch_norm=False)
    before = _snapshot(model)
    assert nt.models.set_dropout(model, 0.5) == 2
    assert all(m.p == 0.5 for m in model.modules() if isinstance(m, torch.nn.Dropout))
    nt.models.set_batch_norm(model, True)
    model(torch.randn(8, 2))
    nt.models.set_batch_norm(model, False)
    assert _same(before, model)
    with pytest.raises(ValueError, match="p=1.5"):
        nt.models.set_dropout(model, 1.5)


def test_batch_norm_changes_the_forward_pass():
    torch.manual_seed(0)
    model = nt.models.make("mlp", (2,), 3, hidden=[16]).eval()
    x = torch.randn(8, 2) * 10 + 5
    off = model(x)
    nt.models.set_batch_norm(model, True)
    model.train()
    assert not torch.allclose(off, model(x))


def test_swaps_work_on_a_user_module():
    model = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.ReLU(), torch.nn.Dropout(0.1), torch.nn.Linear(8, 2))
    before = _snapshot(model)
    nt.models.set_activation(model, "tanh")
    nt.models.set_dropout(model, 0.3)
    assert isinstance(model[1], torch.nn.Tanh) and model[2].p == 0.3
    assert _same(before, model)
    assert not nt.models.supports_batch_norm(model)
    with pytest.raises(ValueError, match="no batch-norm"):
        nt.models.set_batch_norm(model, True)


def test_bad_widths_are_named():
    with pytest.raises(ValueError, match="hidden width=0"):
        nt.models.make("mlp", (2,), 3, hidden=[8, 0])


def test_dropconnect_mlp():
    model = nt.models.make("mlp", (2,), 3, hidden=[8], dropconnect=0.3)
    assert isinstance(model.blocks[0].layer, nt.regularizers.DropConnectLinear)
