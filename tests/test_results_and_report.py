import csv
import json
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pytest

from recsys_utils import report, results
from recsys_utils.site import content
from tests.site_fixtures import FLOOR, INJECTED, STEM, write_synthetic_lesson


@pytest.fixture(autouse=True)
def isolated_reports(tmp_path, monkeypatch):
    monkeypatch.setenv("RECSYS_REPORTS_DIR", str(tmp_path / "reports"))
    return tmp_path / "reports"


def test_record_results_merges_and_refuses_nan():
    results.record_results("03_x", {"ndcg@10": 0.31}, parameters={"SEED": 1})
    results.record_results("03_x.ipynb", {"recall@10": 0.2})
    saved = results.load_results("03_x")
    assert saved["metrics"] == {"ndcg@10": 0.31, "recall@10": 0.2} and saved["parameters"] == {"SEED": 1}
    with pytest.raises(ValueError, match=r"metrics\.deep\.x is nan"):
        results.record_results("03_x", {"deep": {"x": math.nan}})
    assert results.load_results("03_x")["metrics"]["recall@10"] == 0.2  # unchanged by the refused call


def test_missing_results_say_which_notebook_to_run():
    with pytest.raises(FileNotFoundError, match="run the notebook first"):
        results.load_results("09_nothing")


def test_report_is_a_short_summary_with_escaped_headlines(isolated_reports):
    write_synthetic_lesson(isolated_reports)
    paths = report.build_report(profile="smoke", timings={STEM: 1.25}, site=False)
    markdown = paths["markdown"].read_text()
    # the headline sentence with its number, interval and protocol, generated from the JSON
    assert ("EASE beats random on nDCG@10: the interval of the difference excludes 0. 0.301 (95% CI 0.282 to 0.336)."
            " _Protocol:_ temporal holdout, 142 test users, paired bootstrap") in markdown
    assert INJECTED not in markdown and "&lt;script&gt;alert('x')&lt;/script&gt;" in markdown
    assert "Lesson 90: a synthetic comparison" in markdown and "| 1.20 s |" in markdown
    assert "comparisons.EASE vs random" not in markdown and len(markdown.splitlines()) < 40  # no metric dump
    assert "[`appendix/metrics.csv`](appendix/metrics.csv)" in markdown


def test_appendix_holds_every_recorded_metric(isolated_reports):
    recorded = write_synthetic_lesson(isolated_reports)
    results.record_results("01_other", {"n_ratings": 100000, "nested": {"deeper": {"x": [1, 2]}}})
    paths = report.build_report(site=False)
    rows = list(csv.DictReader(paths["metrics_csv"].open()))
    keys = {(r["lesson"], r["metric"]) for r in rows}
    expected = {(STEM, k) for k, _ in content.flatten(recorded["metrics"])} | {("01_other", "n_ratings"),
                                                                              ("01_other", "nested.deeper.x")}
    assert keys == expected
    assert next(r for r in rows if r["metric"] == "comparisons.EASE vs random.p_value")["value"] == repr(FLOOR)
    nested = json.loads(paths["metrics_json"].read_text())
    assert nested[STEM]["metrics"] == recorded["metrics"] and nested[STEM]["headlines"][0]["ci"] == [0.28171, 0.33644]


def test_environment_records_versions_seeds_data_and_keeps_run_times(isolated_reports):
    write_synthetic_lesson(isolated_reports)
    report.build_report(profile="smoke", timings={STEM: 1.25}, site=False)
    report.build_report(site=False)  # `make report`: no timings, no profile given
    env = json.loads((isolated_reports / "environment.json").read_text())
    assert env["profile"] == "smoke" and env["timings_s"] == {STEM: 1.2}
    assert env["seeds"] == [7] and env["dataset_checksums"] == {"ml-100k.inter": "ab" * 32}
    assert env["datasets"] == [{"name": "ml-100k", "source_kind": "pip package recbole==1.2.1",
                                "checksums": {"ml-100k.inter": "ab" * 32}}]
    assert env["packages"]["numpy"] != "not installed" and env["packages"]["sphinx"] != "not installed"


def test_captions_are_recorded_and_missing_ones_humanised(isolated_reports):
    write_synthetic_lesson(isolated_reports)
    lesson = content.read_results(isolated_reports)[0]
    captions = {f.name: (f.caption, f.captioned) for f in lesson.figures}
    assert captions == {"metric_bars": ("nDCG@10 of EASE and random, 95% bootstrap intervals.", True),
                        "recall_at_k": ("Recall at K", False)}
    assert lesson.title == "Lesson 90: a synthetic comparison" and lesson.n_resamples == 5000


def test_a_malformed_headline_names_the_lesson_and_the_fix(isolated_reports):
    results.record_results("07_bad", {"x": 1}, headlines=[{"value": 1.0}])
    with pytest.raises(ValueError, match=r"07_bad: headlines\[0\] needs 'text' and 'value'.*headline\(text, value"):
        content.read_results(isolated_reports)


def test_identical_figures_give_identical_files():
    def draw():
        fig, ax = plt.subplots()
        ax.bar([1, 2, 3], [3, 1, 2])
        results.save_figure(fig, "01_demo", "bars")
        return results.figure_path("01_demo", "bars").read_bytes()

    assert draw() == draw()


def test_recorded_source_kind_and_verification_reach_the_environment(isolated_reports):
    results.record_results("01_data", {"n": 1}, parameters={"SEED": 42},
                           environment={"dataset": "ml-latest-small", "dataset_source": "local:/home/me/ml.zip",
                                        "dataset_source_kind": "grouplens zip", "dataset_checksums": {"r.csv": "cd" * 32},
                                        "dataset_checksums_verified": True, "dataset_subset": None})
    report.build_report(site=False)
    env = json.loads((isolated_reports / "environment.json").read_text())
    assert env["datasets"] == [{"name": "ml-latest-small", "source_kind": "grouplens zip: local copy (ml.zip)",
                                "checksums": {"r.csv": "cd" * 32}, "checksums_verified": True}]
    assert "/home/me" not in (isolated_reports / "REPORT.md").read_text()
