"""TrainConfig: every invalid value rejected with a clear message, config unchanged; exact round-trip."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nbtrain as nt
from nbtrain import ConfigError, TrainConfig

INVALID = [
    ("lr", 0, "must be a number > 0"),
    ("lr", -1e-3, "must be a number > 0"),
    ("lr", float("nan"), "must be a number > 0"),
    ("lr", 1e9, "≤ 100"),
    ("dropout", 1.0, r"must be a number ≥ 0 and < 1"),
    ("dropout", -0.1, r"≥ 0 and < 1"),
    ("dropconnect", 1.0, r"< 1"),
    ("momentum", 1.0, r"< 1"),
    ("weight_decay", -1e-4, "≥ 0"),
    ("l1", -1, "≥ 0"),
    ("l2", -1, "≥ 0"),
    ("batch_size", 0, "integer ≥ 1"),
    ("val_split", 0.0, "> 0 and < 1"),
    ("val_split", 1.0, "> 0 and < 1"),
    ("n_samples", 3, "≥ 10"),
    ("noise", -0.5, "≥ 0"),
    ("max_steps", 0, "≥ 1"),
    ("max_epochs", 0, "> 0"),
    ("eval_every", -1, "≥ 0"),
    ("stats_every", -5, "≥ 0"),
    ("warmup_steps", -1, "≥ 0"),
    ("mixup", -1, "≥ 0"),
    ("grad_clip", -1, "≥ 0"),
    ("patience", -1, "≥ 0"),
    ("init_std", 0, "> 0"),
    ("hidden", [64, 0], "each an integer in"),
    ("hidden", [-3], "each an integer in"),
    ("activation", "sigmoidd", "one of sigmoid, tanh, relu"),
    ("init", "xavierr", "one of zeros"),
    ("optimizer", "adamm", "one of sgd"),
    ("schedule", "cosinee", "one of constant"),
    ("data", "spirall", "one of spiral"),
    ("preprocess", "fancy", "one of none"),
    ("model", "transformer", "one of auto, mlp"),
    ("early_stop_metric", "val_f1", "one of val_loss"),
    ("schedule_params", {"gamma": -1.0}, "gamma"),
]


@pytest.mark.parametrize("field,value,allowed", INVALID, ids=[f"{f}={v!r}" for f, v, _ in INVALID])
def test_invalid_value_rejected_with_field_value_and_range_and_config_unchanged(field, value, allowed):
    cfg = TrainConfig(schedule="step") if field == "schedule_params" else TrainConfig()
    before = cfg.to_dict()
    with pytest.raises(ConfigError) as info:
        setattr(cfg, field, value)
    msg = str(info.value)
    assert f"TrainConfig.{field}" in msg and repr(value)[:20].rstrip("]") in msg
    assert __import__("re").search(allowed, msg), msg
    assert cfg.to_dict() == before
    assert isinstance(info.value, ValueError)


def test_wrong_types_are_rejected_too():
    cfg = TrainConfig()
    for field, value in [("lr", "fast"), ("batch_size", 2.5), ("hidden", "64"), ("batch_norm", "yes")]:
        with pytest.raises(Exception, match=field):
            setattr(cfg, field, value)
    assert cfg == TrainConfig()


def test_unknown_field_is_named():
    with pytest.raises(ConfigError, match="no field.*learning_rate.*allowed: activation"):
        TrainConfig(learning_rate=0.1)


def test_names_resolve_to_canonical():
    cfg = TrainConfig(init="he", activation="swish")
    assert cfg.init == "he_normal" and cfg.activation == "silu"


def test_round_trip_json_exactly():
    cfg = TrainConfig(activation="tanh", hidden=[32, 16, 8], lr=0.0123456789, schedule="step",
                      schedule_params={"step_size": 100, "gamma": 0.5}, dropout=0.25, max_steps=500, noise=0.3)
    s = cfg.to_json()
    again = TrainConfig.from_json(s)
    assert again == cfg and again.to_json() == s
    assert TrainConfig.from_dict(json.loads(s)).to_dict() == cfg.to_dict()


@settings(max_examples=50, deadline=None)
@given(lr=st.floats(1e-6, 100), dropout=st.floats(0, 0.99), hidden=st.lists(st.integers(1, 512), max_size=5),
       bs=st.integers(1, 4096), act=st.sampled_from(nt.activations.names()))
def test_round_trip_property(lr, dropout, hidden, bs, act):
    cfg = TrainConfig(lr=lr, dropout=dropout, hidden=hidden, batch_size=bs, activation=act)
    assert TrainConfig.from_json(cfg.to_json()) == cfg


def test_update_is_atomic():
    cfg = TrainConfig()
    with pytest.raises(ConfigError, match="dropout"):
        cfg.update(lr=0.5, dropout=2.0)
    assert cfg == TrainConfig()
    cfg.update(schedule="step", schedule_params={"gamma": 0.5})
    assert cfg.schedule == "step" and cfg.schedule_params == {"gamma": 0.5}


def test_observers_see_changes():
    cfg = TrainConfig()
    seen = []
    cfg.observe(lambda ch: seen.append((ch["name"], ch["old"], ch["new"])))
    cfg.lr = 0.3
    assert seen == [("lr", 0.1, 0.3)]


def test_live_fields_are_tagged():
    live = set(TrainConfig.live_fields())
    assert {"activation", "dropout", "lr", "schedule", "optimizer", "batch_size", "mixup", "batch_norm"} <= live
    assert not {"data", "hidden", "seed", "model"} & live


def test_lambda_schedule_is_not_json():
    cfg = TrainConfig(schedule="lambda", schedule_params={"fn": lambda t: 0.5})
    with pytest.raises(ConfigError, match="JSON"):
        cfg.to_json()
