"""The whole smoke course on other MovieLens datasets, through the runner's --dataset/--source.

These pass only once every lesson is dataset-agnostic (issue 10, item 2): the first lesson that
still names an ml-100k title or assumes every movie is rated stops the run and is named.
"""

import json

import pytest

from recsys_utils.course import LessonFailed, run_course
from tests.grouplens_fixtures import (
    HARD_CODED_TITLES,
    shared_dataset,
    write_synthetic_csv,
    write_synthetic_ml1m,
)

pytestmark = [pytest.mark.notebook, pytest.mark.slow]
# A whole smoke course on another dataset costs 2-3 minutes on 2 cores (146 s ml-1m, 183 s ml-latest-small,
# measured 2026-12-02); `make test` runs both, `make test-datasets` only these.
whole_course = pytest.mark.datasets
SHARED_SMALL = shared_dataset("ml-latest-small")


def _quiet(*args, **kwargs):
    pass


@pytest.fixture
def offline(monkeypatch):
    monkeypatch.setenv("RECSYS_OFFLINE", "1")  # local sources and data/offline/ only


@whole_course
def test_whole_smoke_course_on_a_synthetic_ml1m_without_todays_titles(tmp_path, offline):
    """~46k ratings in ml-1m's real format; synthetic titles, unrated movies and dangling ratings."""
    source = write_synthetic_ml1m(tmp_path / "ml-1m", n_ratings=50_000, n_users=600, n_movies=1_200, n_catalogue=1_260)
    titles = (source / "movies.dat").read_bytes().decode("latin-1")
    assert not any(title in titles for title in HARD_CODED_TITLES)
    reports = tmp_path / "reports"
    runs = run_course("smoke", reports=reports, build_report=True, log=_quiet, dataset="ml-1m", source=source,
                      data_dir=tmp_path / "data")
    assert [r.notebook[:2] for r in runs] == ["00", "01", "02", "03", "04", "05", "06"]
    lesson01 = json.loads((reports / "results" / "01_data_preparation.json").read_text())
    assert lesson01["metrics"]["coverage"] == {"n_movies": 1_260, "n_rated_movies": 1_200, "n_unrated_movies": 60,
                                               "n_dangling_ratings": 5}
    environment = (reports / "environment.json").read_text()
    assert json.loads(environment)["dataset"] == {"name": "ml-1m", "source_kind": "local-folder"}
    assert str(tmp_path) not in environment


@pytest.mark.parametrize("lesson", ["01", "02", "03"])
def test_lessons_01_to_03_stop_at_once_on_a_catalogue_over_budget(tmp_path, offline, lesson):
    source = write_synthetic_csv(tmp_path / "ml-25m", n_movies=10_500, n_ratings=20_000)
    with pytest.raises(LessonFailed) as failed:
        run_course("smoke", only=lesson, reports=tmp_path / "reports", build_report=False, log=_quiet,
                   dataset="ml-25m", source=source, data_dir=tmp_path / "data")
    message = str(failed.value)
    assert "CatalogueTooLarge" in message and "MAX_MOVIES" in message and "budgeted for" in message
    # It stopped in the cell that loads the data, before any embedding or model was built.
    executed = json.loads((tmp_path / "reports" / "notebooks" / message.split("notebooks/")[-1].strip()).read_text())
    failing = next(c for c in executed["cells"] if c["cell_type"] == "code" and any(o.get("output_type") == "error" for o in c.get("outputs", [])))
    assert "fit_budget(" in "".join(failing["source"])


@whole_course
@pytest.mark.skipif(not SHARED_SMALL.exists(), reason=f"the real ml-latest-small is not at {SHARED_SMALL} (../shared/datasets/ beside the repository)")
def test_whole_smoke_course_on_the_real_ml_latest_small(tmp_path, offline):
    reports = tmp_path / "reports"
    run_course("smoke", reports=reports, build_report=True, log=_quiet, dataset="ml-latest-small", source=SHARED_SMALL,
               data_dir=tmp_path / "data")
    lesson01 = json.loads((reports / "results" / "01_data_preparation.json").read_text())
    assert lesson01["metrics"]["coverage"]["n_unrated_movies"] == 18
    environment = json.loads((reports / "environment.json").read_text())
    assert environment["dataset"] == {"name": "ml-latest-small", "source_kind": "local-folder"}
    assert str(SHARED_SMALL) not in json.dumps(environment)
    assert environment["dataset_checksums"]["ratings.csv"] == "aa289ca83157595d0df6aea1be6a4ded676ddc4385472e8313a8ed9805352646"
