"""The measured talk presets (lina_core/presets.py): figures kept as numbers, the app's labels
made from them, and ``choose-presets`` printing entries in the same form."""
from __future__ import annotations

import re

import pytest

from lina_core import presets
from lina_core.presets import MeasuredPreset


def test_every_label_quotes_its_own_numbers():
    for p in presets.MEASURED + presets.RELATIONAL:
        m = re.search(r"\((\S+): joint success (\d+)% -> (\d+)%, (\d+) samples", p.label)
        assert m, p.label
        assert m.group(1) == p.split != "test-ood"
        assert (int(m.group(2)), int(m.group(3)), int(m.group(4))) == \
            (round(100 * p.baseline), round(100 * p.lina), p.n)
        assert p.label.startswith(p.headline)


def test_the_app_shows_the_measured_labels_and_offers_relational_ones_by_category():
    from app import presets as app_presets
    assert app_presets.MEASURED_PRESETS == [p.row() for p in presets.MEASURED]
    rows = app_presets.lina_presets(("fill",))
    fill = [p for p in presets.RELATIONAL if p.category == "fill"]
    assert rows[-1] == fill[0].row() and len(rows) == len(app_presets.LINA_PRESETS) + 1
    assert app_presets.lina_presets(()) == app_presets.LINA_PRESETS


@pytest.mark.parametrize("kw,field", [
    ({"baseline": 1.5}, "baseline"), ({"lina": -0.1}, "lina"), ({"n": 0}, "n"),
    ({"split": "test-ood"}, "split")])
def test_a_preset_with_impossible_figures_or_chosen_on_test_ood_is_refused(kw, field):
    args = dict(headline="h", prompt="a red ball on a mirror", seed=0, baseline=0.0, lina=1.0,
                n=3)
    with pytest.raises(ValueError, match=field):
        MeasuredPreset(**{**args, **kw})


def test_choose_presets_prints_an_entry_that_reads_back_as_the_measured_preset():
    from lina_core.choose_presets import line
    text = line("LINA fixes this", "a wide jar with more soil than empty space",
                (0.25, 0.75, 8, "donor", [41, 42], "fill"), "fill")
    entry = eval(text.splitlines()[1].strip().rstrip(","), {"MeasuredPreset": MeasuredPreset})
    assert entry == MeasuredPreset("LINA fixes this", "a wide jar with more soil than empty space",
                                   41, 0.25, 0.75, 8, how="LINA chooses donor", category="fill")
    assert "25% -> 75%, 8 samples" in entry.label
