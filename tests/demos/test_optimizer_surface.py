"""The optimizer-paths demo: every written-out update rule equals torch.optim, step by step."""

import numpy as np
import pytest
import torch

from nbtrain.demos import optimizer_surface as OP


def torch_path(name, h, w0, lr, steps):
    w = torch.tensor(w0, dtype=torch.float64, requires_grad=True)
    H = torch.tensor(h, dtype=torch.float64)
    make = {
        "sgd": lambda: torch.optim.SGD([w], lr=lr),
        "momentum": lambda: torch.optim.SGD([w], lr=lr, momentum=0.9),
        "nesterov": lambda: torch.optim.SGD([w], lr=lr, momentum=0.9, nesterov=True),
        "adagrad": lambda: torch.optim.Adagrad([w], lr=lr),
        "rmsprop": lambda: torch.optim.RMSprop([w], lr=lr),
        "adadelta": lambda: torch.optim.Adadelta([w], lr=lr),
        "adam": lambda: torch.optim.Adam([w], lr=lr),
    }
    opt = make[name]()
    out = [w.detach().clone().numpy()]
    for _ in range(steps):
        opt.zero_grad()
        (0.5 * w @ H @ w).backward()
        opt.step()
        out.append(w.detach().clone().numpy())
    return np.array(out)


@pytest.mark.parametrize("surface", OP.SURFACES)
@pytest.mark.parametrize("name", OP.OPTIMIZERS)
def test_each_path_equals_torch_optim(surface, name):
    r = OP.optimizer_paths_data(surface, optimizers=(name,), steps=80)
    p = r.paths[name]
    ref = torch_path(name, r.hessian, OP.START, p.lr, 80)
    assert np.allclose(p.w, ref, rtol=1e-9, atol=1e-12)
    d = ref - r.optimum
    assert np.allclose(p.loss, 0.5 * np.einsum("ni,ij,nj->n", d, r.hessian, d), rtol=1e-9, atol=1e-15)


def test_the_lessons_the_figure_shows():
    r = OP.optimizer_paths_data("ravine", steps=100)
    p = r.paths
    # plain SGD zig-zags across the valley: the steep coordinate changes sign at every step
    sgn = np.sign(p["sgd"].w[1:30, 1])
    assert (sgn[1:] != sgn[:-1]).all()
    # at the same learning rate, momentum gets much further along the shallow direction than SGD
    slow = OP.optimizer_paths_data("ravine", optimizers=("sgd",), steps=100, lr={"sgd": p["momentum"].lr}).paths
    assert p["momentum"].final_loss < 1e-2 * slow["sgd"].final_loss
    # AdaDelta starts with tiny steps (√ε/√s): after 100 steps it has barely moved
    assert p["adadelta"].final_loss > 0.5 * p["adadelta"].loss[0]
    # the rotated valley is not axis-aligned: per-coordinate rates help less there
    rot = OP.optimizer_paths_data("rotated", steps=100).paths
    assert rot["rmsprop"].final_loss > p["rmsprop"].final_loss


def test_bad_arguments_name_the_value():
    with pytest.raises(ValueError, match="surface='bowl' must be one of ravine, rotated"):
        OP.optimizer_paths_data("bowl")
    with pytest.raises(ValueError, match="optimizer='lion'"):
        OP.optimizer_paths_data(optimizers=("lion",))
    with pytest.raises(ValueError, match="lr=-1.0 must be"):
        OP.optimizer_paths_data(lr={"sgd": -1.0})
