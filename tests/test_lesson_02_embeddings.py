"""Lesson 02 end to end (smoke profile): what it recorded must be real and sensible."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.notebook

NOTEBOOK = "02_embeddings_and_upsert"


@pytest.fixture(scope="module")
def results(lesson_results):
    return lesson_results(NOTEBOOK)


def test_every_movie_is_indexed_with_minilm(results):
    metrics = results["metrics"]
    assert metrics["embedding_model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert metrics["embedding_model_source"] in {"local-folder", "hub-cache", "hub-download", "bundled-package"}
    assert metrics["embedding_dimension"] == 384
    assert metrics["index_vectors"] == 1682  # every ml-100k movie
    assert metrics["index_vector_bytes"] == 1682 * 384 * 4
    assert metrics["index_metadata_bytes"] > 1682 * 50
    if metrics["vector_backend"] == "local":
        assert metrics["index_bytes_on_disk"] >= metrics["index_vector_bytes"]


def test_throughput_and_batched_queries_are_measured(results):
    metrics = results["metrics"]
    assert 5 < metrics["embedding_sentences_per_second"] < 50_000
    assert metrics["embedding_throughput_texts"] > 0
    assert metrics["batched_user_query_users"] == 943
    if metrics["vector_backend"] == "local":
        assert metrics["batched_user_query_seconds"] < 1.0


def test_embedding_space_findings_hold(results):
    metrics = results["metrics"]
    # Neighbours share genres far more often than random pairs...
    assert metrics["neighbour_genre_agreement"] > metrics["random_pair_genre_agreement"] + 0.2
    # ...but text similarity tracks co-rating similarity only weakly (the lesson's prose says so).
    assert -0.2 < metrics["spearman_text_vs_corating"] < 0.4


def test_example_queries_are_recorded_and_respect_filters(results):
    examples = results["examples"]
    assert len(examples["free_text"]["results"]) == 8
    filtered = examples["filtered"]["results"]
    assert filtered and all("Sci-Fi" in row["genres"] and 1990 <= row["year"] <= 1999 for row in filtered)
    assert results["metrics"]["filtered_query_all_match_filter"] is True
    # On ml-100k the example is the classic pick (prefer=("Star Wars",)); its sequels are its neighbours.
    assert examples["similar_to_example"]["example"] == "Star Wars (1977)"
    star_wars = [row["title"] for row in examples["similar_to_example"]["results"]]
    assert "Star Wars" not in star_wars
    assert {"Return of the Jedi", "The Empire Strikes Back"} & set(star_wars)
    scores = [row["score"] for row in examples["free_text"]["results"]]
    assert scores == sorted(scores, reverse=True)
    # the self-query step reads the request's genre words into a filter: every answer carries them
    self_query = examples["free_text_self_query"]
    assert self_query["filter"] == {"$and": [{"genres": {"$in": ["Sci-Fi"]}}, {"genres": {"$in": ["Thriller"]}}]}
    assert self_query["results"] and all("Sci-Fi" in row["genres"] and "Thriller" in row["genres"]
                                         for row in self_query["results"])
    assert results["metrics"]["self_query_sci_fi_share"] == 1.0


def test_taste_tuning_is_recorded_and_moves_retrieval(results):
    tuning = results["metrics"]["taste_tuning"]
    assert tuning["budget"] == "smoke" and tuning["pairs"] == tuning["steps"] * tuning["batch_size"] > 0
    assert tuning["movies"] == 1682
    systems = results["metrics"]["text_only_retrieval"]
    assert set(systems) == {"most_popular", "base", "tuned"}
    # Co-liked pairs move text-only retrieval well clear of the base vectors (the lesson's finding).
    assert systems["tuned"]["ci_low"] > systems["base"]["ci_high"]
    assert results["examples"]["free_text_tuned"]["results"]
    assert 1 <= len(results["headlines"]) <= 3
    assert all("most-popular" in h["text"] for h in results["headlines"])


def test_projection_figure_is_saved(results, smoke_reports_dir):
    figure = results["figures"]["embedding_projection"]
    assert (smoke_reports_dir / figure).stat().st_size > 10_000


@pytest.mark.slow
def test_lesson_runs_unchanged_through_pinecone(monkeypatch, tmp_path):
    """With PINECONE_API_KEY set and PINECONE_CONTROLLER_HOST (read by the SDK) pointing at the
    loopback stand-in, VECTOR_BACKEND="auto" picks Pinecone and the same notebook runs through it."""
    from pinecone_standin import PineconeStandIn

    from recsys_utils import results as results_module
    from recsys_utils.course import run_course

    with PineconeStandIn(api_key="lesson-02-key") as standin:
        monkeypatch.setenv("PINECONE_API_KEY", "lesson-02-key")
        monkeypatch.setenv("PINECONE_CONTROLLER_HOST", standin.url)
        monkeypatch.setenv("RECSYS_REPORTS_DIR", str(tmp_path))
        run_course(profile="smoke", only=NOTEBOOK, reports=tmp_path, build_report=False)
        metrics = results_module.load_results(NOTEBOOK)["metrics"]
        assert metrics["vector_backend"] == "pinecone"
        assert metrics["index_vectors"] == 1682
        assert standin.indexes["movies"].namespaces[""].keys() >= {"1", "50", "1682"}
        assert any(r["path"] == "/vectors/upsert" for r in standin.requests)
    executed = (tmp_path / "notebooks" / f"{NOTEBOOK}.ipynb").read_text()
    assert "lesson-02-key" not in executed  # the key never lands in the saved notebook
