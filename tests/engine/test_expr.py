"""The safe expression language of nbtrain.engine.expr (the ``lambda`` schedule's fn(t) box): known escape
payloads are refused with the construct named and no side effect; allowed formulas evaluate like Python's
own arithmetic; arbitrary text never raises anything but ExpressionError."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from nbtrain.engine import schedules
from nbtrain.engine.expr import MAX_LENGTH, Expression, ExpressionError


def payloads(marker: str) -> dict[str, str]:
    """Escape attempts, each of which would create ``marker`` if it ran as Python."""
    touch = f"__import__('os').system('touch {marker}')"
    return {
        "subclasses": f"[c for c in ().__class__.__base__.__subclasses__() if c.__name__=='Popen'][0]"
                      f"(['touch','{marker}']).wait()",
        "import": touch,
        "attribute chain": f"().__class__.__bases__[0].__subclasses__()[0]('{marker}')",
        "attribute on t": "t.__class__.__mro__",
        "lambda": f"(lambda: {touch})()",
        "f-string": f"f'{{{touch}}}'",
        "comprehension": f"[{touch} for _ in [1]]",
        "generator": f"sum({touch} for _ in (1,))",
        "walrus": "(x := 1) + t",
        "subscript": "[t][0]",
        "string": "'a' * 10**9",
        "open": f"open('{marker}', 'w')",
        "eval": f"eval(\"{touch}\")",
        "exec": f"exec(\"{touch}\")",
        "getattr": "getattr(t, '__class__')",
        "globals": "globals()",
        "builtins": "__builtins__",
        "module attribute": "math.__dict__",
        "numpy escape": f"np.os.system('touch {marker}')",
        "keyword args": "max(1, t, key=abs)",
        "unreached branch": f"t if t >= 0 else {touch}",
        "starred": "max(*[1, 2])",
        "bitwise": "t << 1000000",
        "is": "t is t",
        "complex": "1j * t",
        "bytes": "b'x'",
        "boolean": "True",
        "too long": "t + " * (MAX_LENGTH // 4 + 10) + "t",
        "deep nesting": "abs(" * 150 + "t" + ")" * 150,
        "deep brackets": "-(" * 120 + "t" + ")" * 120,
        "deep unary": "-" * 600 + "t",
        "many nodes": "+".join(["t"] * 500),
    }


def test_escape_payloads_are_refused_with_no_side_effect(tmp_path):
    marker = tmp_path / "pwned"
    for name, text in payloads(str(marker)).items():
        with pytest.raises(ExpressionError) as err:
            f = Expression(text)
            f(0)  # (nothing above parses; evaluating would be the second line of defence)
        assert "not allowed" in str(err.value) or "not an expression" in str(err.value), (name, err.value)
        assert not marker.exists(), name


@pytest.mark.parametrize("text, construct", [
    ("().__class__", "attribute access (.__class__)"),
    ("[c for c in t]", "comprehensions"),
    ("(lambda: 1)()", "lambda"),
    ("f'{t}'", "f-strings"),
    ("__import__('os')", "'__import__' is not one of the allowed functions"),
    ("[t][0]", "subscripts"),
    ("[t, 1]", "lists"),
    ("x + 1", "unknown name 'x'"),
    ("'abc'", "text literals"),
    ("max(1, t, key=abs)", "keyword arguments"),
    ("t @ t", "bitwise and matrix operators"),
    ("sqrt(" * 45 + "t" + ")" * 45, "nesting deeper than"),
])
def test_refusals_name_the_construct(text, construct):
    with pytest.raises(ExpressionError, match=None) as err:
        Expression(text)
    assert construct in str(err.value), str(err.value)


@pytest.mark.parametrize("text", ["9**9**9**9", "10**10**10", "exp(1e6)", "1e308 * 10 * t + 1e308 * 10", "1 / (t - 3)",
                                  "log(t - 10)", "sqrt(-1 - t)", "t // 0", "0 ** -1"])
def test_huge_exponents_and_math_errors_are_refused_at_evaluation(text):
    f = Expression(text)
    with pytest.raises(ExpressionError, match=r"fails at t=3|must be a finite number"):
        f(3)


def test_allowed_formulas_evaluate_like_python():
    t_values = [0, 1, 7, 99, 100, 250, 1000]
    cases = {
        "0.5 ** (t // 100)": lambda t: 0.5 ** (t // 100),
        "min(1, (t + 1) / 10) * exp(-t / 1000)": lambda t: min(1, (t + 1) / 10) * math.exp(-t / 1000),
        "t if t < 10 else 10 + (t - 10) / 2": lambda t: t if t < 10 else 10 + (t - 10) / 2,
        "1 / sqrt(max(t, 1))": lambda t: 1 / math.sqrt(max(t, 1)),
        "0.5 * (1 + cos(pi * t / 1000))": lambda t: 0.5 * (1 + math.cos(math.pi * t / 1000)),
        "math.exp(-t / 300) + np.log10(t + 1)": lambda t: math.exp(-t / 300) + math.log10(t + 1),
        "(t > 50 and t < 500) * 0.1 + 1": lambda t: float(50 < t < 500) * 0.1 + 1,
        "clip(t / 100, 0.1, 2) % 1.5": lambda t: min(max(t / 100, 0.1), 2) % 1.5,
        "-t ** 2 / 1e6 + 3": lambda t: -t**2 / 1e6 + 3,
    }
    for text, ref in cases.items():
        f = Expression(text)
        for t in t_values:
            assert f(t) == pytest.approx(ref(t), rel=1e-12, abs=1e-15), (text, t)


def test_text_schedule_matches_torch_lambda_lr_and_stays_json():
    sched = schedules.make("lambda", 0.1, 400, fn="0.5 ** (t // 100)")
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    ref = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: 0.5 ** (t // 100))
    torch_lrs = []
    for _ in range(400):
        torch_lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        ref.step()
    np.testing.assert_allclose(sched.curve(400), torch_lrs, rtol=1e-12)
    from nbtrain.engine.config import TrainConfig

    cfg = TrainConfig(schedule="lambda", schedule_params={"fn": "0.5 ** (t // 100)"})
    assert TrainConfig.from_json(cfg.to_json()) == cfg
    assert pickle.loads(pickle.dumps(Expression("t + 1")))(1) == 2.0
    with pytest.raises(ValueError, match=r"attribute access \(.getpid\)"):
        TrainConfig(schedule="lambda", schedule_params={"fn": "__import__('os').getpid()"})


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("t0123456789.+-*/%()<>=! ,_abcdefghijklmnopqrstuvwxyz[]{}'\":@~^&|")),
               max_size=60), st.integers(0, 10**6))
def test_any_text_is_either_a_finite_number_or_an_expression_error(text, t):
    try:
        value = Expression(text)(t)
    except ExpressionError:
        return
    assert isinstance(value, float) and math.isfinite(value)
