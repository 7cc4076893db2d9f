"""Figures stated in the notebooks' text agree with what the notebooks measured in a full run."""
import json

import nbformat
import pytest

from course_utils.claims import Claim, check_claims, claims_in, results_file
from course_utils.run import list_notebooks

NOTEBOOKS = list_notebooks()


def test_claim_syntax_is_parsed(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(
        "reaches about 84% <!-- claim: test_accuracy = 0.84 ± 0.02 --> and more")])
    path = tmp_path / "09_x.ipynb"
    nbformat.write(nb, path)
    assert claims_in(path) == [Claim("09_x", "test_accuracy", 0.84, 0.02)]
    assert check_claims([path], {"09_x": {"test_accuracy": 0.851}}) == []
    assert "measured 0.8000" in check_claims([path], {"09_x": {"test_accuracy": 0.80}})[0]
    assert "no such metric" in check_claims([path], {"09_x": {}})[0]
    assert "no full-mode metrics" in check_claims([path], {})[0]


def test_prose_numbers_match_recorded_full_run():
    recorded = json.loads(results_file().read_text())
    with_claims = [nb for nb in NOTEBOOKS if claims_in(nb)]
    assert with_claims, "at least the notebooks that state results carry claims"
    assert check_claims(NOTEBOOKS, recorded) == []
