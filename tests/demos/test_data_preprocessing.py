"""Preprocessing demo: each stage's covariance and the conditioning of the loss it gives."""

import numpy as np
import pytest
import torch

from nbtrain.demos import preprocessing, preprocessing_data
from nbtrain.engine import data


@pytest.fixture(scope="module")
def result():
    return preprocessing_data()


def test_whitened_covariance_is_identity(result):
    np.testing.assert_allclose(result.stage("whiten").cov, np.eye(2), atol=1e-3)


def test_each_stage_does_what_its_name_says(result):
    raw, center, norm, pca = (result.stage(s) for s in ("raw", "center", "normalize", "pca"))
    assert np.abs(raw.mean).min() > 3  # off-centre
    for s in (center, norm, pca):
        np.testing.assert_allclose(s.mean, 0.0, atol=1e-5)
    np.testing.assert_allclose(center.cov, raw.cov, rtol=1e-5)
    np.testing.assert_allclose(np.diag(norm.cov), 1.0, atol=1e-4)
    assert abs(norm.cov[0, 1]) > 0.5  # normalizing keeps the correlation
    assert abs(pca.cov[0, 1]) < 1e-4 and pca.cov[0, 0] > pca.cov[1, 1]  # decorrelated, sorted
    np.testing.assert_allclose(np.linalg.eigvalsh(pca.cov), np.linalg.eigvalsh(raw.cov), rtol=1e-4)


def test_stages_are_the_engines_preprocessors(result):
    x = torch.as_tensor(result.stage("raw").points, dtype=torch.float32)
    expected = data.preprocessors.make("whiten").fit(x).transform(x).double().numpy()
    np.testing.assert_allclose(result.stage("whiten").points, expected)


def test_off_centre_data_is_ill_conditioned_and_whitening_fixes_it(result):
    k = {s.name: s.condition_number for s in result.stages}
    assert k["raw"] > 3 * k["center"]  # the mean adds μμᵀ to E[xxᵀ]
    assert k["whiten"] == pytest.approx(1.0, abs=1e-3)
    assert k["pca"] == pytest.approx(k["center"], rel=1e-4)  # a rotation does not change conditioning
    steps = {s.name: s.steps_to_converge for s in result.stages}
    assert steps["whiten"] <= 2
    assert steps["raw"] > 3 * steps["center"] > 3 * steps["whiten"]


def test_centred_round_cloud_needs_no_preprocessing():
    r = preprocessing_data(mean=(0.0, 0.0), stds=(1.0, 1.0), n=2000)
    assert r.stage("raw").condition_number < 1.3


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"stds": (1.0, 0.0)}, r"stds=\(1\.0, 0\.0\) must be two numbers in \(0, 1e4\]"),
        ({"mean": (1.0,)}, r"mean=\(1\.0,\) must be two finite numbers"),
        ({"n": 2}, r"n=2 must be an integer in \[3, 1000000\]"),
    ],
)
def test_bad_arguments_name_the_value_and_what_is_allowed(kwargs, message):
    with pytest.raises(ValueError, match=message):
        preprocessing_data(**kwargs)


def test_stage_lookup_lists_the_stages(result):
    with pytest.raises(ValueError, match="raw, center, normalize, pca, whiten"):
        result.stage("zca2")


def test_view_builds_and_redraws_when_controls_change():
    view = preprocessing(n=200)
    raw = view.marks["raw_points"]
    x0 = np.array(raw.x)
    assert "κ = 1" in view.figures[-1].title  # whitened loss surface: perfectly round
    view.controls["offset"].value = 0.0
    assert not np.array_equal(np.array(raw.x), x0)
    view.controls["stage"].value = "normalize"
    assert view.figures[-1].title.startswith("GD on normalized inputs")
    assert "cov = " in view.texts[4].value
