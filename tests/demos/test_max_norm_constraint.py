"""Max-norm: the projection equals torch.renorm; the constrained run never exceeds c, the other does."""

import numpy as np
import pytest
import torch

import nbtrain as nt
from nbtrain.demos import max_norm_constraint as MN


def test_max_norm_projection_equals_torch_renorm():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(2, 4, 3), torch.nn.Flatten(), torch.nn.Linear(36, 5))
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(5)
    ref = [torch.renorm(m.weight.detach(), p=2, dim=0, maxnorm=1.5) for m in (net[0], net[2])]
    clipped = nt.regularizers.max_norm_(net, 1.5)
    assert clipped == sum(int((torch.linalg.vector_norm(r.flatten(1), dim=1) > 1.5 - 1e-6).sum()) for r in ref)
    for m, r in zip((net[0], net[2]), ref):
        assert torch.allclose(m.weight, r, atol=1e-6)


def test_demo_constrained_run_stays_within_c_and_the_free_one_does_not():
    r = MN.max_norm_data(c=2.0, lr=0.3, steps=300)
    assert r.max_unit_norm["max_norm"][1:].max() <= 2.0 + 1e-5  # after every step (step 0 is the init)
    assert r.max_unit_norm["none"][-1] > 2.0
    for w in r.final_weights["max_norm"]:  # independent: norms of the returned weight matrices
        assert np.linalg.norm(w.reshape(len(w), -1), axis=1).max() <= 2.0 + 1e-5
    assert r.steps[0] == 0 and r.val_loss["none"][0] == r.val_loss["max_norm"][0]


def test_trainer_max_norm_field():
    tr = nt.Trainer(data="spiral", hidden=[32], lr=1.0, optimizer="momentum", max_norm=1.0, max_steps=50, seed=0)
    tr.start().wait(timeout=60)
    for w in nt.regularizers.penalized_weights(tr.model):
        assert torch.linalg.vector_norm(w.detach().flatten(1), dim=1).max() <= 1.0 + 1e-5
    tr.close()
    with pytest.raises(nt.ConfigError, match="max_norm = -1"):
        nt.TrainConfig(max_norm=-1)


@pytest.mark.parametrize("seed", [0, 1])
def test_at_a_high_learning_rate_the_constraint_helps(seed):
    r = MN.max_norm_data(c=2.0, lr=0.5, steps=400, seed=seed)
    assert r.val_acc["max_norm"][-1] > r.val_acc["none"][-1] + 0.1
    assert r.val_loss["max_norm"][-1] < r.val_loss["none"][-1]
