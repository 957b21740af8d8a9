"""The tuning recipe's tools, clients of the :class:`~nbtrain.engine.trainer.Trainer`.

``sanity`` (the initial loss, over-fitting a few batches), ``lr_finder`` (the LR range test), ``search``
(grid and random search, its space in ``space`` and one trial in ``trial``), ``diagnose`` (reading the
learning curves), ``ensemble`` (model and snapshot ensembles) and ``transfer`` (reusing a trained network).
``targets`` is what they share: the trainer a tool is pointed at, and a copy of its model and data.

They use the engine only (no widgets); their views live in :mod:`nbtrain.ui`. The public names are
``nt.check_initial_loss``, ``nt.overfit_small``, ``nt.find_lr``, ``nt.search``, ``nt.diagnose``,
``nt.ensemble``, ``nt.snapshot_ensemble`` and ``nt.transfer``.
"""
