"""One place for column names, default K, the default seed and model names."""

# Column names shared by every DataFrame in the course.
USER_COL = "user_id"
ITEM_COL = "movie_id"
RATING_COL = "rating"
TIMESTAMP_COL = "timestamp"
TITLE_COL = "title"
YEAR_COL = "year"
GENRES_COL = "genres"
TEXT_COL = "text"

DEFAULT_SEED = 42
DEFAULT_K = 10
EVAL_KS = (5, 10, 20)

# A rating of 4 or 5 stars counts as "liked" (relevant) on MovieLens' 1-5 scale.
LIKE_THRESHOLD = 4.0

DEFAULT_DATASET = "ml-100k"

EMBEDDING_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
EMBEDDING_DIM = 384
