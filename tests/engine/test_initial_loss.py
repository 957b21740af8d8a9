"""The default model starts at log C on every built-in dataset: its output layer starts small."""

import math
import pickle
import struct

import numpy as np
import pytest
import torch

import nbtrain as nt
from nbtrain.engine import data as D

TOYS = ["spiral", "moons", "circles", "xor", "blobs", "digits"]


def _fake_mnist(root, folder):
    raw = root / folder / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for split, n in [("train", 60), ("t10k", 10)]:
        for kind, arr in [("images-idx3", rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)),
                          ("labels-idx1", (np.arange(n) % 10).astype(np.uint8))]:
            with open(raw / f"{split}-{kind}-ubyte", "wb") as f:
                f.write(struct.pack(">I", (0x08 << 8) | arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape))
                f.write(arr.tobytes())


def _fake_cifar10(root, monkeypatch):
    import hashlib

    import torchvision.datasets as tvd

    base = root / "cifar-10-batches-py"
    base.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        entry = {"batch_label": name, "data": rng.integers(0, 256, (12, 3072), dtype=np.uint8),
                 "labels": [int(v) for v in np.arange(12) % 10], "filenames": [f"{i}.png" for i in range(12)]}
        (base / name).write_bytes(pickle.dumps(entry))
    (base / "batches.meta").write_bytes(pickle.dumps({"label_names": [str(i) for i in range(10)]}))
    md5 = {f.name: hashlib.md5(f.read_bytes()).hexdigest() for f in base.iterdir()}
    monkeypatch.setattr(tvd.CIFAR10, "train_list", [[f"data_batch_{i}", md5[f"data_batch_{i}"]] for i in range(1, 6)])
    monkeypatch.setattr(tvd.CIFAR10, "test_list", [["test_batch", md5["test_batch"]]])
    monkeypatch.setattr(tvd.CIFAR10, "meta", {**tvd.CIFAR10.meta, "md5": md5["batches.meta"]})


def _initial_loss(trainer):
    """The loss of the trainer's initial model on its training set, computed here with plain torch."""
    X, y = (torch.stack([trainer.data.train[i][0] for i in range(len(trainer.data.train))]),
            torch.as_tensor([int(trainer.data.train[i][1]) for i in range(len(trainer.data.train))]))
    model = trainer.model
    model.eval()
    with torch.no_grad():
        return torch.nn.functional.cross_entropy(model(X.float()), y).item()


@pytest.mark.parametrize("name", TOYS)
@pytest.mark.parametrize("seed", [0, 1])
def test_default_model_starts_at_log_c(name, seed):
    with nt.Trainer(data=name, seed=seed, device="cpu") as tr:
        log_c = math.log(tr.data.num_classes)
        assert abs(_initial_loss(tr) / log_c - 1) < 0.10
        r = nt.check_initial_loss(tr)
        assert r.passed and "plausible" in r.summary, str(r)


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist", "cifar10"])
def test_default_cnn_starts_at_log_c_on_the_torchvision_sets(name, tmp_path, monkeypatch):
    if name == "cifar10":
        _fake_cifar10(tmp_path, monkeypatch)
    else:
        _fake_mnist(tmp_path, {"mnist": "MNIST", "fashion_mnist": "FashionMNIST"}[name])
    monkeypatch.setattr(D.sets, "DEFAULT_ROOT", str(tmp_path))
    with nt.Trainer(data=name, device="cpu") as tr:
        assert tr.data.input_shape[0] in (1, 3) and type(tr.model).__name__ == "SmallCNN"
        assert abs(_initial_loss(tr) / math.log(10) - 1) < 0.10
        assert nt.check_initial_loss(tr).passed


def test_hidden_layers_keep_the_initializer_and_only_the_head_is_small():
    kw = dict(data="digits", model="mlp", hidden=[64, 64], seed=3, device="cpu")
    with nt.Trainer(**kw) as small, nt.Trainer(**kw, head_init_scale=1.0) as full:
        for (k, a), b in zip(small.model.state_dict().items(), full.model.state_dict().values()):
            if k == "head.weight":
                torch.testing.assert_close(a, 0.01 * b)
            else:
                torch.testing.assert_close(a, b)
        # He init of the hidden layers: std √(2/fan_in), as torch.nn.init.kaiming_normal_ gives
        w = small.model.blocks[1].layer.weight
        assert abs(w.std().item() / math.sqrt(2 / 64) - 1) < 0.1


def test_turning_it_off_shows_why_it_matters():
    # head_init_scale=1: He init reaches the logits (std ≈ 1.8 on digits), the start is 1.6× log C
    with nt.Trainer(data="digits", head_init_scale=1.0, device="cpu") as tr:
        r = nt.check_initial_loss(tr)
        assert r.evidence["ratio"] > 1.3 and "somewhat high" in r.summary
        assert "head_init_scale" in r.advice[0]


def test_reinit_applies_the_small_head_too_and_the_field_is_validated():
    with nt.Trainer(data="spiral", device="cpu") as tr:
        tr.reinit("xavier_normal").result(10)
        assert abs(_initial_loss(tr) / math.log(3) - 1) < 0.10
        with pytest.raises(nt.ConfigError, match="head_init_scale"):
            tr.config.head_init_scale = -1
