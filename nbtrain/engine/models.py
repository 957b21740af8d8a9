"""Model builders whose activation, dropout and batch-norm can be changed in place, keeping every weight.

``make("mlp", input_shape=(2,), num_classes=3, hidden=[64, 64], activation="tanh")`` builds a model; the
generic ``set_activation(model, name)``, ``set_dropout(model, p)`` and ``set_batch_norm(model, on)`` work
on these and (as far as they can) on any user ``nn.Module``.

>>> import nbtrain as nt
>>> net = nt.models.make("mlp", input_shape=(2,), num_classes=3, hidden=[8], activation="tanh")
>>> before = [p.clone() for p in net.parameters()]
>>> _ = nt.models.set_activation(net, "relu")
>>> all((a == b).all() for a, b in zip(before, net.parameters()))
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from . import activations
from .registry import Registry
from .regularizers import DropConnectConv2d, DropConnectLinear, Dropout

registry = Registry("model")
names = registry.names


class Block(nn.Module):
    """One hidden layer: linear/conv → (batch-norm) → activation → dropout.

    The norm layer always exists so toggling batch-norm keeps every parameter; ``use_norm`` says
    whether it is applied. ``probe`` (set by ``probes.attach`` for one step): ``(list, index)`` that the
    activation's output is appended to, instead of a forward hook (hooks slow every module call down).
    """

    probe: tuple[list, int] | None = None

    def __init__(self, layer: nn.Module, norm: nn.Module, act: nn.Module, p: float, use_norm: bool):
        super().__init__()
        if getattr(act, "takes_input", False) and not act.bound:
            act.bind(layer, norm)  # maxout: its extra affine pieces are copies of this layer
        self.layer, self.norm, self.act, self.drop = layer, norm, act, Dropout(p)
        self.use_norm = bool(use_norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.layer(x)
        if self.use_norm:
            z = self.norm(z)
        a = self.act(z, x, self.use_norm) if getattr(self.act, "takes_input", False) else self.act(z)
        if self.probe is not None:
            self.probe[0].append((self.probe[1], a.detach()))
        return self.drop(a)


def _linear(a: int, b: int, dropconnect: float) -> nn.Module:
    return DropConnectLinear(a, b, p=dropconnect) if dropconnect else nn.Linear(a, b)


def _check_width(name: str, value) -> int:
    if isinstance(value, bool) or int(value) != value or value < 1:
        raise ValueError(f"{name}={value!r} must be an integer ≥ 1")
    return int(value)


class MLP(nn.Module):
    """Fully connected classifier: flatten → [Linear → (BN) → act → dropout] × len(hidden) → Linear."""

    def __init__(
        self,
        in_features: int,
        num_classes: int,
        hidden: Sequence[int] = (64, 64),
        activation: str = "relu",
        dropout: float = 0.0,
        batch_norm: bool = False,
        dropconnect: float = 0.0,
    ):
        super().__init__()
        widths = [_check_width("in_features", in_features)] + [_check_width("hidden width", h) for h in hidden]
        self.blocks = nn.ModuleList(
            Block(_linear(a, b, dropconnect), nn.BatchNorm1d(b), activations.make(activation), dropout, batch_norm)
            for a, b in zip(widths[:-1], widths[1:])
        )
        self.head = nn.Linear(widths[-1], _check_width("num_classes", num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(1)
        for block in self.blocks:
            x = block(x)
        return self.head(x)


class SmallCNN(nn.Module):
    """[Conv3×3 → (BN) → act → dropout → MaxPool2] × len(channels) → AdaptivePool(2×2) → Linear → act → Linear.

    Works for 1×8×8 (digits), 1×28×28 (MNIST) and 3×32×32 (CIFAR-10) inputs.
    """

    def __init__(
        self,
        input_shape: Sequence[int],
        num_classes: int,
        channels: Sequence[int] = (16, 32),
        hidden: Sequence[int] = (64,),
        activation: str = "relu",
        dropout: float = 0.0,
        batch_norm: bool = False,
        dropconnect: float = 0.0,
    ):
        super().__init__()
        if len(input_shape) != 3:
            raise ValueError(f"cnn input_shape={tuple(input_shape)!r} must be (channels, height, width)")
        chans = [int(input_shape[0])] + [_check_width("cnn channels", c) for c in channels]
        self.blocks = nn.ModuleList(
            Block(DropConnectConv2d(a, b, 3, padding=1, p=dropconnect) if dropconnect else nn.Conv2d(a, b, 3, padding=1),
                  nn.BatchNorm2d(b), activations.make(activation), dropout, batch_norm)
            for a, b in zip(chans[:-1], chans[1:])
        )
        self.pool = nn.MaxPool2d(2, ceil_mode=True)
        self.squeeze = nn.AdaptiveAvgPool2d(2)
        widths = [chans[-1] * 4] + [_check_width("hidden width", h) for h in hidden]
        self.fc = nn.ModuleList(
            Block(_linear(a, b, dropconnect), nn.BatchNorm1d(b), activations.make(activation), dropout, batch_norm)
            for a, b in zip(widths[:-1], widths[1:])
        )
        self.head = nn.Linear(widths[-1], _check_width("num_classes", num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = self.pool(block(x))
        x = self.squeeze(x).flatten(1)
        for block in self.fc:
            x = block(x)
        return self.head(x)


class ResidualBlock(nn.Module):
    """x + Linear₂(act(Linear₁(x))) followed by act; ``residual_last`` marks Linear₂ for zero-init.
    ``probe``: as :class:`Block`'s."""

    probe: tuple[list, int] | None = None

    def __init__(self, width: int, activation: str, dropout: float, batch_norm: bool, dropconnect: float = 0.0):
        super().__init__()
        self.inner = Block(_linear(width, width, dropconnect), nn.BatchNorm1d(width), activations.make(activation),
                           dropout, batch_norm)
        self.residual_last = _linear(width, width, dropconnect)
        self.act = activations.make(activation)
        if getattr(self.act, "takes_input", False):
            self.act.bind(self.residual_last)  # maxout over x + F(x) and k − 1 affine maps of x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x + self.residual_last(self.inner(x))
        a = self.act(s, x) if getattr(self.act, "takes_input", False) else self.act(s)
        if self.probe is not None:
            self.probe[0].append((self.probe[1], a.detach()))
        return a


class ResMLP(nn.Module):
    """Linear stem → ResidualBlock × depth → Linear head (all blocks of one width)."""

    def __init__(self, in_features: int, num_classes: int, width: int = 64, depth: int = 2,
                 activation: str = "relu", dropout: float = 0.0, batch_norm: bool = False, dropconnect: float = 0.0):
        super().__init__()
        self.stem = nn.Linear(_check_width("in_features", in_features), _check_width("width", width))
        self.blocks = nn.ModuleList(ResidualBlock(width, activation, dropout, batch_norm, dropconnect)
                                    for _ in range(_check_width("depth", depth)))
        self.head = nn.Linear(width, _check_width("num_classes", num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x.flatten(1))
        for block in self.blocks:
            x = block(x)
        return self.head(x)


@registry.register("mlp")
def mlp(input_shape: Sequence[int], num_classes: int, hidden: Sequence[int] = (64, 64), activation: str = "relu",
        dropout: float = 0.0, batch_norm: bool = False, dropconnect: float = 0.0) -> nn.Module:
    """Multi-layer perceptron on flattened inputs (any input shape)."""
    return MLP(math.prod(input_shape), num_classes, hidden, activation, dropout, batch_norm, dropconnect)


@registry.register("cnn")
def cnn(input_shape: Sequence[int], num_classes: int, hidden: Sequence[int] = (64,), activation: str = "relu",
        dropout: float = 0.0, batch_norm: bool = False, channels: Sequence[int] = (16, 32),
        dropconnect: float = 0.0) -> nn.Module:
    """Small convolutional net for C×H×W images (1×8×8, 1×28×28, 3×32×32); DropConnect on conv and fc weights."""
    return SmallCNN(input_shape, num_classes, channels, hidden, activation, dropout, batch_norm, dropconnect)


@registry.register("resmlp")
def resmlp(input_shape: Sequence[int], num_classes: int, hidden: Sequence[int] = (64, 64), activation: str = "relu",
           dropout: float = 0.0, batch_norm: bool = False, dropconnect: float = 0.0) -> nn.Module:
    """Residual MLP: one residual block per entry of ``hidden`` (width = hidden[0])."""
    return ResMLP(math.prod(input_shape), num_classes, hidden[0] if hidden else 64, max(1, len(hidden)),
                  activation, dropout, batch_norm, dropconnect)


def make(name: str, input_shape: Sequence[int], num_classes: int, *, generator: torch.Generator | None = None,
         **kw) -> nn.Module:
    """Build model ``name`` (``"auto"``: cnn for C×H×W images, else mlp). With ``generator`` (a CPU
    ``torch.Generator``) the layers' default initialisation draws from it, not from torch's global RNG."""
    if name == "auto":
        name = "cnn" if len(input_shape) == 3 else "mlp"
    if generator is None:
        return registry.make(name, input_shape=tuple(input_shape), num_classes=num_classes, **kw)
    from . import rng

    with rng.isolated(generator):
        return registry.make(name, input_shape=tuple(input_shape), num_classes=num_classes, **kw)


def accepts(name: str, input_shape: Sequence[int], option: str) -> bool:
    """Whether builder ``name`` (``"auto"`` resolved for ``input_shape``) takes keyword ``option``."""
    if name == "auto":
        name = "cnn" if len(input_shape) == 3 else "mlp"
    return option in registry.get(name).params


# ---- generic in-place changes (our models and any user nn.Module) -------------------------------------

def output_layer(model: nn.Module) -> nn.Linear | None:
    """The classifier head of a built-in model (its ``head``: the Linear that outputs the logits), else None."""
    head = getattr(model, "head", None)
    return head if isinstance(head, nn.Linear) and isinstance(model, (MLP, SmallCNN, ResMLP)) else None


@torch.no_grad()
def scale_output_layer(model: nn.Module, factor: float) -> bool:
    """Multiply the initial weights of a built-in model's output layer by ``factor`` (its bias stays 0).

    With ``factor`` ≈ 0.01 the logits start near 0: the softmax predicts ≈ 1/C for every class and the
    initial cross-entropy is ≈ log C whatever the hidden layers' initializer (the recipe's step 1); the
    hidden layers, and so the activation statistics, are unchanged. Returns False for other models.
    """
    head = output_layer(model)
    if head is None:
        return False
    if factor != 1.0:
        head.weight.mul_(float(factor))
    return True


def activation_slots(model: nn.Module) -> list[tuple[nn.Module, str, nn.Module]]:
    """(parent, attribute, module) for every activation module in ``model``, in definition order.

    In our models these are the ``act`` attributes; in a user model, any module of a registered
    activation type (nn.Identity excluded: it is often a placeholder, not an activation).
    """
    slots = []
    for parent in model.modules():
        for attr, child in parent.named_children():
            if isinstance(parent, (Block, ResidualBlock)):
                if attr == "act":
                    slots.append((parent, attr, child))
            elif activations.name_of(child) not in (None, "identity"):
                slots.append((parent, attr, child))
    return slots


def set_activation(model: nn.Module, name: str, **params) -> list[nn.Parameter]:
    """Replace every activation in ``model`` by a fresh ``name`` module; weights are untouched.

    Returns the new learnable parameters (PReLU slopes, maxout pieces) so an optimizer can adopt them.
    Raises ``ValueError`` if the model has no activation it can swap.
    """
    slots = activation_slots(model)
    if not slots:
        raise ValueError(f"{type(model).__name__} has no swappable activation modules")
    name = activations.registry.resolve(name)
    layerwise = "layer" in activations.registry.get(name).tags
    if layerwise and not all(isinstance(parent, (Block, ResidualBlock)) for parent, _, _ in slots):
        raise ValueError(f"activation {name!r} maxes over affine maps of a layer's input: only nbtrain's models "
                         f"(mlp, cnn, resmlp) can swap it in; {type(model).__name__} has activations outside them")
    new_params: list[nn.Parameter] = []
    for parent, attr, old in slots:
        act = activations.make(name, **params)
        if layerwise:
            act.bind(parent.layer if isinstance(parent, Block) else parent.residual_last,
                     parent.norm if isinstance(parent, Block) else None)
        ref = next(iter(old.parameters()), None) if old is not None else None
        ref = ref if ref is not None else next(iter(parent.parameters()), None)
        if ref is not None:
            act = act.to(ref.device)
        act.train(old.training)
        setattr(parent, attr, act)
        new_params.extend(act.parameters())
    return new_params


def can_swap_in(model: nn.Module, name: str) -> bool:
    """False when ``name`` is a layer-wise activation (maxout) and ``model`` has activations it cannot bind."""
    if name not in activations.registry or "layer" not in activations.registry.get(name).tags:
        return True
    return all(isinstance(parent, (Block, ResidualBlock)) for parent, _, _ in activation_slots(model))


def current_activation(model: nn.Module) -> str | None:
    """Registry name of the model's (first) activation, or None."""
    slots = activation_slots(model)
    return activations.name_of(slots[0][2]) if slots else None


def set_dropout(model: nn.Module, p: float) -> int:
    """Set the rate of every dropout layer (and DropConnect is left alone); returns how many changed."""
    count = 0
    for m in model.modules():
        if isinstance(m, nn.Dropout):
            m.p = p if isinstance(m, Dropout) else _valid_p(p)
            count += 1
    return count


def _valid_p(p: float) -> float:
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout p={p!r} must be in [0, 1)")
    return float(p)


def set_batch_norm(model: nn.Module, on: bool) -> int:
    """Switch batch-norm on/off in every block that supports it; returns the number of blocks."""
    count = 0
    for m in model.modules():
        if isinstance(m, Block):
            m.use_norm = bool(on)
            count += 1
    if not count and on:
        raise ValueError(f"{type(model).__name__} has no batch-norm blocks to switch on")
    return count


def supports_batch_norm(model: nn.Module) -> bool:
    return any(isinstance(m, Block) for m in model.modules())
