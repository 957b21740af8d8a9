"""Transfer learning: exactly the intended parameters train, frozen parts stay frozen, discriminative LRs."""

import pytest
import torch
from torch import nn

import nbtrain as nt
from nbtrain.tuning.transfer import TransferNet, feature_blocks, find_head


def names_under(net, *prefixes):
    return sorted(n for n, _ in net.named_parameters() if n.startswith(prefixes))


def test_resnet18_modes_freeze_exactly_the_intended_parameters():
    head = nt.transfer("resnet18", num_classes=7, mode="head")
    assert isinstance(head, TransferNet) and head.net.fc.out_features == 7
    assert sorted(head.trainable_names()) == ["net.fc.bias", "net.fc.weight"]
    partial = nt.transfer("resnet18", num_classes=7, mode="partial", unfreeze=2)
    assert sorted(partial.trainable_names()) == names_under(partial, "net.layer4.", "net.fc.")
    full = nt.transfer("resnet18", num_classes=7, mode="full")
    assert full.frozen_names() == [] and len(full.trainable_names()) == len(list(full.parameters()))
    assert set(head.trainable_names()) | set(head.frozen_names()) == {n for n, _ in head.named_parameters()}


def test_a_small_torchvision_model_with_its_head_inside_a_container():
    net = nt.transfer("mobilenet_v3_small", num_classes=4, mode="partial", unfreeze=1)
    assert net.head_name == "classifier.3" and net.net.classifier[3].out_features == 4
    assert sorted(net.trainable_names()) == names_under(net, "net.classifier.0.", "net.classifier.3.")


def test_our_small_cnn_and_any_user_module():
    cnn = nt.models.make("cnn", (1, 8, 8), 10)
    assert [n for n, _ in feature_blocks(cnn, find_head(cnn))] == ["blocks.0", "blocks.1", "fc.0"]
    t = nt.transfer(cnn, num_classes=3, mode="partial", unfreeze=1)
    assert sorted(t.trainable_names()) == names_under(t, "net.fc.0.", "net.head.")
    user = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 16), nn.ReLU(),
                         nn.Linear(16, 10))
    u = nt.transfer(user, num_classes=2, mode="partial", unfreeze=1)
    assert u.head_name == "5" and sorted(u.trainable_names()) == ["net.3.bias", "net.3.weight", "net.5.bias", "net.5.weight"]
    assert all(p.requires_grad for p in user.parameters()) and user[5].out_features == 10  # the original is untouched


def test_training_changes_only_the_trainable_parameters_and_frozen_batch_norm_stats():
    d = nt.load_data("digits", seed=0)
    backbone = nt.models.make("cnn", (1, 8, 8), 10, batch_norm=True)
    net = nt.transfer(backbone, num_classes=10, mode="partial", unfreeze=1)
    before = {k: v.detach().clone() for k, v in net.state_dict().items()}
    with nt.Trainer(model=net, data=d.tensors("train"), val_data=d.tensors("val"), lr=0.05, max_steps=20,
                    device="cpu") as tr:
        tr.start().wait(timeout=60)
        assert tr.global_step == 20
    after = net.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    trainable = set(net.trainable_names())
    assert trainable <= changed  # every trainable parameter moved...
    frozen_blocks = ("net.blocks.0.", "net.blocks.1.")
    assert not any(k.startswith(frozen_blocks) for k in changed), sorted(changed)  # ...nothing frozen did, BN stats included
    net.train()
    assert not net.net.blocks[0].norm.training and net.net.fc[0].norm.training and net.net.head.training


def test_trainer_gives_the_backbone_a_smaller_learning_rate_and_keeps_it_on_rebuilds():
    net = nt.transfer(nt.models.make("mlp", (2,), 3, hidden=[16, 16]), num_classes=3, mode="full",
                      backbone_lr_scale=0.1)
    with nt.Trainer(model=net, data="spiral", lr=0.2, max_steps=5, device="cpu") as tr:
        tr.step(2).wait(timeout=30)
        groups = {g["name"]: g for g in tr.optimizer.param_groups}
        assert groups["backbone"]["lr"] == pytest.approx(0.02) and groups["head"]["lr"] == pytest.approx(0.2)
        assert sum(len(g["params"]) for g in groups.values()) == len(net.trainable_names())
        tr.config.optimizer = "adam"  # the engine rebuilds its optimizer: the groups must stay
        tr.step(1).wait(timeout=30)
        assert type(tr.optimizer).__name__ == "Adam"
        assert [g["name"] for g in tr.optimizer.param_groups] == ["backbone", "head"]
        assert tr.optimizer.param_groups[0]["lr"] == pytest.approx(0.1 * tr.optimizer.param_groups[1]["lr"])


def test_resnet18_runs_on_grayscale_digits_and_transfers_from_a_trainer():
    net = nt.transfer("resnet18", num_classes=10)
    assert net.gray_to_rgb
    net.eval()
    assert net(torch.rand(4, 1, 8, 8)).shape == (4, 10)
    with nt.Trainer(data="moons", hidden=[8], device="cpu") as tr:
        t = nt.transfer(tr, num_classes=2, mode="head")
        assert t.head_name == "head" and t.trainable_names() == ["net.head.weight", "net.head.bias"]
        assert all(p.requires_grad for p in tr.model.parameters())
    assert "trainable" in nt.transfer("resnet18", 2, "partial").summary().columns


def test_pretrained_weights_that_cannot_be_fetched_give_a_clear_error(monkeypatch, tmp_path):
    def offline(url, dst, hash_prefix=None, progress=True):
        raise OSError("Name or service not known")

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    with pytest.raises(RuntimeError, match="pretrained=False"):
        nt.transfer("resnet18", 10, pretrained=True)


@pytest.mark.parametrize("kw, match", [
    ({"mode": "some"}, "mode='some'"), ({"num_classes": 0}, "num_classes=0"),
    ({"mode": "partial", "unfreeze": 99}, r"unfreeze=99.*\[1, \d+\].*layer4.1"),
    ({"backbone_lr_scale": 2}, r"backbone_lr_scale=2.*\(0, 1\]"),
])
def test_bad_arguments(kw, match):
    args = {"num_classes": 3, **kw}
    with pytest.raises(ValueError, match=match):
        nt.transfer("resnet18", **args)


def test_unknown_backbone_names_are_listed():
    with pytest.raises(ValueError, match="not a torchvision model"):
        nt.transfer("resnet1800", 3)


# ---- pretrained weights from the torch hub cache: hash-checked, weights_only --------------------------------
class _Planted:
    """A pickle that would create ``path`` when unpickled (what a planted cache file does)."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.path}",))


def _fake_weights(path):
    from types import SimpleNamespace

    return SimpleNamespace(url=f"https://download.pytorch.org/models/{path.name}", meta={})


def test_planted_hub_cache_pickle_is_refused_without_running(monkeypatch, tmp_path):
    import pickle

    marker = tmp_path / "pwned"
    cache = tmp_path / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    (cache / "resnet18-f37072fd.pth").write_bytes(pickle.dumps({"fc.weight": _Planted(marker)}))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(torch.hub, "download_url_to_file", lambda *a, **k: pytest.fail("no download expected"))
    with pytest.raises(RuntimeError, match="do not match the hash"):
        nt.transfer("resnet18", 10, pretrained=True)
    assert not marker.exists()


def test_hash_matching_pickle_is_still_refused_by_weights_only(monkeypatch, tmp_path):
    import hashlib
    import io

    from nbtrain.tuning.transfer import load_pretrained_state

    marker = tmp_path / "pwned"
    buf = io.BytesIO()
    torch.save({"w": _Planted(marker)}, buf)  # a real torch zip file whose pickle calls os.system
    data = buf.getvalue()
    cache = tmp_path / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    path = cache / f"evil-{hashlib.sha256(data).hexdigest()[:8]}.pth"
    path.write_bytes(data)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(RuntimeError, match="weights_only=True"):
        load_pretrained_state(_fake_weights(path))
    assert not marker.exists()


def test_hash_checked_weights_load_as_tensors(monkeypatch, tmp_path):
    import hashlib
    import io

    from nbtrain.tuning.transfer import load_pretrained_state

    state = {"weight": torch.arange(6.0).reshape(2, 3), "bias": torch.zeros(2)}
    buf = io.BytesIO()
    torch.save(state, buf)
    data = buf.getvalue()
    cache = tmp_path / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    path = cache / f"tiny-{hashlib.sha256(data).hexdigest()[:10]}.pth"
    path.write_bytes(data)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    got = load_pretrained_state(_fake_weights(path))
    assert set(got) == {"weight", "bias"} and torch.equal(got["weight"], state["weight"])
    path.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))  # one flipped bit: refused
    with pytest.raises(RuntimeError, match="do not match the hash"):
        load_pretrained_state(_fake_weights(path))
