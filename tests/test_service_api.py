"""The service's API on the synthetic world: happy paths, every kind of bad input (a 4xx JSON
error that names the problem, never a 500), immediate learning from feedback, and the
background fine-tuning's deploy / refuse decision."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient

from recsys_utils.service import ServiceSettings, create_app
from recsys_utils.service.feedback_store import FeedbackStore
from recsys_utils.service.learning import LearnerConfig, PolicyLearner, logged_examples
from recsys_utils.service.schemas import RecommendResponse
from tests.service_clients import send_simulated_feedback


def make_client(db, **learner):
    settings = ServiceSettings(source="synthetic", feedback_db=db, learner=LearnerConfig(enabled=False, **learner))
    return TestClient(create_app(settings))


def generator_order_client(db, **learner):
    """No base policy and the initial head: the served order is the candidate generator's."""
    from recsys_utils.service.artifacts import synthetic_artifacts

    settings = ServiceSettings(artifacts=synthetic_artifacts(seed=0, with_policy=False), feedback_db=db,
                               learner=LearnerConfig(enabled=False, **learner))
    return TestClient(create_app(settings))


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    with make_client(tmp_path_factory.mktemp("api") / "feedback.sqlite3") as c:
        yield c


def service(client):
    return client.app.state.service


def assert_error(response, status, *words):
    assert response.status_code == status, response.text
    body = response.json()
    assert isinstance(body["error"], str) and body["error"]
    for word in words:
        assert word.lower() in body["error"].lower(), f"{word!r} not in {body['error']!r}"
    return body


# -- happy paths -----------------------------------------------------------------------------


def test_recommend_known_user_returns_k_unseen_explained_movies(client):
    svc = service(client)
    response = client.post("/recommend", json={"user_id": 5, "k": 7})
    assert response.status_code == 200, response.text
    body = response.json()
    RecommendResponse.model_validate(body)  # the hot path builds dicts: they must match the schema
    assert len(body["items"]) == 7
    assert body["policy_version"].endswith("+ft0")
    ids = [m["movie_id"] for m in body["items"]]
    assert len(set(ids)) == 7
    rated = {int(svc.artifacts.catalog.movie_ids[r]) for r in svc.artifacts.users.rated[svc.artifacts.users.row(5)]}
    assert not rated & set(ids), "a movie the user already rated was recommended"
    scores = [m["score"] for m in body["items"]]
    assert scores == sorted(scores, reverse=True)
    for movie in body["items"]:
        assert movie["explanation"]["faithful"] is True
        assert movie["title"] in movie["explanation"]["text"]


def test_filters_are_applied(client):
    body = client.post("/recommend", json={"user_id": 5, "k": 10, "explain": False,
                                           "filters": {"genres": ["horror"], "year_min": 1970, "year_max": 1990}}).json()
    assert body["items"]
    for movie in body["items"]:
        assert "Horror" in movie["genres"] and 1970 <= movie["year"] <= 1990
        assert movie["explanation"] is None


def test_cold_start_profiles(client):
    liked = client.post("/recommend", json={"profile": {"liked_titles": ["Movie 12"]}, "k": 5}).json()
    assert len(liked["items"]) == 5 and liked["user"]["kind"] == "cold_start"
    assert 12 not in [m["movie_id"] for m in liked["items"]], "the liked title itself was recommended"
    # The explanation names what the person said they liked (issue 13), not only the catalogue.
    assert all("Movie 12" in m["explanation"]["text"] for m in liked["items"]), liked["items"][0]["explanation"]
    wish = client.post("/recommend", json={"profile": {"wish": "a scary horror night"}, "k": 5}).json()
    horror = sum("Horror" in m["genres"] for m in wish["items"])
    assert horror >= 4, wish


def test_search_and_health(client):
    found = client.get("/movies/search", params={"q": "movie 12", "limit": 3}).json()
    assert found["results"][0]["movie_id"] == 12
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["explainer"] == "offline"
    assert health["policy_version"] == client.post("/recommend", json={"user_id": 2, "k": 1}).json()["policy_version"]


# -- bad inputs --------------------------------------------------------------------------------


def test_unknown_user_and_movie_are_404(client):
    assert_error(client.post("/recommend", json={"user_id": 99999, "k": 3}), 404, "user_id 99999")
    assert_error(client.post("/feedback", json={"user_id": 99999, "movie_id": 1, "event": "click"}), 404, "user_id")
    assert_error(client.post("/feedback", json={"user_id": 1, "movie_id": 123456, "event": "click"}), 404, "movie_id 123456")
    assert_error(client.post("/recommend", json={"profile": {"liked_titles": ["No Such Film Xyz"]}}), 404,
                 "No Such Film Xyz")


@pytest.mark.parametrize("k", [0, -1, 51, 10**9])
def test_k_out_of_range(client, k):
    body = assert_error(client.post("/recommend", json={"user_id": 1, "k": k}), 422, "k")
    assert body["detail"][0]["loc"] == ["body", "k"]


@pytest.mark.parametrize("payload, words", [
    ({"user_id": "5", "k": 3}, ["user_id"]),
    ({"user_id": 5, "k": 2.5}, ["k"]),
    ({"user_id": 5, "k": True}, ["k"]),
    ({"user_id": [5]}, ["user_id"]),
    ({"user_id": 5, "kk": 3}, ["kk"]),
    ({"k": 3}, ["exactly one"]),
    ({"user_id": 5, "profile": {"wish": "comedy"}}, ["exactly one"]),
    ({"profile": {}}, ["liked_titles, genres or a wish"]),
    ({"user_id": 5, "filters": {"year_min": 1999, "year_max": 1980}}, ["year_min"]),
    ({"user_id": 5, "filters": {"genres": "Comedy"}}, ["genres"]),
])
def test_wrong_types_and_shapes_on_recommend(client, payload, words):
    assert_error(client.post("/recommend", json=payload), 422, *words)


def test_unknown_genre_names_the_known_ones(client):
    assert_error(client.post("/recommend", json={"user_id": 5, "filters": {"genres": ["Telenovela"]}}), 422,
                 "Telenovela", "known genres")
    assert_error(client.post("/recommend", json={"profile": {"genres": ["Telenovela"]}}), 422, "Telenovela")


@pytest.mark.parametrize("payload, words", [
    ({"user_id": 1, "movie_id": 1, "event": "purchase"}, ["event"]),
    ({"user_id": 1, "movie_id": 1, "event": "watch"}, ["watch_fraction"]),
    ({"user_id": 1, "movie_id": 1, "event": "watch", "watch_fraction": 1.5}, ["watch_fraction"]),
    ({"user_id": 1, "movie_id": 1, "event": "click", "watch_fraction": 0.5}, ["watch_fraction"]),
    ({"user_id": 1, "movie_id": "1", "event": "click"}, ["movie_id"]),
    ({"user_id": 1, "event": "click"}, ["movie_id"]),
])
def test_bad_feedback(client, payload, words):
    assert_error(client.post("/feedback", json=payload), 422, *words)


def test_malformed_json_and_non_objects(client):
    headers = {"content-type": "application/json"}
    assert_error(client.post("/recommend", content=b'{"user_id": 5, "k":', headers=headers), 422, "json")
    assert_error(client.post("/feedback", content=b"[1, 2, 3]", headers=headers), 422)
    garbage = client.post("/feedback", content=b"\xff\xfe\x00garbage", headers=headers)
    assert_error(garbage, garbage.status_code, "json")
    assert garbage.status_code in (400, 422)
    assert_error(client.post("/recommend", content=b"", headers=headers), 422)


def test_oversized_bodies_are_413(client):
    big = {"profile": {"wish": "x" * 400, "liked_titles": ["y" * 150] * 20}, "padding": "z" * 100_000}
    assert_error(client.post("/recommend", json=big), 413, "limit")

    def chunks():  # no Content-Length: the limit must hold for streamed bodies too
        for _ in range(100):
            yield b" " * 1024

    assert_error(client.post("/feedback", content=chunks(), headers={"content-type": "application/json"}), 413)


def test_bad_query_parameters(client):
    assert_error(client.get("/movies/search"), 422, "q")
    assert_error(client.get("/movies/search", params={"q": "x" * 201}), 422, "q")
    assert_error(client.get("/movies/search", params={"q": "star", "limit": 0}), 422, "limit")
    assert_error(client.get("/movies/search", params={"q": "star", "limit": "many"}), 422, "limit")
    assert_error(client.get("/no/such/route"), 404)
    assert client.delete("/recommend").status_code == 405


# -- learning ----------------------------------------------------------------------------------


def _cf_closeness(svc, body, movie_id):
    """Mean ALS-space cosine of the served movies to ``movie_id`` (the generator's CF vectors)."""
    gen = svc.artifacts.generator
    cf = gen.item_vectors("cf")
    unit = cf / np.maximum(np.linalg.norm(cf, axis=1, keepdims=True), 1e-9)
    rows = np.searchsorted(gen.movie_ids, [m["movie_id"] for m in body["items"]])
    return float(np.mean(unit[rows] @ unit[np.searchsorted(gen.movie_ids, movie_id)]))


def test_feedback_updates_the_next_recommendation_at_once(tmp_path):
    with generator_order_client(tmp_path / "fb.sqlite3") as c:
        svc = service(c)
        before = c.post("/recommend", json={"user_id": 7, "k": 10, "explain": False}).json()
        # Served as the generator's own list before any feedback ...
        gen_list = svc.artifacts.generator.for_user(7, 200)
        # ... and an unseen movie well outside the user's current top 10 (the generator's 60th).
        target = int(gen_list.movie_ids[59])
        # No impression: it would put the movie's genres in the "recently shown" window, which the
        # policy rightly penalises (boredom) and which would blur what this test measures.
        for event in ("click", "like", "like", "like", "like", "like"):
            reply = c.post("/feedback", json={"user_id": 7, "movie_id": target, "event": event})
            assert reply.status_code == 200 and reply.json()["stored"] is True
        after = c.post("/recommend", json={"user_id": 7, "k": 10, "explain": False}).json()
        assert after["user"]["profile_version"] == before["user"]["profile_version"] + 6
        # The liked movie joined the history: the next list is the generator's known-user query on the
        # training history plus it (a like counts 5 stars), the consumed movie left out, and it differs.
        gen, users = svc.artifacts.generator, svc.artifacts.users
        row = users.row(7)
        history = np.r_[svc.artifacts.catalog.movie_ids[users.rated[row]], target]
        stars = np.r_[users.rated_stars[row], 5.0]
        want = gen.for_user_update(7, history, stars, 50, exclude=[target]).movie_ids[:10].tolist()
        served = [m["movie_id"] for m in after["items"]]
        assert served == want and served != [m["movie_id"] for m in before["items"]]
        assert target not in served, "a consumed movie came back"
        # The policy's state is built from the same updated history.
        ctx = svc.recommender.retrieve(svc.recommender.known_user(7), None)
        assert target in ctx.history_ids.tolist()


def test_a_batch_of_feedback_is_one_post_per_event_in_one_commit(tmp_path):
    """POST /feedback/batch: the same state as posting each event in order (two services, one each
    way), stored at once; a retried batch (same keys) stores nothing; an unknown movie anywhere in
    it stores none of it and is named by its index."""
    slate_events = [("impression", None), ("click", None), ("watch", 0.6), ("like", None)]
    states = []
    for batched in (False, True):
        with make_client(tmp_path / f"fb-{batched}.sqlite3") as c:
            movies = [m["movie_id"] for m in c.post("/recommend", json={"user_id": 3, "k": 3, "explain": False}).json()["items"]]
            events = [{"user_id": 3, "movie_id": m, "event": e, **({"watch_fraction": w} if w is not None else {})}
                      for m in movies for e, w in slate_events[: 1 + (m == movies[0]) * 3]]
            if batched:
                keyed = [{**e, "idempotency_key": f"k{i}"} for i, e in enumerate(events)]
                reply = c.post("/feedback/batch", json={"events": keyed})
                assert reply.status_code == 200, reply.text
                body = reply.json()
                assert body["stored"] is True and [x["duplicate"] for x in body["events"]] == [False] * len(events)
                assert [x["event_id"] for x in body["events"]] == list(range(1, len(events) + 1))
                again = c.post("/feedback/batch", json={"events": keyed}).json()
                assert [x["duplicate"] for x in again["events"]] == [True] * len(events)
                bad = [*keyed[:2], {"user_id": 3, "movie_id": 999_999, "event": "click"}]
                assert_error(c.post("/feedback/batch", json={"events": bad}), 404, "events[2]", "999999")
                assert_error(c.post("/feedback/batch", json={"events": []}), 422)
                assert service(c).store.count() == len(events)
            else:
                for e in events:
                    assert c.post("/feedback", json=e).status_code == 200
            after = c.post("/recommend", json={"user_id": 3, "k": 10, "explain": False}).json()
            snapshot = service(c).recommender.known_user(3)
            states.append((after["user"]["profile_version"], [m["movie_id"] for m in after["items"]],
                           sorted(snapshot["positives"].items()), list(snapshot["window_rows"]),
                           snapshot["counts"].tolist(), snapshot["last_feedback"].tolist()))
    assert states[0] == states[1]
    assert states[1][0] == len(events) and states[1][2]  # every event applied; the like is a positive


def test_a_frozen_service_keeps_the_generator_query_but_never_repeats_a_consumed_movie(tmp_path):
    with generator_order_client(tmp_path / "fb.sqlite3", update_embeddings=False) as c:
        before = c.post("/recommend", json={"user_id": 7, "k": 10, "explain": False}).json()
        first = before["items"][0]["movie_id"]
        for event in ("click", "like"):
            c.post("/feedback", json={"user_id": 7, "movie_id": first, "event": event})
        after = c.post("/recommend", json={"user_id": 7, "k": 10, "explain": False}).json()
        want = [int(m) for m in service(c).artifacts.generator.for_user(7, 50).movie_ids if m != first]
        assert [m["movie_id"] for m in after["items"]] == want[:10]


def test_state_is_rebuilt_from_the_log_after_restart(tmp_path):
    db = tmp_path / "fb.sqlite3"
    with make_client(db) as c:
        for movie in (3, 4, 5):
            c.post("/feedback", json={"user_id": 9, "movie_id": movie, "event": "like"})
        first = c.post("/recommend", json={"user_id": 9, "k": 5, "explain": False}).json()
    with make_client(db) as c:
        again = c.post("/recommend", json={"user_id": 9, "k": 5, "explain": False}).json()
    assert again["user"]["profile_version"] == 3
    assert [m["movie_id"] for m in again["items"]] == [m["movie_id"] for m in first["items"]]


def _logged_world(tmp_path, n=300, seed=0):
    """A feedback log where engagement follows the second feature (popularity) only."""
    rng = np.random.default_rng(seed)
    store = FeedbackStore(tmp_path / "learn.sqlite3")
    for i in range(n):
        x = [rng.normal(), rng.random(), rng.random(), 1.0]  # z(base), 2 features, bias
        store.append(1, i + 1, "impression", features=x)
        if rng.random() < x[1]:
            store.append(1, i + 1, "click")
    return store


def test_fine_tuning_deploys_a_better_head_and_versions_every_response(tmp_path):
    store = _logged_world(tmp_path)
    learner = PolicyLearner(store, n_features=2, base_version="base", config=LearnerConfig(min_examples=40))
    assert learner.version == "base+ft0"
    record = learner.fine_tune()
    assert record["deployed"], record
    assert record["auc_candidate"] >= record["auc_deployed"]
    assert learner.version == "base+ft1"
    assert learner.head.weights[1] > 0.3, "the head did not learn that the first feature drives clicks"
    X, y = logged_examples(store.events())
    assert X.shape == (300, 4) and 0 < (y > 0).mean() < 1


def test_a_worse_update_is_not_deployed(tmp_path):
    store = _logged_world(tmp_path)
    learner = PolicyLearner(store, n_features=2, base_version="base", config=LearnerConfig(min_examples=40))
    learner.fine_tune()
    good = learner.head
    # A broken trainer (e.g. a sign error): it predicts the opposite of what happened.
    learner.trainer = lambda X, y, prev: -prev
    record = learner.fine_tune()
    assert not record["deployed"] and "worse" in record["reason"]
    assert learner.head is good and learner.version == "base+ft1"


def test_background_fine_tuning_runs_after_enough_events(tmp_path):
    settings = ServiceSettings(source="synthetic", feedback_db=tmp_path / "bg.sqlite3",
                               learner=LearnerConfig(enabled=True, every_events=60, interval_s=60, min_examples=20))
    with TestClient(create_app(settings)) as c:
        send_simulated_feedback(c, range(1, 31), sharpness=4, seed=1)
        learner = service(c).learner
        assert learner.wait_idle(timeout=20)
        assert learner.history, "the learner never ran although every_events was exceeded"
        attempt = learner.history[0]
        # It started once every_events (60) events were logged: impressions among them are its examples.
        assert attempt["examples"] >= 20 and attempt["at_event"] >= 60
        version = c.get("/health").json()["policy_version"]
        assert version == learner.version
        assert version.endswith(f"+ft{learner.head.version}")


# -- the lesson-04 policy as the re-ranker -------------------------------------------------------


@pytest.fixture(scope="module")
def saved_policy(tmp_path_factory):
    """An (untrained) DQN saved with lesson 04's own save_policies on the synthetic world."""
    from recsys_utils.rl.agents import make_agent
    from recsys_utils.rl.env import RecommendationEnv
    from recsys_utils.rl.serving import save_policies
    from recsys_utils.rl.simulator import SimulatorConfig
    from recsys_utils.rl.synthetic import synthetic_movielens, synthetic_world

    folder = tmp_path_factory.mktemp("policy")
    world, config = synthetic_world(seed=0), SimulatorConfig()
    env_factory = lambda: RecommendationEnv(world, "train", config, k=5)  # noqa: E731
    make_agent("DQN", env_factory, seed=0).save(folder / "raw.zip")
    _, _, vectors = synthetic_movielens(120, 300, seed=0)
    save_policies({"DQN": {"best_validation_return": [0.0], "paths": [folder / "raw.zip"], "best_step": [0],
                           "seeds": [0]}}, world, env_factory().layout, config, vectors, "64x64",
                  folder=folder / "policies")
    return folder / "policies"


def test_rl_policy_reranks_and_matches_the_policy_on_the_first_slate(saved_policy, tmp_path):
    from recsys_utils.service.artifacts import synthetic_artifacts
    from recsys_utils.service.reranker import RLBasePolicy

    artifacts = synthetic_artifacts(seed=0, n_users=120, n_movies=300, with_policy=False)
    artifacts.policy, artifacts.policy_problem = RLBasePolicy.load(artifacts.catalog, saved_policy), None
    settings = ServiceSettings(artifacts=artifacts, feedback_db=tmp_path / "fb.sqlite3",
                               learner=LearnerConfig(enabled=False))
    with TestClient(create_app(settings)) as c:
        c.post("/feedback", json={"user_id": 4, "movie_id": 10, "event": "impression"})
        body = c.post("/recommend", json={"user_id": 4, "k": 8}).json()
        assert body["policy_version"] == "dqn-seed0+ft0" and not body["degraded"]
        assert len(body["items"]) == 8
        health = c.get("/health").json()
        assert health["status"] == "ok" and "DQN" in health["reranking"]["base_policy"]

        rec = service(c).recommender
        ctx = rec.retrieve(rec.known_user(4), None)
        scores = artifacts.policy.score(ctx)
        assert scores.shape == (len(ctx.rows),)
        # The re-ranker is the RL policy contract's own score, on the state the service knows.
        policy = artifacts.policy.policy
        state = artifacts.policy.state(ctx)
        assert list(state.recent_movie_ids) == [10] and state.step == ctx.step
        ids = ctx.movie_ids  # the generator's order, best first
        raw = policy.score(state, ids)[0]
        # With the guard's weight at 1 (what validation chose for this policy), the service ranks
        # exactly as the policy does ...
        assert policy.info["policy_weight"] == 1.0
        served_order = np.asarray(ctx.rows)[np.argsort(-scores, kind="stable")]
        np.testing.assert_array_equal(served_order, np.asarray(ctx.rows)[np.argsort(-raw, kind="stable")])
        # ... and on its first slate, the policy's scores are the ones lesson 04's environment would see.
        obs, _ = policy.observation(state, ids[:5])
        np.testing.assert_allclose(raw[:5], policy.network_scores(obs[None])[0], rtol=1e-5, atol=1e-6)
        # With the initial head, the served order is the policy's order.
        served = [m["movie_id"] for m in body["items"]]
        assert served == [int(artifacts.catalog.movie_ids[r]) for r in served_order[:8]]
        # With a weight of 0 (validation found the policy spoils retrieval), the generator's order is served.
        policy.manifest.setdefault("serving", {})["policy_weight"] = 0.0
        unguarded = artifacts.policy.score(ctx)
        np.testing.assert_array_equal(np.asarray(ctx.rows)[np.argsort(-unguarded, kind="stable")], ctx.rows)
        # ... end to end: the served list is then the candidate generator's own list. (The candidate
        # table holds pools the old policy scored; a changed policy is a new process in production.)
        _without_table(c.app.state.service.recommender)
        body = c.post("/recommend", json={"user_id": 4, "k": 8, "explain": False}).json()
        assert [m["movie_id"] for m in body["items"]] == artifacts.generator.for_user(4, 8).movie_ids.tolist()


def test_policy_for_another_catalogue_is_refused(saved_policy):
    from recsys_utils.service.artifacts import MissingArtifact, synthetic_artifacts
    from recsys_utils.service.reranker import RLBasePolicy

    bigger = synthetic_artifacts(seed=0, n_users=60, n_movies=400, with_policy=False)
    with pytest.raises(MissingArtifact, match="lesson 04"):
        RLBasePolicy.load(bigger.catalog, saved_policy)


# -- start-up errors name the lesson that makes the missing artefact --------------------------------


def test_missing_artefacts_name_their_lesson(tmp_path, monkeypatch):
    from recsys_utils.data import load_movielens
    from recsys_utils.paths import raw_dir
    from recsys_utils.service.artifacts import (
        MissingArtifact,
        _load_generator,
        _load_policy,
        load_course_artifacts,
        synthetic_artifacts,
    )

    load_movielens()  # makes sure the test data folder holds ml-100k (cached after the first run)
    real_raw = raw_dir()
    monkeypatch.setenv("RECSYS_DATA_DIR", str(tmp_path / "empty"))
    monkeypatch.delenv("PINECONE_API_KEY", raising=False)
    with pytest.raises(MissingArtifact, match="lesson 01"):
        load_course_artifacts()
    (tmp_path / "empty" / "raw").mkdir(parents=True)
    (tmp_path / "empty" / "raw" / "ml-100k").symlink_to(real_raw / "ml-100k")
    with pytest.raises(MissingArtifact, match="lesson 02"):
        load_course_artifacts()
    # A damaged index is refused with the lesson that rebuilds it, never loaded or shown as a raw traceback.
    from recsys_utils.vectorstore import open_store

    store = open_store("local", name="movies", dimension=3)
    store.upsert([("1", [1.0, 0.0, 0.0], {"title": "x"})])
    store_json = next((tmp_path / "empty").rglob("movies/store.json"))
    store_json.write_text(store_json.read_text()[:-20])
    with pytest.raises(MissingArtifact, match=r"damaged.*lesson 02"):
        load_course_artifacts()
    # No candidate generator for this dataset, seed and budget: named, never fitted at start-up.
    with pytest.raises(MissingArtifact, match=r"candidate generator.*lesson 03.*BUDGET='smoke'"):
        _load_generator(load_movielens(), 42, "local", "smoke")
    catalog = synthetic_artifacts(seed=0).catalog
    with pytest.raises(MissingArtifact, match="lesson 04"):
        _load_policy(catalog, required=True, path=tmp_path / "no-policies")
    policy, problem = _load_policy(catalog, required=False, path=tmp_path / "no-policies")
    assert policy is None and "lesson 04" in problem


def test_degraded_mode_is_reported_not_silent(tmp_path):
    from recsys_utils.service.artifacts import synthetic_artifacts

    artifacts = synthetic_artifacts(seed=0, with_policy=False)
    settings = ServiceSettings(artifacts=artifacts, feedback_db=tmp_path / "fb.sqlite3",
                               learner=LearnerConfig(enabled=False))
    with TestClient(create_app(settings)) as c:
        health = c.get("/health").json()
        assert health["status"] == "degraded" and "without a policy" in health["reranking"]["problem"]
        body = c.post("/recommend", json={"user_id": 3, "k": 3}).json()
        assert body["degraded"] and body["policy_version"] == "similarity+ft0"
        sims = [m["similarity"] for m in body["items"]]
        assert sims == sorted(sims, reverse=True), "without a policy the order must be retrieval order"


@pytest.mark.parametrize("flt", [
    None,
    {"genres": ["Horror"]},
    {"genres": ["Comedy", "Drama"], "year_min": 1960, "year_max": 1985},
    {"year_max": 1970, "exclude_movie_ids": [3, 5, 8]},
])
def test_without_reranking_the_served_list_is_the_generators(tmp_path, flt):
    """Policy weight 0 (here: no policy at all, the initial head): the service serves exactly the
    candidate generator's list, filters included, for known users and cold-start profiles."""
    from recsys_utils.service.artifacts import synthetic_artifacts
    from recsys_utils.service.candidate_source import SearchFilter

    artifacts = synthetic_artifacts(seed=3, with_policy=False)
    gen = artifacts.generator
    store_filter = None if flt is None else SearchFilter(**{k: tuple(v) if isinstance(v, list) else v for k, v in flt.items()}).as_store_filter()
    settings = ServiceSettings(artifacts=artifacts, feedback_db=tmp_path / "fb.sqlite3",
                               learner=LearnerConfig(enabled=False))
    with TestClient(create_app(settings)) as c:
        for user in artifacts.users.user_ids[::9]:
            body = c.post("/recommend", json={"user_id": int(user), "k": 12, "explain": False,
                                              **({"filters": flt} if flt else {})}).json()
            want = gen.for_user(int(user), 12, store_filter).movie_ids.tolist()
            assert [m["movie_id"] for m in body["items"]] == want
        profile = {"liked_movie_ids": [12, 40]}
        body = c.post("/recommend", json={"profile": profile, "k": 12, "explain": False,
                                          **({"filters": flt} if flt else {})}).json()
        want = gen.for_profile([12, 40], k=50, filters=store_filter).movie_ids[:12].tolist()
        assert [m["movie_id"] for m in body["items"]] == want


@pytest.mark.parametrize("content, words", [
    (b"[" * 30_000 + b"]" * 30_000, ["nested too deeply"]),  # under the 64 KB body limit
    (b'{"user_id": ' + b"7" * 5000 + b', "k": 3}', ["number", "too long"]),
])
def test_unparseable_json_names_the_real_cause(client, content, words):
    headers = {"content-type": "application/json"}
    body = assert_error(client.post("/recommend", content=content, headers=headers), 400, *words)
    assert "utf-8" not in body["error"].lower()


def test_a_cold_start_visitor_profile_moves_with_their_feedback(tmp_path):
    with generator_order_client(tmp_path / "fb.sqlite3") as c:
        svc = service(c)
        profile = {"liked_movie_ids": [12], "visitor_id": 501}
        before = c.post("/recommend", json={"profile": profile, "k": 10, "explain": False}).json()
        assert before["user"] == {"kind": "cold_start", "user_id": None, "visitor_id": 501, "profile_version": 0}
        # A movie far from movie 12 in the CF space, outside the first list.
        gen = svc.artifacts.generator
        cf = gen.item_vectors("cf")
        far = int(gen.movie_ids[int(np.argsort(cf @ cf[np.searchsorted(gen.movie_ids, 12)])[0])])
        for event in ("click", "like", "like"):
            ack = c.post("/feedback", json={"visitor_id": 501, "movie_id": far, "event": event}).json()
        assert ack["profile_version"] == 3
        after = c.post("/recommend", json={"profile": profile, "k": 10, "explain": False}).json()
        assert after["user"]["profile_version"] == 3
        assert _cf_closeness(svc, after, far) > _cf_closeness(svc, before, far) + 0.05
        assert far not in [m["movie_id"] for m in after["items"]]
        # The list is the generator's fold-in of the updated liked set, the consumed movie left out.
        want = gen.for_profile([12, far], k=50, exclude=[far]).movie_ids[:10].tolist()
        assert [m["movie_id"] for m in after["items"]] == want
        # Another visitor with the same profile is untouched; known users are unaffected.
        other = c.post("/recommend", json={"profile": {**profile, "visitor_id": 502}, "k": 10, "explain": False}).json()
        assert [m["movie_id"] for m in other["items"]] == [m["movie_id"] for m in before["items"]]
        assert_error(c.post("/feedback", json={"visitor_id": 501, "user_id": 1, "movie_id": 1, "event": "click"}),
                     422, "exactly one")
        assert_error(c.post("/recommend", json={"profile": {"liked_movie_ids": [10**6]}}), 404, "liked_movie_ids")


def _without_table(rec):
    """Swap in an empty candidate table of the same capacity, so every request computes; returns the old one."""
    from recsys_utils.service.pool_table import PoolTable

    table, rec.pools = rec.pools, PoolTable(rec.pools.capacity)
    return table


def test_the_start_up_table_serves_fresh_users_exactly_as_the_online_path(tmp_path):
    """Known users without feedback are served from the pools computed at start-up; the online
    path (generator + policy asked per request) gives the very same answer, and feedback leaves
    the table at once."""
    with make_client(tmp_path / "fb.sqlite3") as c:
        rec = service(c).recommender
        assert len(rec.pools) == len(service(c).artifacts.users.user_ids)
        users = [int(u) for u in service(c).artifacts.users.user_ids[::5]]
        tabled = {u: c.post("/recommend", json={"user_id": u, "k": 10, "explain": False}).json() for u in users}
        table = _without_table(rec)
        for u in users:
            online = c.post("/recommend", json={"user_id": u, "k": 10, "explain": False}).json()
            assert online == tabled[u]
        rec.pools = table
        c.post("/feedback", json={"user_id": users[0], "movie_id": tabled[users[0]]["items"][0]["movie_id"],
                                  "event": "like"})
        user = rec.known_user(users[0])
        assert user["version"] == 1
        after = c.post("/recommend", json={"user_id": users[0], "k": 10, "explain": False}).json()
        assert after["items"] != tabled[users[0]]["items"]


def test_a_returning_users_pool_is_kept_for_their_state_version_and_only_for_it(tmp_path):
    """After feedback, the first request computes the user's pool and keeps it; later requests at
    that version get the very answer a fresh computation gives; the next event, a filter and a new
    scoring head each take effect at once."""
    from recsys_utils.service.learning import ScoringHead

    with make_client(tmp_path / "fb.sqlite3") as c:
        svc = service(c)
        rec = svc.recommender
        users = [int(u) for u in svc.artifacts.users.user_ids[:12]]

        def ask(user, **extra):
            return c.post("/recommend", json={"user_id": user, "k": 10, "explain": False, **extra}).json()

        for u in users:
            c.post("/feedback", json={"user_id": u, "movie_id": ask(u)["items"][0]["movie_id"], "event": "like"})
        assert all(rec.pools.get(u, 1) is None for u in users)
        computed = {u: ask(u) for u in users}  # the first request after the like: computed, then kept
        assert all(rec.pools.get(u, 1) is not None for u in users)
        assert all(computed[u]["user"]["profile_version"] == 1 for u in users)
        kept = {u: ask(u) for u in users}
        assert kept == computed
        table = _without_table(rec)
        assert {u: ask(u) for u in users} == kept, "the kept pool answered differently from a fresh computation"
        rec.pools = table

        # The next event: the kept version-1 pool is not served for version 2.
        second = kept[users[0]]["items"][1]["movie_id"]
        c.post("/feedback", json={"user_id": users[0], "movie_id": second, "event": "like"})
        after = ask(users[0])
        assert after["user"]["profile_version"] == 2 and second not in [m["movie_id"] for m in after["items"]]
        table = _without_table(rec)
        assert ask(users[0]) == after
        rec.pools = table

        # A filter is answered by the generator, never from the unfiltered pool.
        horror = ask(users[1], filters={"genres": ["horror"]})
        assert horror["items"] and all("Horror" in m["genres"] for m in horror["items"])

        # A new head re-orders a kept pool at once (here: by popularity, the head's third column).
        deployed = svc.learner.head
        weights = np.zeros_like(deployed.weights)
        weights[2] = 1.0
        svc.learner.head = ScoringHead(weights, version=7)
        reordered = ask(users[2])
        assert reordered["policy_version"].endswith("+ft7")
        assert [m["movie_id"] for m in reordered["items"]] != [m["movie_id"] for m in kept[users[2]]["items"]]
        scores = [m["score"] for m in reordered["items"]]
        assert scores == sorted(scores, reverse=True)
        svc.learner.head = deployed
        assert ask(users[2]) == kept[users[2]]
        # Shared between requests, so nothing may write into it.
        rows = rec.pools.get(users[2], 1)[0]
        with pytest.raises(ValueError, match="read-only"):
            rows[0] = 0


def test_the_candidate_table_keeps_the_most_recently_asked_users_and_one_version_each():
    from recsys_utils.service.pool_table import PoolTable

    table = PoolTable(2)
    pools = {u: (np.arange(3) + u, np.zeros(3)) for u in (1, 2, 3)}
    table.put(1, 0, pools[1])
    table.put(2, 4, pools[2])
    assert table.get(1, 0) is pools[1] and table.get(2, 4) is pools[2]
    assert table.get(2, 3) is None and table.get(2, 5) is None  # another version: not this pool
    table.get(1, 0)  # user 1 is now the more recently asked
    table.put(3, 0, pools[3])
    assert len(table) == 2 and table.get(2, 4) is None and table.get(1, 0) is pools[1]
    table.put(1, 1, pools[2])  # a newer version replaces the older one
    assert table.get(1, 0) is None and table.get(1, 1) is pools[2]
    assert not pools[3][0].flags.writeable
    none = PoolTable(0)
    none.put(1, 0, pools[1])
    assert len(none) == 0 and none.get(1, 0) is None
    with pytest.raises(ValueError, match="RECSYS_POOL_TABLE_USERS"):
        PoolTable(-1)


def test_the_answer_is_the_json_the_schema_describes_and_a_non_finite_score_is_refused(tmp_path):
    """/recommend's body is rendered by pydantic-core: byte for byte what the json module parses
    back to the same answer, non-ASCII text as UTF-8; a NaN score (a fault of the head) is refused
    with a message, never sent as an invalid JSON constant."""
    import json

    from recsys_utils.service.learning import ScoringHead
    from recsys_utils.service.routes.recommend import RustJSONResponse

    with make_client(tmp_path / "fb.sqlite3") as c:
        svc = service(c)
        reply = c.post("/recommend", json={"user_id": 3, "k": 5})
        assert reply.headers["content-type"] == "application/json"
        body = json.loads(reply.content.decode("utf-8"))
        RecommendResponse.model_validate(body)
        assert len(body["items"]) == 5 and all(m["explanation"]["text"] for m in body["items"])
        assert RustJSONResponse({"title": "Amélie", "score": 0.5}).body == '{"title":"Amélie","score":0.5}'.encode()
        weights = svc.learner.head.weights.copy()
        weights[1] = np.nan
        svc.learner.head = ScoringHead(weights, version=3)
        with pytest.raises(ValueError, match="final scores .* not all finite"):
            c.post("/recommend", json={"user_id": 3, "k": 5})
