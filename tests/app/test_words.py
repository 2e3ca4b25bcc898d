"""Counts read as people write them: a plural only when it is one, thousands separated."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from mlcycle.app import words


@pytest.mark.parametrize("n, word, said", [
    (0, "run", "0 runs"), (1, "run", "1 run"), (2, "run", "2 runs"),
    (2400, "holdout row", "2,400 holdout rows"), (1, "expectation", "1 expectation"),
    (3, "batch", "3 batches"), (2, "label file", "2 label files"),
    (1_000_000, "row", "1,000,000 rows"),
])
def test_plural(n, word, said) -> None:
    assert words.plural(n, word) == said


def test_count_and_signed() -> None:
    assert words.count(2400) == "2,400" and words.count(7) == "7"
    assert words.signed(10150) == "+10,150" and words.signed(-3) == "-3"
    assert words.signed(0) == "±0"
    assert words.plural(10150, "labelled row", sign=True) == "+10,150 labelled rows"
    assert words.plural(1, "labelled row", sign=True) == "+1 labelled row"


def test_tally() -> None:
    assert words.tally(1, 3, "expectation", "failed", "met") == "1 of 3 expectations failed"
    assert words.tally(0, 3, "expectation", "failed", "met") == "all 3 expectations met"
    assert words.tally(0, 1, "expectation", "failed", "met") == "1 expectation met"
    assert words.tally(1, 1, "expectation", "failed", "met") == "1 of 1 expectation failed"


def test_value_counts_never_shows_a_dict() -> None:
    found = [{"value": "crypto wallet", "count": 147}, {"value": "l'été / 5%", "count": 1}]
    said = words.value_counts(found)
    assert said == "'crypto wallet' (147 rows), \"l'été / 5%\" (1 row)"
    assert "{" not in said


def test_shape_and_removal_summary() -> None:
    assert words.shape(12000, 1) == "12,000 rows × 1 column"
    gone = SimpleNamespace(dataset_versions=["a"], runs=1, model_versions=0, files=["x", "y"],
                           shared_versions=["b", "c"])
    assert words.removal_summary(gone) == ("its card, 1 dataset version, 1 run, 2 files; "
                                           "2 dataset versions another project also holds stay")
