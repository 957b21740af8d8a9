"""Transfer's four cases: every table entry is the trained model's accuracy, and the notes' pattern shows."""

import pytest
import torch

from nbtrain.demos import transfer_four_cases as TC


@pytest.fixture(scope="module")
def result():
    return TC.transfer_cases_data()


def test_every_entry_is_the_accuracy_of_its_trained_model(result):
    for (size, similarity, method), model in result.models.items():
        X, y = result.val[similarity]
        model.eval()
        with torch.no_grad():
            acc = (model(X).argmax(1) == y).float().mean().item()
        assert result.table.loc[(size, similarity), method] == pytest.approx(acc, abs=1e-6)
    assert result.table["labels"].tolist() == [20, 497, 20, 497]


def test_the_four_cases_of_the_notes(result):
    t = result.table
    little_sim, lot_sim = t.loc[("little", "similar")], t.loc[("a lot", "similar")]
    little_diff, lot_diff = t.loc[("little", "different")], t.loc[("a lot", "different")]
    # little data, similar task: a new head on frozen features beats training from scratch
    assert little_sim["head"] > little_sim["scratch"] + 0.03
    # similar task: transferred features stay at least as good with more data
    assert min(lot_sim[["head", "partial", "full"]]) >= lot_sim["scratch"] - 0.01
    # different task: frozen features are the wrong ones — fine-tuning more of the network helps
    assert lot_diff["full"] > lot_diff["head"] + 0.1 and little_diff["full"] > little_diff["head"]
    # and the different task is where transfer helps least: the hard case
    assert little_diff["head"] < little_sim["head"] - 0.1
