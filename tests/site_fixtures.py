"""A small synthetic results folder for the report and site tests (no lesson is executed).

``write_synthetic_lesson(reports)`` records, through the same ``recsys_utils.results`` calls a
lesson uses, a lesson "90" with headline findings (one carrying markup that must be escaped),
a captioned and an uncaptioned figure, a comparison table whose p-value sits on the
permutation floor, and an executed-looking notebook with math, a figure and a table.
"""

from __future__ import annotations

import base64
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import nbformat

from recsys_utils import results

STEM = "90_synthetic_comparison"
N_RESAMPLES = 5000
FLOOR = 2 / (N_RESAMPLES + 1)
INJECTED = "<script>alert('x')</script>"


def _png() -> bytes:
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([1, 2, 3], [0.1, 0.3, 0.2], label="nDCG@10")
    ax.set(xlabel="K", ylabel="nDCG@10")
    ax.legend()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=60)
    plt.close(fig)
    return buffer.getvalue()


def write_synthetic_lesson(reports) -> dict:
    """Record lesson 90 into ``reports`` (``RECSYS_REPORTS_DIR`` must point there)."""
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.bar(["EASE", "random"], [0.31, 0.01])
    ax.set(ylabel="nDCG@10", title="Synthetic comparison")
    results.save_figure(fig, STEM, "metric_bars", caption="nDCG@10 of EASE and random, 95% bootstrap intervals.")
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1], [0, 1])
    results.save_figure(fig, STEM, "recall_at_k")  # no caption: the site must humanise the name
    plt.close(fig)
    headlines = [
        results.headline("EASE beats random on nDCG@10: the interval of the difference excludes 0.", 0.30123,
                         ci=(0.28171, 0.33644), protocol="temporal holdout, 142 test users, paired bootstrap"),
        results.headline(f"A recorded string with markup {INJECTED} stays text.", 12.0, unit="s",
                         protocol="timing"),
    ]
    results.record_results(
        STEM,
        {"n_users": 142, "ndcg@10": {"EASE": 0.31234, "random": 0.0123}, "seconds": 1234.5678,
         "comparisons": {"EASE vs random": {"mean_diff": 0.30123, "p_value": FLOOR, "p_holm": 2 * FLOOR}}},
        headlines=headlines,
        tables={"comparisons_ndcg10": [
            {"system": "EASE", "reference": "random", "mean_diff": 0.30123, "ci_low": 0.28171, "ci_high": 0.33644,
             "p_value": FLOOR, "p_holm": 2 * FLOOR, "significant": True},
            {"system": "popular", "reference": "random", "mean_diff": 0.0213, "ci_low": -0.004, "ci_high": 0.041,
             "p_value": 0.0312, "p_holm": 0.0312, "significant": False},
        ]},
        parameters={"SEED": 7, "DATASET": "ml-100k", "N_RESAMPLES": N_RESAMPLES},
        environment={"dataset": "ml-100k", "dataset_source": "pip:recbole==1.2.1",
                     "dataset_checksums": {"ml-100k.inter": "ab" * 32}},
        summary="A synthetic comparison for the report tests.",
    )
    notebook = nbformat.v4.new_notebook(metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python", "pygments_lexer": "ipython3"}})
    notebook.cells = [
        nbformat.v4.new_markdown_cell("# Lesson 90: a synthetic comparison\n\n"
                                      "nDCG divides by the ideal: $\\mathrm{nDCG@K} = \\frac{DCG@K}{IDCG@K}$.\n\n"
                                      "$$\\mathrm{DCG@K} = \\sum_{i=1}^{K} \\frac{rel_i}{\\log_2(i + 1)}$$"),
        nbformat.v4.new_code_cell("print('hello')", execution_count=1, outputs=[
            nbformat.v4.new_output("stream", name="stdout", text="hello\n")]),
        nbformat.v4.new_code_cell("plt.show()", execution_count=2, outputs=[
            nbformat.v4.new_output("display_data", data={"image/png": base64.b64encode(_png()).decode(),
                                                          "text/plain": "<Figure size 300x200>"})]),
        nbformat.v4.new_code_cell("table", execution_count=3, outputs=[
            nbformat.v4.new_output("execute_result", execution_count=3, data={
                "text/html": "<table><tr><th>system</th><th>nDCG@10</th></tr><tr><td>EASE</td><td>0.312</td></tr></table>",
                "text/plain": "system nDCG@10"})]),
    ]
    (reports / "notebooks").mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, reports / "notebooks" / f"{STEM}.ipynb")
    return results.load_results(STEM)
