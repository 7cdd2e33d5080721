"""Does the simulator reproduce held-out rating patterns?

The ground-truth model is refitted on the *training* part of the temporal split only, then the
simulator's response to each held-out (user, movie) pair is computed for a fresh user (no
boredom). If the simulator is faithful, what quality drives (the watch fraction and the like
probability, and the click where the click follows the rating) rises with the star rating the
person actually gave later.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from ..constants import ITEM_COL, RATING_COL, USER_COL
from ..rl.ground_truth import fit_rating_model, holdout_rmse
from ..rl.simulator import SimulatorConfig, UserResponseModel


def response_by_heldout_rating(train: pd.DataFrame, test: pd.DataFrame, config: SimulatorConfig,
                               **fit_kwargs) -> tuple[pd.DataFrame, dict]:
    """(table indexed by held-out star rating, summary numbers)."""
    model = fit_rating_model(train, **fit_kwargs)
    known = test[USER_COL].isin(model.user_ids) & test[ITEM_COL].isin(model.item_ids)
    scored = test[known]
    predicted = model.predict(scored[USER_COL].to_numpy(), scored[ITEM_COL].to_numpy())
    response = UserResponseModel(config)
    fresh = np.zeros_like(predicted)
    frame = pd.DataFrame({
        "heldout_rating": np.round(scored[RATING_COL].to_numpy()).astype(int),
        "predicted_rating": predicted,
        "click_probability": response.click_probability(predicted, fresh),
        "watch_fraction": response.watch_fraction(predicted),
        "like_probability": response.like_probability(predicted),
    })
    table = frame.groupby("heldout_rating").agg(
        pairs=("predicted_rating", "size"),
        predicted_rating=("predicted_rating", "mean"),
        click_probability=("click_probability", "mean"),
        watch_fraction=("watch_fraction", "mean"),
        like_probability=("like_probability", "mean"),
    )
    # A click that does not follow the rating (rating_weight = 0) has no rank correlation to report.
    constant = np.ptp(frame["click_probability"].to_numpy()) < 1e-12
    rho = None if constant else float(spearmanr(frame["heldout_rating"], frame["click_probability"]).statistic)
    rho_watch = spearmanr(frame["heldout_rating"], frame["watch_fraction"]).statistic
    summary = {**holdout_rmse(train, test, **fit_kwargs), "spearman_click_vs_heldout": rho,
               "spearman_watch_vs_heldout": float(rho_watch)}
    return table, summary
