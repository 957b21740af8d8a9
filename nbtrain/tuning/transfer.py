"""Transfer learning, as the lecture notes teach it: reuse a network trained on one task for another.

Keep the feature extractor, replace the classifier head with a new one for the new classes, then choose how
much to train, by how much data you have and how similar it is to the original task:

- ``mode="head"``: freeze everything but the new head (little data, similar task);
- ``mode="partial"``: also unfreeze the last ``unfreeze`` blocks (more data, or a less similar task);
- ``mode="full"``: fine-tune everything (lots of data), the backbone with a smaller learning rate.

Frozen means ``requires_grad = False`` *and* batch-norm/dropout layers of the frozen part held in eval mode
(their running statistics would otherwise still drift). Trainable backbone parameters get a smaller learning
rate, ``backbone_lr_scale`` × the head's (discriminative learning rates): ``net.param_groups()`` gives them,
and a ``Trainer(model=net, ...)`` builds its optimizer from them (and rebuilds it so on every change).

>>> import nbtrain as nt, torchvision
>>> net = nt.transfer("resnet18", num_classes=5, mode="partial", unfreeze=1)
>>> net.trainable_names()[:2], len(net.frozen_names()) > 0
(['net.layer4.1.conv1.weight', 'net.layer4.1.bn1.weight'], True)
"""

from __future__ import annotations

import copy
import hashlib
import os
from typing import Any
from urllib.parse import urlparse

import pandas as pd
import torch
from torch import nn

from ..engine import rng

__all__ = ["TransferNet", "transfer", "find_head", "feature_blocks", "load_pretrained_state", "MODES"]

MODES = ("head", "partial", "full")


def find_head(net: nn.Module) -> str:
    """Dotted name of the classifier head: the model's last ``nn.Linear`` in definition order (ResNet's
    ``fc``, MobileNet's ``classifier.3``, our models' ``head``). Pass ``head_name=`` when it is not.

    >>> import torchvision
    >>> find_head(torchvision.models.mobilenet_v3_small()), find_head(torchvision.models.resnet18())
    ('classifier.3', 'fc')
    """
    linears = [n for n, m in net.named_modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError(f"{type(net).__name__} has no nn.Linear layer to use as its head; pass head_name=…")
    return linears[-1]


def _has_params(m: nn.Module) -> bool:
    return any(True for _ in m.parameters())


def feature_blocks(net: nn.Module, head_name: str) -> list[tuple[str, nn.Module]]:
    """The feature extractor as an ordered list of (name, block): the model's top-level children without the
    head, with top-level ``Sequential``/``ModuleList`` containers opened one level (ResNet stages → their
    residual blocks, our MLP's ``blocks`` → its layers). Blocks without parameters are left out.

    >>> import torchvision
    >>> [n for n, _ in feature_blocks(torchvision.models.resnet18(), "fc")][-3:]
    ['layer3.1', 'layer4.0', 'layer4.1']
    """
    out: list[tuple[str, nn.Module]] = []
    for name, child in net.named_children():
        if name == head_name:
            continue
        inner_head = head_name.startswith(name + ".")
        if inner_head or type(child) in (nn.Sequential, nn.ModuleList):
            for sub, grand in child.named_children():
                path = f"{name}.{sub}"
                if path == head_name or head_name.startswith(path + "."):
                    continue  # the head (or the container holding it) is not a feature block
                if _has_params(grand):
                    out.append((path, grand))
        elif _has_params(child):
            out.append((name, child))
    return out


class TransferNet(nn.Module):
    """A backbone with a new head and a freezing plan; behaves as the wrapped model (``self.net``).

    ``trainable_names()`` / ``frozen_names()`` list parameter names; ``param_groups()`` gives the optimizer
    groups (backbone with ``lr_scale = backbone_lr_scale``, head with 1.0), which a Trainer
    builds its optimizer from; ``summary()`` is a table of blocks.
    """

    def __init__(self, net: nn.Module, head_name: str, mode: str, unfreeze: int, backbone_lr_scale: float,
                 gray_to_rgb: bool = False):
        super().__init__()
        self.net = net
        self.head_name = head_name
        self.mode = mode
        self.unfreeze = unfreeze
        self.backbone_lr_scale = float(backbone_lr_scale)
        self.gray_to_rgb = gray_to_rgb
        blocks = feature_blocks(net, head_name)
        self.block_names = [n for n, _ in blocks]
        if mode == "head":
            trainable_blocks: list[str] = []
        elif mode == "partial":
            trainable_blocks = self.block_names[len(self.block_names) - unfreeze:]
        else:
            trainable_blocks = list(self.block_names)
        self.trainable_blocks = trainable_blocks
        head = net.get_submodule(head_name)
        self._head_param_names = {f"{head_name}.{n}" for n, _ in head.named_parameters()}  # names survive a copy
        train_ids = {id(p) for p in head.parameters()}
        for n, b in blocks:
            if n in trainable_blocks:
                train_ids |= {id(p) for p in b.parameters()}
        if mode == "full":
            train_ids |= {id(p) for p in net.parameters()}  # parameters outside any block (rare) too
        for p in net.parameters():
            p.requires_grad_(id(p) in train_ids)
        # modules whose every parameter is frozen, plus parameterless stats holders inside frozen blocks,
        # stay in eval mode (batch-norm statistics and dropout of a frozen feature extractor must not move)
        frozen_blocks = [b for n, b in blocks if n not in trainable_blocks]
        self._frozen_modules = [m for b in frozen_blocks for m in b.modules()]
        self.train(True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.gray_to_rgb and x.dim() == 4 and x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)  # a grayscale image as RGB for an ImageNet backbone
        return self.net(x)

    def train(self, mode: bool = True) -> TransferNet:
        super().train(mode)
        if mode:
            for m in self._frozen_modules:
                m.train(False)
        return self

    # ---- introspection ---------------------------------------------------------------------------------
    def trainable_names(self) -> list[str]:
        return [n for n, p in self.named_parameters() if p.requires_grad]

    def frozen_names(self) -> list[str]:
        return [n for n, p in self.named_parameters() if not p.requires_grad]

    def summary(self) -> pd.DataFrame:
        """One row per feature block and the head: parameters, trainable, learning-rate scale."""
        rows = []
        for n in self.block_names:
            b = self.net.get_submodule(n)
            trainable = n in self.trainable_blocks
            rows.append({"block": n, "params": sum(p.numel() for p in b.parameters()), "trainable": trainable,
                         "lr_scale": self.backbone_lr_scale if trainable else 0.0})
        head = self.net.get_submodule(self.head_name)
        rows.append({"block": f"{self.head_name} (new head)", "params": sum(p.numel() for p in head.parameters()),
                     "trainable": True, "lr_scale": 1.0})
        return pd.DataFrame(rows)

    def param_groups(self) -> list[dict[str, Any]]:
        """Optimizer groups of the trainable parameters: the backbone's with ``lr_scale`` =
        ``backbone_lr_scale``, the head's with 1.0 (the Trainer sets each group's lr to lr × lr_scale)."""
        named = list(self.net.named_parameters())
        head = [p for n, p in named if n in self._head_param_names]
        body = [p for n, p in named if p.requires_grad and n not in self._head_param_names]
        groups = []
        if body:
            groups.append({"params": body, "lr_scale": self.backbone_lr_scale, "name": "backbone"})
        groups.append({"params": head, "lr_scale": 1.0, "name": "head"})
        return groups

    def extra_repr(self) -> str:
        return (f"mode={self.mode!r}, head={self.head_name!r}, trainable blocks={self.trainable_blocks}, "
                f"backbone_lr_scale={self.backbone_lr_scale:g}")


# Builders whose pretrained weights expect other constructor arguments than the random-init defaults
# (torchvision sets them itself when given ``weights=``).
_PRETRAINED_KWARGS: dict[str, dict[str, Any]] = {
    "googlenet": {"transform_input": True, "aux_logits": True, "init_weights": False},
    "inception_v3": {"transform_input": True, "aux_logits": True, "init_weights": False},
}


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


SAFE_TORCH = (2, 10)  # torch.load(weights_only=True) can run code before 2.10 (CVE-2025-32434, CVE-2026-24747)


def check_safe_torch(version: str | None = None) -> None:
    """Refuse to unpickle shared files on a torch whose ``weights_only=True`` loading is known to run code."""
    import re

    v = version if version is not None else torch.__version__
    m = re.match(r"(\d+)\.(\d+)", str(v))
    if m and (int(m.group(1)), int(m.group(2))) < SAFE_TORCH:
        raise RuntimeError(f"torch {v} cannot load shared weight files safely (weights_only=True loading can run "
                           f"code before {SAFE_TORCH[0]}.{SAFE_TORCH[1]}); upgrade torch to load them")


def load_pretrained_state(weights: Any) -> dict[str, Any]:
    """The state dict of torchvision ``weights`` from the torch hub cache (downloaded there first if
    missing), loaded safely: the file's SHA-256 must start with the hash in its name (``resnet18-f37072fd.pth``)
    — checked on every load, not only after a download — and it is read with ``torch.load(...,
    weights_only=True)``, which builds tensors and plain containers only. A file planted in the cache
    (a pickle that would run code) is refused before it is unpickled.
    """
    check_safe_torch()
    url = weights.url
    filename = os.path.basename(urlparse(url).path)
    match = torch.hub.HASH_REGEX.search(filename)
    if not match or len(match.group(1)) < 8:
        raise RuntimeError(f"pretrained weights {filename}: no hash in the file name, so they cannot be checked")
    prefix = match.group(1)
    model_dir = os.path.join(torch.hub.get_dir(), "checkpoints")
    path = os.path.join(model_dir, filename)
    if not os.path.exists(path):
        os.makedirs(model_dir, exist_ok=True)
        torch.hub.download_url_to_file(url, path, hash_prefix=prefix, progress=False)  # checks the hash too
    if not os.path.isfile(path):
        raise RuntimeError(f"pretrained weights {filename} in the torch hub cache are not a regular file")
    digest = _sha256(path)
    if not digest.startswith(prefix):
        raise RuntimeError(f"pretrained weights {filename} in the torch hub cache do not match the hash in their "
                           f"name (sha256 {digest[:len(prefix)]}…, expected {prefix}…): the file is damaged or was "
                           "replaced; delete it so that it is downloaded again from the official address")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # weights_only refuses anything that is not tensors and containers
        raise RuntimeError(f"pretrained weights {filename} could not be loaded safely (weights_only=True): "
                           f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from None


def _torchvision(name: str, pretrained: bool | str, seed: int = 0) -> nn.Module:
    import torchvision

    try:
        builder_names = torchvision.models.list_models()
    except Exception:  # pragma: no cover - very old torchvision
        builder_names = []
    if name not in builder_names:
        raise ValueError(f"backbone={name!r} is not a torchvision model; e.g. resnet18, mobilenet_v3_small, "
                         f"efficientnet_b0 (all: torchvision.models.list_models())")
    if not pretrained:
        with rng.isolated(torch.Generator().manual_seed(seed)):  # random weights from ``seed``, not the global RNG
            return torchvision.models.get_model(name, weights=None)
    enum = torchvision.models.get_model_weights(name)
    try:
        weights = enum.DEFAULT if pretrained is True else enum[pretrained]
    except KeyError:
        raise ValueError(f"pretrained={pretrained!r} is not a weights name of {name}; one of "
                         f"{', '.join(w.name for w in enum)}") from None
    try:
        state = load_pretrained_state(weights)
    except (OSError, ValueError) as exc:  # not cached and no network (URLError is an OSError)
        raise RuntimeError(f"pretrained weights {weights} for {name} are not in the torch hub cache and could not "
                           f"be downloaded ({type(exc).__name__}: {exc}); run once with internet access to "
                           "download them from the official address (their hash is checked), or use "
                           "pretrained=False (random init) or a backbone you trained yourself") from None
    kwargs = dict(_PRETRAINED_KWARGS.get(name, {}))
    categories = (getattr(weights, "meta", None) or {}).get("categories")
    if categories:
        kwargs["num_classes"] = len(categories)
    with rng.isolated(torch.Generator().manual_seed(seed)):  # the random init is overwritten; no global RNG used
        net = torchvision.models.get_model(name, weights=None, **kwargs)
    net.load_state_dict(state)
    return net


def transfer(backbone: Any, num_classes: int, mode: str = "head", *, unfreeze: int = 1,
             backbone_lr_scale: float = 0.1, pretrained: bool | str = False, head: nn.Module | None = None,
             head_name: str | None = None, gray_to_rgb: bool | None = None, seed: int = 0) -> TransferNet:
    """A copy of ``backbone`` with a new ``num_classes`` head and the parameters of ``mode`` trainable.

    ``backbone``: a torchvision model name (``"resnet18"``, ``"mobilenet_v3_small"``, …; random weights
    unless ``pretrained`` — True for the default ImageNet weights, or a weights name — which must be cached
    or downloadable), any ``nn.Module``, or a Trainer/Lab (its current model). The original is never
    changed. ``unfreeze``: blocks to train in ``"partial"`` mode (counted back from the head, see
    :func:`feature_blocks`). ``head``: your own head module (default ``nn.Linear(in_features,
    num_classes)``, seeded by ``seed``). ``gray_to_rgb``: repeat 1-channel images to 3 channels (default:
    when the first convolution expects 3).

    >>> import torch, nbtrain as nt
    >>> body = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 8), torch.nn.ReLU(),
    ...                            torch.nn.Linear(8, 3))
    >>> net = nt.transfer(body, num_classes=2, mode="head")
    >>> net.trainable_names()
    ['net.4.weight', 'net.4.bias']
    """
    if mode not in MODES:
        raise ValueError(f"mode={mode!r} is not allowed; one of {', '.join(MODES)}")
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"num_classes={num_classes!r} must be an integer ≥ 1")
    if not isinstance(backbone_lr_scale, (int, float)) or not 0 < backbone_lr_scale <= 1:
        raise ValueError(f"backbone_lr_scale={backbone_lr_scale!r} must be a number in (0, 1]")
    if isinstance(backbone, str):
        net = _torchvision(backbone, pretrained, seed)
    elif isinstance(backbone, nn.Module):
        if pretrained:
            raise ValueError("pretrained=True only applies to a torchvision model name")
        net = copy.deepcopy(backbone)
    else:
        model = getattr(backbone, "model", None)
        if not isinstance(model, nn.Module):
            raise ValueError(f"backbone must be a torchvision model name, an nn.Module or a Trainer/Lab; "
                             f"got {type(backbone).__name__}")
        net = backbone.submit(copy.deepcopy).result(60) if hasattr(backbone, "submit") else copy.deepcopy(model)
    if isinstance(net, TransferNet):  # transferring a transferred model: start from its inner network
        net = net.net
        for p in net.parameters():
            p.requires_grad_(True)
    head_name = head_name or find_head(net)
    try:
        old = net.get_submodule(head_name)
    except AttributeError:
        raise ValueError(f"head_name={head_name!r} is not a submodule of {type(net).__name__}") from None
    if head is None:
        in_features = getattr(old, "in_features", None)
        if in_features is None:
            raise ValueError(f"the head {head_name!r} ({type(old).__name__}) has no in_features; pass head=…")
        with rng.isolated(torch.Generator().manual_seed(seed)):  # not the global RNG
            head = nn.Linear(in_features, num_classes)
        ref = next(iter(old.parameters()), None)
        if ref is not None:
            head = head.to(ref.device)
    parent_name, _, attr = head_name.rpartition(".")
    parent = net.get_submodule(parent_name) if parent_name else net
    setattr(parent, attr, head)
    blocks = feature_blocks(net, head_name)
    if mode == "partial":
        if isinstance(unfreeze, bool) or not isinstance(unfreeze, int) or not 1 <= unfreeze <= len(blocks):
            raise ValueError(f"unfreeze={unfreeze!r} must be an integer in [1, {len(blocks)}] "
                             f"(the feature blocks: {', '.join(n for n, _ in blocks)})")
    if gray_to_rgb is None:
        first_conv = next((m for m in net.modules() if isinstance(m, nn.Conv2d)), None)
        gray_to_rgb = first_conv is not None and first_conv.in_channels == 3
    return TransferNet(net, head_name, mode, unfreeze, backbone_lr_scale, gray_to_rgb)
