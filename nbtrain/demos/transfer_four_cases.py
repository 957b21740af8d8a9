"""Transfer learning's four cases: how much target data × how similar it is to the pre-training task.

The lecture notes' rule of thumb: little data and a similar task → train only a new head; lots of data and a
similar task → fine-tune a few top layers; lots of data and a different task → fine-tune everything; little
data and a different task → the hard case, try and measure. ``transfer_cases_data`` tries all four on the 8×8
digits: a small CNN is pre-trained to recognise the 10 digits on 1000 images; the target task is a new
question on the other 797 images, *is the digit even or odd?*

* **similar**: the images as they are (same strokes, a new labelling);
* **different**: the same images with their 64 pixels in a fixed random order — no strokes or local shapes
  left for the convolutional features to find,

with ``little`` (20 labels) or ``a lot`` (all 497 training images), each trained from scratch
and with ``head`` / ``partial`` / ``full`` transfer for the same number of steps.

>>> r = transfer_cases_data(little=10, steps=20, pretrain_steps=20)   # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import torch

from ..engine.checks import check_int, check_seed

METHODS = ("scratch", "head", "partial", "full")
SIMILARITY = ("similar", "different")
SIZES = ("little", "a lot")


@dataclass
class TransferCasesResult:
    table: pd.DataFrame  # rows: (size, similarity); columns: METHODS; values: validation accuracy
    models: dict[tuple[str, str, str], torch.nn.Module]  # (size, similarity, method) -> the trained model
    val: dict[str, tuple[torch.Tensor, torch.Tensor]]  # similarity -> (X, y) validation set of the target task
    source_acc: float

    def best(self, size: str, similarity: str) -> str:
        return str(self.table.loc[(size, similarity)].idxmax())


def _tasks(seed: int):
    import nbtrain as nt

    X, y = nt.data.digits()
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    X, y = X[perm], y[perm]
    pixels = torch.randperm(64, generator=torch.Generator().manual_seed(seed + 1))
    XT, yT = X[1000:], y[1000:] % 2  # target: even or odd, on images the backbone never saw
    targets = {"similar": XT, "different": XT.flatten(1)[:, pixels].reshape(XT.shape)}
    return (X[:1000], y[:1000]), targets, yT, 300


def transfer_cases_data(little: int = 20, steps: int = 200, pretrain_steps: int = 400, seed: int = 0,
                        unfreeze: int = 2) -> TransferCasesResult:
    """Pre-train on the 10 digits (1000 images), then train every (size, similarity, method) on the parity of
    the other 797 images (300 of them validate) for ``steps`` steps."""
    import nbtrain as nt

    little = check_int("little", little, 5, 500)
    steps = check_int("steps", steps, 1, 5000)
    pretrain_steps = check_int("pretrain_steps", pretrain_steps, 1, 10_000)
    seed = check_seed(seed)
    (XS, yS), targets, yT, n_val = _tasks(seed)
    n_src_val = 200
    with nt.Trainer(model="cnn", data=(XS[n_src_val:], yS[n_src_val:]), val_data=(XS[:n_src_val], yS[:n_src_val]),
                    optimizer="momentum", lr=0.05, max_steps=pretrain_steps, seed=seed) as source:
        source.start().wait()
        source_acc = float(source.metrics.last("val_acc"))
        backbone = source.model
        rows, models, val = [], {}, {}
        for similarity in SIMILARITY:
            XT = targets[similarity]
            Xv, yv = XT[:n_val], yT[:n_val]
            val[similarity] = (Xv, yv)
            for size in SIZES:
                pool_X, pool_y = XT[n_val:], yT[n_val:]
                if size == "little":
                    idx = torch.cat([torch.nonzero(pool_y == c)[: little // 2, 0] for c in range(2)])
                    pool_X, pool_y = pool_X[idx], pool_y[idx]
                row = {"size": size, "similarity": similarity, "labels": len(pool_y)}
                for method in METHODS:
                    if method == "scratch":
                        model = nt.models.make("cnn", (1, 8, 8), 2)
                    else:
                        model = nt.transfer(backbone, num_classes=2, mode=method, unfreeze=unfreeze)
                    with nt.Trainer(model=model, data=(pool_X, pool_y), val_data=(Xv, yv), optimizer="momentum",
                                    lr=0.05, batch_size=min(32, len(pool_y)), max_steps=steps, seed=seed + 1) as tr:
                        tr.start().wait()
                        row[method] = float(tr.metrics.last("val_acc"))
                        models[(size, similarity, method)] = tr.model
                rows.append(row)
    table = pd.DataFrame(rows).set_index(["size", "similarity"])
    return TransferCasesResult(table, models, val, source_acc)
