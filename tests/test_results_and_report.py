import json
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pytest

from recsys_utils import report, results


@pytest.fixture(autouse=True)
def isolated_reports(tmp_path, monkeypatch):
    monkeypatch.setenv("RECSYS_REPORTS_DIR", str(tmp_path / "reports"))


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


def test_report_holds_metrics_tables_figures_and_environment(tmp_path):
    fig, ax = plt.subplots()
    ax.plot([1, 2], [3, 4])
    results.save_figure(fig, "01_demo", "line", caption="A line")
    png = results.figure_path("01_demo", "line")
    results.record_results(
        "01_demo", {"n_users": 943, "split": {"test": 142}},
        tables={"baselines": [{"model": "EASE", "ndcg@10": 0.4}, {"model": "random", "ndcg@10": 0.01}]},
        parameters={"SEED": 42}, environment={"dataset_checksums": {"u.data": "abc"}},
    )
    paths = report.build_report(profile="smoke", timings={"01_demo": 1.25})
    markdown = paths["markdown"].read_text()
    page = paths["html"].read_text()
    assert "| n_users | 943 |" in markdown and "| split.test | 142 |" in markdown
    assert "| EASE | 0.4 |" in markdown and "figures/01_demo/line.png" in markdown
    assert "<img src='figures/01_demo/line.png'" in page and png.exists()
    env = json.loads((paths["markdown"].parent / "environment.json").read_text())
    assert env["seeds"] == [42] and env["dataset_checksums"] == {"u.data": "abc"}
    assert env["packages"]["numpy"] != "not installed" and env["timings_s"] == {"01_demo": 1.2}


def test_identical_figures_give_identical_files():
    def draw():
        fig, ax = plt.subplots()
        ax.bar([1, 2, 3], [3, 1, 2])
        results.save_figure(fig, "01_demo", "bars")
        return results.figure_path("01_demo", "bars").read_bytes()

    assert draw() == draw()
