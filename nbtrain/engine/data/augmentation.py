"""Mixup and image augmentation, applied per batch by the trainer on the batch's device."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from ..checks import Range, check_choice, check_float, check_int_at_least, refuse


def _draw_seed(generator: torch.Generator | None) -> int:
    device = generator.device if generator is not None else "cpu"
    return int(torch.randint(0, 2**62, (1,), generator=generator, device=device))


def mixup(
    x: torch.Tensor,
    y: torch.Tensor,
    alpha: float,
    num_classes: int,
    generator: torch.Generator | None = None,
    *,
    lam: float | None = None,
    check: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mixup: x̃ = λx + (1−λ)x[π], ỹ = λ·onehot(y) + (1−λ)·onehot(y[π]), λ ~ Beta(α, α), π a permutation.

    One λ per batch; ``y`` may be class indices (N,) or soft targets (N, C). ``ỹ`` rows sum to 1 and work
    with ``F.cross_entropy(logits, ỹ)``. ``lam`` given: that λ (the trainer draws it on the host, so a
    training step reads nothing back from the device); ``check=False`` skips the label-range check (a read of
    the labels; the trainer checked them once at load).

    >>> x, y = torch.randn(8, 2), torch.arange(8) % 2
    >>> xm, ym = mixup(x, y, alpha=0.4, num_classes=2, generator=torch.Generator().manual_seed(0))
    >>> xm.shape, ym.shape, bool(torch.allclose(ym.sum(1), torch.ones(8)))
    (torch.Size([8, 2]), torch.Size([8, 2]), True)
    """
    if alpha not in Range(0, lo_open=True):
        refuse("mixup alpha", alpha, "a finite number > 0")
    num_classes = check_int_at_least("num_classes", num_classes, 1)
    if len(x) != len(y):
        raise ValueError(f"x and y must have the same length, got {len(x)} and {len(y)}")
    if y.ndim == 1:
        if check and len(y) and (int(y.min()) < 0 or int(y.max()) >= num_classes):
            raise ValueError(f"labels must be in [0, {num_classes - 1}], got range [{int(y.min())}, {int(y.max())}]")
        target = torch.nn.functional.one_hot(y.long(), num_classes)
    elif y.ndim == 2 and y.shape[1] == num_classes:
        target = y
    else:
        raise ValueError(f"y must be class indices (N,) or soft targets (N, {num_classes}), got {tuple(y.shape)}")
    dtype = x.dtype if x.is_floating_point() else torch.float32
    target = target.to(dtype)
    if lam is None:
        lam = float(np.random.default_rng(_draw_seed(generator)).beta(alpha, alpha))
    elif not 0.0 <= lam <= 1.0:
        raise ValueError(f"mixup lam={lam!r} must be in [0, 1]")
    gen_device = generator.device if generator is not None else "cpu"
    perm = torch.randperm(len(x), generator=generator, device=gen_device).to(x.device)
    return lam * x + (1.0 - lam) * x[perm], lam * target + (1.0 - lam) * target[perm]


AUGMENT_PRESETS: dict[str, dict[str, Any]] = {
    # digits are not mirror-symmetric (a flipped 2, 3, 7 is no digit): shifts, small rotations and scale only
    "digits": {"flip": False, "rotate": 10.0, "scale": 0.1, "color": 0.0},
    # clothing is left-right symmetric; grey images have no colour to jitter
    "fashion": {"flip": True, "rotate": 5.0, "scale": 0.05, "color": 0.0},
    # natural colour photos (CIFAR-like): the notes' crop, flip, rotate, scale and colour
    "photo": {"flip": True, "rotate": 10.0, "scale": 0.1, "color": 0.2},
}


def augment_preset(name: str | None, input_shape: Sequence[int]) -> str:
    """The label-safe preset for a dataset: ``"digits"`` for digits/MNIST and any other 1-channel set
    (flips are not safe for symbols), ``"fashion"`` for Fashion-MNIST, ``"photo"`` for colour images."""
    n = (name or "").lower()
    if n in ("fashion_mnist", "fashion-mnist", "fashionmnist"):
        return "fashion"
    if n in ("digits", "mnist") or int(input_shape[0]) != 3:
        return "digits"
    return "photo"


class Augment:
    """Per-example random image augmentation of a batch: horizontal flip, crop (pad + crop back, i.e. a
    shift), rotation by ±``rotate`` degrees and zoom by 1 ± ``scale`` (one bilinear affine warp, zero fill),
    and colour jitter: brightness, contrast and (RGB) saturation factors in 1 ± ``color``.

    Call it on an (N, C, H, W) batch on any device: ``augment(x, generator=g)``. Each example draws its own
    parameters from ``generator`` (torch's default when None); the same generator state gives the same
    result. Colour jitter is torchvision's adjust_brightness → adjust_contrast → adjust_saturation without
    the clamp to [0, 1] (batches are usually standardised).
    """

    def __init__(self, input_shape: Sequence[int], flip: bool = True, crop_padding: int = 0,
                 padding_mode: str = "constant", rotate: float = 0.0, scale: float = 0.0, color: float = 0.0):
        self.input_shape = tuple(input_shape)
        self.flip = bool(flip)
        self.crop_padding = check_int_at_least("crop_padding", crop_padding, 0)
        self.padding_mode = check_choice("padding_mode", padding_mode, ("constant", "edge", "reflect", "symmetric"))
        self.rotate = check_float("augment rotate", rotate, 0.0, 180.0)
        self.scale = check_float("augment scale", scale, 0.0, 0.9)
        self.color = check_float("augment color", color, 0.0, 1.0)

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        from torchvision.transforms.v2 import functional as F

        if tuple(x.shape[1:]) != self.input_shape:
            raise ValueError(f"augment expects a batch of shape (N, {self.input_shape}), got {tuple(x.shape)}")
        n, _, h, w = x.shape
        dev = generator.device if generator is not None else x.device

        def uniform(lo: float, hi: float) -> torch.Tensor:
            return (lo + (hi - lo) * torch.rand(n, generator=generator, device=dev)).to(x.device)

        if self.flip:
            flip = (torch.rand(n, generator=generator, device=dev) < 0.5).to(x.device)
            x = torch.where(flip[:, None, None, None], F.horizontal_flip(x), x)
        if self.rotate or self.scale:
            angle = uniform(-self.rotate, self.rotate) if self.rotate else torch.zeros(n, device=x.device)
            zoom = uniform(1.0 - self.scale, 1.0 + self.scale) if self.scale else torch.ones(n, device=x.device)
            x = affine(x, angle, zoom)
        p = self.crop_padding
        if p > 0:
            padded = F.pad(x, [p], fill=0, padding_mode=self.padding_mode)
            top = torch.randint(0, 2 * p + 1, (n,), generator=generator, device=dev).to(x.device)
            left = torch.randint(0, 2 * p + 1, (n,), generator=generator, device=dev).to(x.device)
            rows = top[:, None] + torch.arange(h, device=x.device)  # (N, H)
            cols = left[:, None] + torch.arange(w, device=x.device)  # (N, W)
            batch = torch.arange(n, device=x.device)[:, None, None]
            x = padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)
        if self.color:
            c = self.color
            x = color_jitter(x, uniform(1 - c, 1 + c), uniform(1 - c, 1 + c), uniform(1 - c, 1 + c))
        return x.contiguous()

    def __repr__(self) -> str:
        return (f"Augment(flip={self.flip}, crop_padding={self.crop_padding}, padding_mode={self.padding_mode!r}, "
                f"rotate={self.rotate:g}, scale={self.scale:g}, color={self.color:g})")


def affine(x: torch.Tensor, angle_deg: torch.Tensor, zoom: torch.Tensor) -> torch.Tensor:
    """Rotate each image of (N, C, H, W) ``x`` by ``angle_deg[i]`` (counter-clockwise, about the centre) and
    zoom it by ``zoom[i]``; bilinear, zero outside."""
    a = angle_deg.to(x.dtype) * (math.pi / 180.0)
    cos, sin, inv = torch.cos(a), torch.sin(a), 1.0 / zoom.to(x.dtype)
    n, _, h, w = x.shape
    # output pixel p (normalised coordinates) samples the input at (1/zoom)·R(angle)ᵀ p; the aspect ratio is
    # undone around the rotation so non-square images rotate rigidly
    r = h / w
    theta = torch.zeros(n, 2, 3, dtype=x.dtype, device=x.device)
    theta[:, 0, 0], theta[:, 0, 1] = cos * inv, -sin * inv * r
    theta[:, 1, 0], theta[:, 1, 1] = sin * inv / r, cos * inv
    grid = torch.nn.functional.affine_grid(theta, list(x.shape), align_corners=False)
    return torch.nn.functional.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def color_jitter(x: torch.Tensor, brightness: torch.Tensor, contrast: torch.Tensor,
                 saturation: torch.Tensor) -> torch.Tensor:
    """Per-image brightness, contrast, saturation factors (torchvision's formulas, unclamped)."""
    x = x * brightness[:, None, None, None]
    gray = _grayscale(x)
    mean = gray.mean(dim=(1, 2, 3), keepdim=True)
    x = mean + contrast[:, None, None, None] * (x - mean)
    if x.shape[1] == 3:
        gray = _grayscale(x)
        x = gray + saturation[:, None, None, None] * (x - gray)
    return x


def _grayscale(x: torch.Tensor) -> torch.Tensor:
    if x.shape[1] != 3:
        return x.mean(dim=1, keepdim=True)
    r, g, b = x[:, 0:1], x[:, 1:2], x[:, 2:3]
    return 0.2989 * r + 0.587 * g + 0.114 * b


def make_augment(
    input_shape: Sequence[int],
    flip: bool | None = None,
    crop_padding: int | None = None,
    padding_mode: str = "constant",
    rotate: float | None = None,
    scale: float | None = None,
    color: float | None = None,
    preset: str | None = None,
    dataset: str | None = None,
) -> Augment:
    """Label-safe batch augmentation for images, per dataset (any option given overrides the preset).

    ``preset`` (default: :func:`augment_preset` of ``dataset`` and the shape): ``"digits"`` — shifts,
    ±10° rotations, ±10 % zoom, **no flips** (a mirrored 2 or 7 is not a digit); ``"fashion"`` — flips,
    shifts, ±5°, ±5 %; ``"photo"`` (CIFAR-like) — flips, shifts, ±10°, ±10 %, colour jitter ±20 %.
    ``crop_padding=None`` picks H // 8 (4 for 32×32, 3 for 28×28) and 0 below 16 pixels (8×8 digits: a
    one-pixel shift is an eighth of the digit and costs accuracy). Images only: for
    feature vectors (e.g. 2-D points) it raises ``ValueError``.

    >>> aug = make_augment((3, 32, 32)); aug(torch.rand(5, 3, 32, 32)).shape
    torch.Size([5, 3, 32, 32])
    >>> make_augment((1, 8, 8), dataset="digits").flip
    False
    """
    shape = tuple(input_shape)
    if len(shape) != 3:
        raise ValueError(
            f"augmentation (flip, crop) needs images of shape (C, H, W), got input_shape {shape}; "
            f"use it with digits/mnist/cifar10-style data, or mixup for other data"
        )
    preset = preset or augment_preset(dataset, shape)
    if preset not in AUGMENT_PRESETS:
        raise ValueError(f"augment preset={preset!r} must be one of {', '.join(AUGMENT_PRESETS)}")
    opts = dict(AUGMENT_PRESETS[preset])
    for k, v in (("flip", flip), ("rotate", rotate), ("scale", scale), ("color", color)):
        if v is not None:
            opts[k] = v
    if crop_padding is None:
        # an 8×8 digit shifted by one pixel loses 1/8 of its width (measured on digits: val acc 0.96 → 0.81
        # after 600 steps); rotations and zoom move it less, so tiny images get no shift
        crop_padding = shape[1] // 8 if shape[1] >= 16 else 0
    return Augment(shape, crop_padding=crop_padding, padding_mode=padding_mode, **opts)
