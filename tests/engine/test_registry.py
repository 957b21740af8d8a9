"""The registry mechanism every choice goes through."""

import pytest

import nbtrain as nt
from nbtrain.engine.registry import Registry, UnknownNameError


def test_register_make_names_aliases_and_params():
    reg = Registry("colour")

    @reg.register("red", aliases=("rouge",), tags=("warm",))
    def red(shade: float = 1.0):
        """Pure red."""
        return (shade, 0, 0)

    reg.register("blue", lambda: (0, 0, 1), summary="Pure blue.")
    assert reg.names() == ["red", "blue"] and reg.names(tag="warm") == ["red"]
    assert reg.make("ROUGE", shade=0.5) == (0.5, 0, 0)
    assert "rouge" in reg and "green" not in reg and len(reg) == 2
    assert reg.get("red").summary == "Pure red." and reg.get("red").params == {"shade": 1.0}
    assert reg.get("blue").summary == "Pure blue."


def test_unknown_name_lists_choices_and_is_both_key_and_value_error():
    reg = Registry("colour")
    reg.register("red", lambda: 1)
    with pytest.raises(UnknownNameError, match="unknown colour 'green'; allowed: red") as info:
        reg.make("green")
    assert isinstance(info.value, KeyError) and isinstance(info.value, ValueError)
    with pytest.raises(UnknownNameError, match="must be a name"):
        reg.resolve(3)


def test_unknown_parameter_is_named_with_allowed_ones():
    reg = Registry("colour")
    reg.register("red", lambda shade=1.0: shade)
    with pytest.raises(TypeError, match="no parameter.*hue.*allowed: shade"):
        reg.make("red", hue=2)


def test_duplicate_registration_needs_replace():
    reg = Registry("colour")
    reg.register("red", lambda: 1)
    with pytest.raises(ValueError, match="already registered"):
        reg.register("red", lambda: 2)
    reg.register("red", lambda: 2, replace=True)
    assert reg.make("red") == 2


def test_a_new_registry_entry_is_usable_everywhere_by_name():
    reg = nt.activations.registry
    reg.register("cube_test", lambda: __import__("torch").nn.Identity(), summary="test entry")
    try:
        cfg = nt.TrainConfig(activation="cube_test")
        assert cfg.activation == "cube_test"
    finally:
        reg.unregister("cube_test")
    with pytest.raises(nt.ConfigError):
        nt.TrainConfig(activation="cube_test")


def test_every_registry_has_its_public_names():
    assert {"spiral", "moons", "circles", "xor", "blobs", "digits", "mnist", "fashion_mnist", "cifar10"} <= set(nt.datasets.names())
    assert {"none", "center", "normalize", "pca", "whiten", "zca"} == set(nt.data.preprocessors.names())
    assert set(nt.regularizers.names()) == {"l1", "l2", "elastic_net"}
    assert set(nt.models.names()) == {"mlp", "cnn", "resmlp"}


def test_unregister_removes_the_entry_and_its_aliases():
    from nbtrain.engine.registry import Registry, UnknownNameError

    reg = Registry("thing")
    reg.register("alpha", lambda: 1, aliases=("a",))
    reg.register("beta", lambda: 2)
    assert reg.unregister("a").name == "alpha"  # by alias: the entry it names
    assert reg.names() == ["beta"] and "a" not in reg and "alpha" not in reg
    with pytest.raises(UnknownNameError, match="allowed: beta"):
        reg.unregister("alpha")
    reg.register("alpha", lambda: 3, aliases=("a",))  # free again, no replace=True needed
    assert reg.make("a") == 3
