"""Loss-choice demo: closed-form gradients against autograd; the runs' starting losses against the formulas."""

import math

import numpy as np
import torch
import torch.nn.functional as F

from nbtrain.demos import loss_functions as LC


def test_closed_form_gradients_equal_autograd():
    p = np.array([0.001, 0.05, 0.3, 0.5, 0.9, 0.999])
    ce, mse = LC.gradients(p, 10)
    z = torch.tensor(LC.logits_for(p, 10), requires_grad=True)
    assert torch.allclose(z.softmax(1)[:, 0], torch.tensor(p, dtype=torch.float64))
    target = torch.zeros(len(p), dtype=torch.long)
    (g_ce,) = torch.autograd.grad(F.cross_entropy(z, target, reduction="sum"), z)
    onehot = F.one_hot(target, 10).double()
    (g_mse,) = torch.autograd.grad((0.5 * (onehot - z.softmax(1)).pow(2).sum(1)).sum(), z)
    assert np.allclose(ce, g_ce[:, 0].numpy())
    assert np.allclose(mse, g_mse[:, 0].numpy())
    # confidently wrong: CE's gradient is ≈ −1, MSE's vanishes
    assert ce[0] < -0.99 and abs(mse[0]) < 2e-3


def test_training_runs_start_from_the_same_loss_and_cross_entropy_wins():
    r = LC.loss_choice_data(steps=300)
    assert set(r.val_acc) == {"cross_entropy", "mse"}
    assert r.val_acc["cross_entropy"][0] == r.val_acc["mse"][0]  # same weights at step 0
    assert r.final_acc["cross_entropy"] > r.final_acc["mse"] + 0.05
    assert r.final_acc["cross_entropy"] > 0.9


def test_mse_loss_is_the_notes_formula():
    z = torch.randn(4, 3, dtype=torch.float64)
    y = torch.tensor([0, 2, 1, 1])
    p = z.softmax(1).numpy()
    oh = np.eye(3)[y.numpy()]
    assert math.isclose(float(LC.mse_loss(z, y)), float((0.5 * ((oh - p) ** 2).sum(1)).mean()), rel_tol=1e-12)
