"""The shared movie catalogue type (recsys_utils.catalog)."""

import numpy as np
import pandas as pd
import pytest

from recsys_utils.catalog import Catalog, build_catalog


def test_catalog_from_movies_and_ratings_counts_unrated_movies_too():
    movies = pd.DataFrame({"movie_id": [3, 1, 2], "title": ["Gamma", "Alpha", "Béta Film"],
                           "year": [2001, None, 1999], "genres": [["Drama"], ["Comedy", "Drama"], []]})
    ratings = pd.DataFrame({"user_id": [1, 1, 2], "movie_id": [1, 1, 3], "rating": [4.0, 5.0, 3.0]})
    catalog = build_catalog(movies, ratings)
    assert catalog.movie_ids.tolist() == [1, 2, 3] and catalog.titles == ["Alpha", "Béta Film", "Gamma"]
    assert catalog.years == [None, 1999, 2001] and catalog.genre_names == ["Comedy", "Drama"]
    assert catalog.genres.tolist() == [[1, 1], [0, 0], [0, 1]]
    assert catalog.popularity[1] == 0.0 and catalog.popularity[0] == pytest.approx(1.0)  # movie 2: no ratings
    assert catalog.positions([3, 1]).tolist() == [2, 0] and catalog.row(2) == 1 and catalog.row(9) is None
    assert catalog.rows([9, 3]).tolist() == [-1, 2]
    assert catalog.genre_list(0) == ("Comedy", "Drama")
    assert catalog.search("beta") == [1]  # accent blind
    with pytest.raises(KeyError, match="9"):
        catalog.positions([9])


def test_the_rl_field_order_is_kept():
    catalog = Catalog(np.array([5, 7]), np.eye(2, dtype=np.float32), ["A", "B"], np.array([0.5, 1.0], np.float32),
                      np.zeros((2, 3), np.float32))
    assert catalog.item_feature_dim == 3 and catalog.titles is None
    with pytest.raises(ValueError, match="sorted"):
        Catalog(np.array([7, 5]), np.eye(2, dtype=np.float32), ["A", "B"], np.ones(2, np.float32))
