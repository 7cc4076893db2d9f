"""The README's result tables are generated from the recorded files (course_tools.readme), so they cannot drift."""
import json
from pathlib import Path

import pytest

from course_tools import readme

ROOT = Path(__file__).resolve().parent.parent


def test_the_readme_tables_are_the_recorded_results():
    text = (ROOT / "README.md").read_text()
    found = readme.blocks(text)
    assert {name for name, _ in found} == {"headlines", "tuning", "transfer", "times"}
    for name, table in found:
        assert table == readme.render(name), f"README's {name} table differs: run `python -m course_tools.readme`"


def _metrics():
    return {"08_tuning": {"trials_grid": 13, "trials_random": 13, "trials_hyperband": 20, "epochs_grid": 52,
                          "epochs_random": 52, "epochs_hyperband": 52, "seconds_grid": 128.4, "seconds_random": 87.6,
                          "best_val_accuracy_grid": 0.8787, "best_val_accuracy_random": 0.8867,
                          "best_val_accuracy_hyperband": 0.8853, "best_strategy": "random", "test_accuracy": 0.8949,
                          "val_accuracy_stderr": 0.0058, "headline_metric": "test_accuracy", "dataset": "fashion_mnist"},
            "07_transfer_learning": {"comparison": {"fine-tuning @ 20": 0.67, "from scratch @ 20": 0.489,
                                                    "from scratch @ 100": 0.634, "feature extraction @ 20": 0.652},
                                     "train_images": 2880, "backbone": "b", "backbone_source": "s", "test_accuracy": 0.864,
                                     "feature_extraction_accuracy": 0.865, "chance_accuracy": 0.2},
            "03_preprocessing": {"headline_metric": "tfdata_fit_images_per_s", "tfdata_fit_images_per_s": 19429.47}}


def test_tables_show_what_the_files_hold(tmp_path):
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "metrics-full.json").write_text(json.dumps(_metrics()))
    tuning = readme.render("tuning", tmp_path)
    assert "| grid | 13 | 52 | 128 | 0.879 |" in tuning
    assert "| Hyperband | 20 | 52 | – | 0.885 |" in tuning, "a figure that was not recorded shows as a dash"
    assert "89.49%" in tuning and "±0.58" in tuning
    transfer = readme.render("transfer", tmp_path)
    assert transfer.startswith("| images per class | from scratch | feature extraction | fine-tuning |")
    assert "| 20 | 48.9% | 65.2% | 67.0% |" in transfer and "| 100 | 63.4% | – | – |" in transfer
    assert "fine-tuned 86.40%" in transfer
    headlines = readme.render("headlines", tmp_path)
    assert "| 08 | fashion_mnist | test accuracy | 89.49% |" in headlines
    assert "| 03 | – | tfdata fit images per s | 19,429 |" in headlines


def test_times_table_sums_each_mode_and_says_when(tmp_path):
    (tmp_path / "results").mkdir()
    timings = {"modes": {"smoke": {"recorded": "today", "seconds": {"01_a": 10, "02_b": 5.4}},
                         "full": {"recorded": "yesterday", "seconds": {"01_a": 1200}}}}
    (tmp_path / "results" / "timings.json").write_text(json.dumps(timings))
    table = readme.render("times", tmp_path)
    assert "| full | 1,200 | – | 1,200 |" in table and "| smoke | 10 | 5 | 15 |" in table
    assert table.index("| full") < table.index("| smoke") and "- smoke: today" in table


def test_regenerate_replaces_only_the_blocks_and_check_reports_a_stale_one(tmp_path, monkeypatch, capsys):
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "metrics-full.json").write_text(json.dumps(_metrics()))
    text = "intro\n<!-- results-table tuning -->\nstale\n<!-- /results-table -->\nafter\n"
    new = readme.regenerate(text, tmp_path)
    assert new.startswith("intro\n<!-- results-table tuning -->\n| strategy") and new.endswith("<!-- /results-table -->\nafter\n")
    (tmp_path / "README.md").write_text(text)
    monkeypatch.setattr(readme.config, "repo_root", lambda: tmp_path)
    assert readme.main(["--check"]) == 1 and "['tuning']" in capsys.readouterr().out
    with pytest.raises(ValueError, match="no README table named"):
        readme.render("nonsense", tmp_path)
