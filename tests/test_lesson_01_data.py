import json

import pytest

from recsys_utils.course import run_course

pytestmark = pytest.mark.notebook
STEM = "01_data_preparation"


def test_figures_of_ml100k(lesson_results):
    m = lesson_results(STEM)["metrics"]
    assert (m["n_ratings"], m["n_users"], m["n_movies_catalogue"]) == (100_000, 943, 1682)
    assert 0.93 < m["sparsity"] < 0.94
    assert max(m["rating_distribution"], key=m["rating_distribution"].get) == "4"
    assert 0.3 < m["share_of_ratings_on_top10pct_movies"] < 0.6  # the long tail
    assert m["leakage"] == {"pairs_in_both": 0, "users_seen_in_future": 0, "overlapping_users": 0}
    assert m["splits"]["train_users"] + m["splits"]["val_users"] + m["splits"]["test_users"] == 943
    assert m["enrichment"]["ggplot2movies (pydataset)"]["match_rate"] > 0.8
    assert m["coverage"] == {"n_movies": 1682, "n_rated_movies": 1682, "n_unrated_movies": 0, "n_dangling_ratings": 0}
    tail = m["long_tail"]
    assert tail["ci_low"] <= m["share_of_ratings_on_top10pct_movies"] <= tail["ci_high"]


def test_headlines_and_provenance_are_recorded(lesson_results):
    result = lesson_results(STEM)
    headlines = result["headlines"]
    assert 1 <= len(headlines) <= 3
    tail = result["metrics"]["long_tail"]
    assert headlines[0]["ci"] == [tail["ci_low"], tail["ci_high"]]
    assert f"{tail['ci_low']:.0%}-{tail['ci_high']:.0%}" in headlines[0]["text"]
    env = result["environment"]
    assert env["dataset_source_kind"] in {"local-folder", "local-zip", "grouplens", "packaged-wheel"}
    assert "/" not in env["dataset_source"].split(":", 1)[1]  # a kind and a label, never a path


def test_same_seed_gives_the_same_data_stage_figures(lesson_results, tmp_path, smoke_reports_dir):
    first = lesson_results(STEM)
    run_course(profile="smoke", only=STEM, reports=tmp_path, build_report=False)

    second = json.loads((tmp_path / "results" / f"{STEM}.json").read_text())
    assert second["metrics"] == first["metrics"]
    for name, relative in first["figures"].items():
        assert (tmp_path / relative).read_bytes() == (smoke_reports_dir / relative).read_bytes(), name


def test_long_tail_interval_surrounds_its_estimate():
    """Resamples keep the catalogue's top-set size; recounting it per resample put every resampled
    share below the estimate (0.429 [0.408, 0.429] on ml-100k)."""
    import numpy as np
    import pandas as pd

    from recsys_utils.lessons.l01_data import long_tail_share

    rng = np.random.default_rng(0)
    users = rng.integers(0, 300, 20_000)
    movies = np.minimum(rng.zipf(1.4, 20_000), 2_000)  # a long tail with many movies rated once
    ratings = pd.DataFrame({"user_id": users, "movie_id": movies})
    result = long_tail_share(ratings, n_resamples=400)
    low, high = result["ci_low"], result["ci_high"]
    assert low < result["value"] < high
    centre = (low + high) / 2
    assert abs(result["value"] - centre) < (high - low) / 4
