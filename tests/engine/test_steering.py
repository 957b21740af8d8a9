"""Live steering that cannot break: combined validation, config == engine, rollback, user models checked
up front (issue 10). Each reproducer of the issue is a regression test here; ``test_property_*`` drives a
running trainer from three threads at once."""

import threading
import time
import warnings

import pytest
import torch
from torch import nn

import nbtrain as nt
from nbtrain.engine import rules
from nbtrain.engine.config import ConfigError, TrainConfig

SMALL = dict(data="spiral", hidden=[8], device="cpu", stats_every=0)


def live(cfg: TrainConfig) -> dict:
    return {f: getattr(cfg, f) for f in cfg.live_fields()}


def settle(tr: nt.Trainer) -> None:
    """Let every accepted change reach a step boundary (two boundaries: commands run before changes)."""
    tr.submit(lambda m: None).result(10)
    tr.submit(lambda m: None).result(10)


def assert_agree(tr: nt.Trainer) -> None:
    settle(tr)
    assert tr.in_use() == live(tr.config)


@pytest.fixture
def trainer():
    made = []

    def make(**kw):
        tr = nt.Trainer(**{**SMALL, **kw})
        made.append(tr)
        return tr

    yield make
    for tr in made:
        tr.close()


# ---- valid alone, fatal together ------------------------------------------------------------------------
@pytest.mark.parametrize("running", [False, True], ids=["idle", "running"])
def test_lr_below_the_cyclic_min_lr_is_refused_naming_both_fields_and_a_way_out(trainer, running):
    tr = trainer(lr=0.1, schedule="cyclic", schedule_params={"min_lr": 0.05})
    if running:
        tr.start()
        tr.wait(steps=3, timeout=20)
    before = tr.config.to_dict()
    with pytest.raises(ConfigError) as info:
        tr.config.lr = 0.01
    msg = str(info.value)
    assert "min_lr=0.05" in msg and "lr=0.01" in msg and "update(lr=0.01, schedule_params=" in msg
    assert tr.config.to_dict() == before and tr.state != "error"
    tr.config.update(lr=0.01, schedule_params={"min_lr": 0.005})  # the way out the message names
    assert_agree(tr)
    assert tr.schedule.base_lr == 0.01 and tr.schedule.params["min_lr"] == 0.005
    if running:
        step = tr.global_step
        assert tr.wait(steps=step + 5, timeout=20) == "running"
        assert tr.history["lr"].iloc[-1] <= 0.01 + 1e-12
    tr.stop()


def test_nesterov_then_momentum_zero_is_refused_and_the_run_goes_on(trainer):
    tr = trainer(optimizer="nesterov")
    tr.start()
    with pytest.raises(ConfigError, match=r"optimizer='nesterov' needs momentum > 0, but momentum=0"):
        tr.config.momentum = 0.0
    assert tr.config.momentum == 0.9
    tr.config.update(optimizer="sgd", momentum=0.0)  # the named way out
    assert_agree(tr)
    assert tr.wait(steps=tr.global_step + 5, timeout=20) == "running"
    tr.stop()


def test_batch_norm_with_a_last_batch_of_one_merges_it_and_trains(trainer):
    tr = trainer(batch_norm=True, batch_size=239, max_steps=10)
    assert tr._n_train == 240  # 239 + a last batch of 1 per epoch
    assert tr.start().wait(timeout=60) == "finished" and tr.error is None
    epochs = tr.history.dropna(subset=["train_loss"])["epoch"].to_numpy()
    assert len(epochs) == 10 and (epochs[1:] - epochs[:-1] > 0.99).all()  # every batch is a whole epoch: the single one was merged
    # switched on live, from the Lab's controls, at a batch size with the same remainder
    tr2 = trainer(batch_size=239, max_steps=30)
    tr2.start().wait(steps=3, timeout=20)
    tr2.config.batch_norm = True
    assert tr2.wait(timeout=60) == "finished" and tr2.error is None
    assert_agree(tr2)


def test_batch_norm_needs_two_examples_per_batch(trainer):
    tr = trainer(batch_size=1)
    with pytest.raises(ConfigError, match=r"batch_norm=True needs batch_size ≥ 2.*batch_size=1"):
        tr.config.batch_norm = True
    tr.config.batch_norm = False
    tr2 = trainer(batch_norm=True)
    with pytest.raises(ConfigError, match="batch_size"):
        tr2.config.batch_size = 1
    assert tr2.config.batch_size == 32


def test_a_user_dataloader_batch_of_one_is_skipped_under_batch_norm(trainer):
    X, y = torch.randn(33, 2), torch.arange(33) % 3
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=16)  # 16, 16, 1
    tr = trainer(data=loader, batch_norm=True, max_steps=9)
    assert tr.start().wait(timeout=60) == "finished" and tr.error is None


def test_refused_changes_leave_config_engine_copy_save_and_load_working(trainer, tmp_path):
    tr = trainer(lr=0.1, schedule="cyclic", schedule_params={"min_lr": 0.05}, optimizer="nesterov")
    for bad in (dict(lr=0.01), dict(momentum=0.0), dict(batch_norm=True, batch_size=1)):
        with pytest.raises(ConfigError):
            tr.config.update(**bad)
    assert_agree(tr)
    tr.config.update(lr=0.1)  # no longer refused after a refusal
    assert tr.config.copy() == tr.config
    tr.step(4).wait(timeout=20)
    again = nt.Trainer.load(tr.save(tmp_path / "run.pt"), device="cpu")
    try:
        assert again.config == tr.config and again.global_step == 4
        assert_agree(again)
    finally:
        again.close()


def test_other_cross_field_rules():
    cfg = TrainConfig(schedule="sgdr")
    with pytest.raises(ConfigError, match=r"eta_min=0.5 is above lr=0.1"):
        cfg.schedule_params = {"eta_min": 0.5}
    with pytest.raises(ConfigError, match="no validation set"):
        TrainConfig(val_split=None, patience=3)
    assert TrainConfig(val_split=None, patience=3, early_stop_metric="train_loss").val_split is None
    with pytest.raises(ConfigError, match=r"schedule='cosine' with schedule_params=\{'min_lr': 0.01\}"):
        TrainConfig(schedule="cyclic", schedule_params={"min_lr": 0.01}).schedule = "cosine"
    # every rule names the fields it reads, and the default config passes them all
    assert all(fields for fields, _ in rules.RULES.values())
    assert rules.check(TrainConfig().to_dict()) is None


def test_update_is_one_transaction_where_single_steps_would_be_refused():
    cfg = TrainConfig(lr=0.1, schedule="cyclic", schedule_params={"min_lr": 0.05})
    cfg.update(schedule_params={"min_lr": 0.001}, lr=0.01)  # either order of the fields
    assert (cfg.lr, cfg.schedule_params) == (0.01, {"min_lr": 0.001})
    seen = []
    cfg.observe(lambda ch: seen.append((ch["name"], cfg.lr, dict(cfg.schedule_params))))
    cfg.update(lr=0.2, schedule_params={"min_lr": 0.15})
    assert all((lr, p) == (0.2, {"min_lr": 0.15}) for _, lr, p in seen)  # observers see only the whole new config


def test_update_from_three_threads_never_mixes_one_schedule_with_anothers_parameters(trainer):
    tr = trainer()
    tr.start()
    pairs = [("step", {"step_size": 7, "gamma": 0.5}), ("cyclic", {"min_lr": 0.02, "step_size": 9}),
             ("cosine", {"alpha": 0.3})]
    seen_mixed = []

    def observer(change):
        s, p = tr.config.schedule, dict(tr.config.schedule_params)
        if (s, p) not in pairs and (s, p) != ("constant", {}):
            seen_mixed.append((s, p))

    tr.config.observe(observer, names=["schedule", "schedule_params"])
    barrier = threading.Barrier(3)

    def work(i):
        barrier.wait()
        for k in range(30):
            s, p = pairs[(i + k) % 3]
            tr.config.update(schedule=s, schedule_params=p)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert (tr.config.schedule, tr.config.schedule_params) in pairs and not seen_mixed
    assert_agree(tr)
    assert tr.schedule.name == tr.config.schedule
    assert {k: tr.schedule.params[k] for k in tr.config.schedule_params} == tr.config.schedule_params
    assert tr.state == "running"
    tr.stop()


# ---- rollback when only the training thread can tell ------------------------------------------------------
class _Picky(nn.Module):
    """A user model whose forward fails with tanh activations (a conflict no rule can know in advance)."""

    def __init__(self):
        super().__init__()
        self.l1, self.act, self.l2 = nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 3)

    def forward(self, x):
        if isinstance(self.act, nn.Tanh):
            raise RuntimeError("this model cannot run with tanh")
        return self.l2(self.act(self.l1(x)))


def test_a_change_that_breaks_the_next_step_is_rolled_back_and_the_run_pauses_with_the_reason(trainer):
    tr = trainer(model=_Picky(), data=nt.load_data("spiral").tensors("train"), max_steps=None)
    tr.start()
    tr.wait(steps=5, timeout=20)
    tr.config.activation = "tanh"  # accepted: nothing can tell in advance that this model refuses it
    deadline = time.monotonic() + 20
    while tr.config.activation != "relu" and time.monotonic() < deadline:
        time.sleep(0.02)
    assert tr.state == "paused" and tr.error is None
    assert "activation 'relu' → 'tanh'" in tr.message and "rolled back" in tr.message and "cannot run with tanh" in tr.message
    assert tr.config.activation == "relu"
    assert_agree(tr)
    step = tr.global_step
    assert tr.start().wait(steps=step + 5, timeout=20) == "running"  # it goes on from where it was
    tr.stop()


def test_a_model_that_fails_by_itself_is_still_an_error(trainer):
    class Broken(nn.Linear):
        def forward(self, x):
            if self.training:
                raise RuntimeError("boom")
            return super().forward(x)

    tr = trainer(model=Broken(2, 3), data=nt.load_data("spiral").tensors("train"))
    tr.start()
    with pytest.raises(nt.engine.trainer.TrainingError, match="boom"):
        tr.wait(timeout=20)
    assert tr.state == "error"


# ---- learnable activations and the optimizer ------------------------------------------------------------
@pytest.mark.parametrize("optimizer", ["adam", "momentum"])
def test_activation_swaps_rebuild_param_groups_keep_surviving_state_and_save_load(trainer, tmp_path, optimizer):
    tr = trainer(optimizer=optimizer, max_steps=None)
    tr.step(5).wait(timeout=20)
    first = tr.model.net[0].layer.weight if hasattr(tr.model, "net") else next(tr.model.parameters())
    state_before = {k: v.clone() for k, v in tr.optimizer.state[first].items() if torch.is_tensor(v)}
    for act in ("prelu", "relu", "prelu"):
        tr.config.activation = act
        tr.step(3).wait(timeout=20)
    assert len(tr.optimizer.param_groups) == 1
    model_params = list(tr.model.parameters())
    opt_params = tr.optimizer.param_groups[0]["params"]
    assert len(opt_params) == len(model_params) and all(a is b for a, b in zip(opt_params, model_params))
    assert any(isinstance(m, nn.PReLU) for m in tr.model.modules())
    assert first in tr.optimizer.state and state_before  # the surviving weight kept its moments
    again = nt.Trainer.load(tr.save(tmp_path / "swaps.pt"), device="cpu")
    try:
        assert again.config.activation == "prelu" and again.global_step == tr.global_step
        assert len(again.optimizer.param_groups) == 1
        assert again.step(2).wait(timeout=20) == "paused"
    finally:
        again.close()


def test_activation_swaps_keep_the_state_of_surviving_params_exactly(trainer):
    tr = trainer(optimizer="adam")
    tr.step(5).wait(timeout=20)
    snap = {id(p): {k: v.clone() for k, v in s.items()} for p, s in tr.optimizer.state.items()}
    tr.config.activation = "prelu"
    settle(tr)
    for p, s in tr.optimizer.state.items():
        assert all(torch.equal(s[k], snap[id(p)][k]) for k in s)
    assert len(tr.optimizer.state) == len(snap)  # the new PReLU slopes have no state yet


# ---- user model and data checked at construction ----------------------------------------------------------
X4, Y3 = torch.randn(90, 4), torch.arange(90) % 3


def test_labels_beyond_the_models_outputs_are_refused_at_construction():
    with pytest.raises(ValueError, match=r"labels go up to 5 \(6 classes\), but Linear outputs 3 logits"):
        nt.Trainer(nn.Linear(4, 3), data=(X4, torch.arange(90) % 6), device="cpu")


def test_logits_of_shape_n_are_refused_with_the_fix():
    model = nn.Sequential(nn.Linear(4, 1), nn.Flatten(0))
    with pytest.raises(ValueError, match=r"shape \(8,\).*needs shape \(8, 2\).*2 logits"):
        nt.Trainer(model, data=(X4, Y3 % 2), device="cpu")


def test_input_width_mismatch_is_explained():
    with pytest.raises(ValueError, match=r"cannot take the data's inputs.*\(8, 4\).*mat1 and mat2"):
        nt.Trainer(nn.Linear(5, 3), data=(X4, Y3), device="cpu")


@pytest.mark.parametrize("split", ["train", "val"])
def test_nan_or_inf_in_training_or_validation_data_is_refused(split):
    bad = X4.clone()
    bad[7, 2] = float("inf") if split == "train" else float("nan")
    data, val = ((bad, Y3), (X4, Y3)) if split == "train" else ((X4, Y3), (bad, Y3))
    name = "training" if split == "train" else "validation"
    with pytest.raises(ValueError, match=rf"the {name} inputs contain NaN/Inf values in 1 of 90 examples \(the first at index 7\)"):
        nt.Trainer(nn.Linear(4, 3), data=data, val_data=val, device="cpu")
    with pytest.raises(ValueError, match=name):  # built-in model on user data too
        nt.Trainer(data=data, val_data=val, device="cpu")


def test_the_dry_run_leaves_the_weights_and_batch_norm_statistics_untouched():
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    tr = nt.Trainer(model, data=(X4, Y3), device="cpu")
    try:
        assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
        assert model.training
    finally:
        tr.close()


def test_a_user_model_without_data_is_an_error_unless_it_fits_the_default_data():
    with pytest.raises(ValueError, match=r"Trainer\(Linear\) needs data=.*'spiral'"):
        nt.Trainer(nn.Linear(4, 3), device="cpu")
    with pytest.warns(UserWarning, match=r"without data=: training Linear on the built-in 'spiral' dataset"):
        nt.Trainer(nn.Linear(2, 3), device="cpu").close()


def test_more_outputs_than_classes_warns():
    with pytest.warns(UserWarning, match=r"Linear outputs 7 logits per example but the data has 3 classes"):
        nt.Trainer(nn.Linear(4, 7), data=(X4, Y3), device="cpu").close()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nt.Trainer(nn.Linear(4, 3), data=(X4, Y3), device="cpu").close()  # an exact fit says nothing


def test_an_absurd_inferred_class_count_is_refused():
    y = Y3.clone()
    y[0] = 100000
    with pytest.raises(ValueError, match=r"labels go up to 100000.*100001 classes.*only 4 distinct"):
        nt.Trainer(data=(X4, y), device="cpu")
    tr = nt.Trainer(data=(X4, Y3 + 1), device="cpu")  # 1-based labels: 4 classes, fine
    assert tr.data.num_classes == 4
    tr.close()


# ---- smaller items ----------------------------------------------------------------------------------------
def test_a_dataloader_over_an_iterable_dataset_trains(trainer):
    class Stream(torch.utils.data.IterableDataset):
        def __iter__(self):
            g = torch.Generator().manual_seed(0)
            for i in range(64):
                yield torch.randn(2, generator=g), i % 2

    tr = trainer(data=torch.utils.data.DataLoader(Stream(), batch_size=8), max_steps=20)
    assert tr.start().wait(timeout=60) == "finished"
    assert tr.epoch == pytest.approx(2.0) and tr.data.num_classes == 2
    assert "train=None" in repr(tr.data)


def test_val_split_none_means_no_validation_set(trainer):
    cfg = TrainConfig(val_split=None)
    assert TrainConfig.from_json(cfg.to_json()).val_split is None
    tr = trainer(val_split=None, max_steps=5)
    assert tr.data.val is None and tr._val is None
    assert tr.start().wait(timeout=30) == "finished"
    assert tr.history["val_loss"].isna().all() and tr.history["train_acc"].notna().any()
    with pytest.raises(ConfigError, match="no validation set"):
        tr.config.patience = 3


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without a GPU")
def test_cuda_without_a_gpu_is_a_clear_error():
    with pytest.raises(ValueError, match=r"device='cuda': no CUDA GPU is available here.*device='auto'"):
        nt.Trainer(device="cuda")


def test_reset_racing_start_from_another_thread(trainer):
    tr = trainer(max_steps=None)
    tr.start()
    errors = []

    def starter():
        for _ in range(50):
            try:
                tr.start()
            except Exception as exc:  # noqa: BLE001
                errors.append(exc)

    for _ in range(5):
        t = threading.Thread(target=starter)
        t.start()
        tr.reset()
        t.join(30)
    assert not errors and tr.state in ("idle", "running")
    tr.stop()
    tr.reset()
    assert tr.global_step == 0 and tr.state == "idle"


def test_a_failed_reset_keeps_the_run(trainer):
    tr = trainer(n_samples=20)
    tr.step(3).wait(timeout=20)
    tr.config.val_split = 0.01  # fine alone; leaves no validation example out of 20 at the rebuild
    with pytest.raises(ConfigError, match="reset\\(\\) could not rebuild.*val_split"):
        tr.reset()
    assert tr.global_step == 3 and tr.state == "stopped" and len(tr.history) == 3  # stopped, nothing lost
    assert tr.step(2).wait(timeout=20) == "paused" and tr.global_step == 5
    tr.config.val_split = 0.2
    tr.reset()
    assert tr.global_step == 0


def test_a_user_model_with_a_swapped_activation_saves_and_loads(tmp_path):
    def net():
        torch.manual_seed(0)
        return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))

    tr = nt.Trainer(net(), data=(X4, Y3), device="cpu", optimizer="adam")
    try:
        tr.step(3).wait(timeout=20)
        tr.config.activation = "prelu"
        tr.step(3).wait(timeout=20)
        again = nt.Trainer.load(tr.save(tmp_path / "user.pt"), model=net(), data=(X4, Y3), device="cpu")
        assert again.config.activation == "prelu" and isinstance(again.model[1], nn.PReLU)
        assert torch.equal(again.model[1].weight, tr.model[1].weight) and again.global_step == 6
        assert len(again.optimizer.param_groups) == 1 and again.step(2).wait(timeout=20) == "paused"
        again.close()
    finally:
        tr.close()


def test_a_step_hook_changing_the_config_while_another_thread_does_too_cannot_deadlock(trainer):
    """Scene cues and replays change the config at step boundaries; a slider moved at the same moment
    must not deadlock (the config's lock comes before the trainer's)."""
    tr = trainer()
    done = threading.Event()

    def slider():  # a thousand moves a second (a dragged slider sends ~60): a busy loop with no pause would
        i = 0          # hold the GIL and starve the training thread's every re-acquire, not test the locks
        while not done.is_set():
            tr.config.lr = 0.05 + (i % 5) * 0.01
            i += 1
            time.sleep(0.001)

    t = threading.Thread(target=slider, daemon=True)
    t.start()
    for k in range(150):
        tr._add_hook(k + 1, lambda t, k=k: t.config.update(dropout=0.1 * (k % 3)))
    tr.step(200)
    runner = threading.Thread(target=tr.wait, kwargs={"timeout": 60}, daemon=True)
    runner.start()
    runner.join(60)
    done.set()
    t.join(10)
    assert not runner.is_alive() and not t.is_alive(), "deadlock between a step hook and a config change"
    assert tr.global_step == 200 and tr.state == "paused"
    assert tr.in_use() == live(tr.config)
