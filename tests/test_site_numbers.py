from recsys_utils.site.numbers import (
    format_number,
    format_p,
    format_p_cell,
    format_value_ci,
    permutation_floor,
)


def test_significant_digits_and_integers():
    assert format_number(0.31234) == "0.312" and format_number(0.0123456) == "0.0123"
    assert format_number(1234.5678) == "1,235" and format_number(20381) == "20,381" and format_number(65.0) == "65"
    assert format_number(2.5e-6) == "2.50e-06" and format_number(0.0) == "0" and format_number(True) == "yes"
    assert format_number(None) == "n/a"


def test_interval_uses_the_values_decimals():
    assert format_value_ci(0.30123, (0.28171, 0.33644)) == "0.301 (95% CI 0.282 to 0.336)"
    assert format_value_ci(12.0, None, "s") == "12 s"
    assert format_value_ci(-0.0213, (-0.041, 0.004)) == "-0.0213 (95% CI -0.0410 to 0.0040)"
    assert format_value_ci(0.4287, (0.41, 0.447), "share of ratings") == "0.429 share of ratings (95% CI 0.410 to 0.447)"


def test_p_value_at_the_permutation_floor_is_a_bound():
    assert permutation_floor(5000) == 2 / 5001
    assert format_p(0.0003999200159968, 5000) == "p ≤ 2/(N+1) = 0.0004 (N = 5,000 resamples)"
    assert format_p(0.0312, 5000) == "p = 0.031" and format_p(2 / 5001) == "p = 0.00040"  # no N, no bound
    assert format_p_cell(2 / 5001, 5000) == "≤ 2/5001" and format_p_cell(0.0312, 5000) == "0.031"
    # Holm-adjusted: k times the floor when the raw p-value sits on it
    assert format_p_cell(6 / 5001, 5000, raw_p=2 / 5001) == "≤ 3×2/5001"
    assert format_p_cell(0.5, 5000, raw_p=0.2) == "0.50"


def test_dataset_source_kind_never_shows_a_path():
    from recsys_utils.site.content import source_kind

    assert source_kind("pip:recbole==1.2.1") == "pip package recbole==1.2.1"
    assert source_kind("local:/home/reader/ml-latest-small.zip") == "local copy (ml-latest-small.zip)"
    assert source_kind("https://example.invalid/ml-100k.zip") == "official download" and source_kind(None) == "not recorded"
