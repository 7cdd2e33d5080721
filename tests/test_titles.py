import pytest

from recsys_utils.data.titles import normalise_title, parse_title


@pytest.mark.parametrize(
    ("raw", "title", "year"),
    [
        ("Usual Suspects, The (1995)", "The Usual Suspects", 1995),
        ("Clockwork Orange, A (1971)", "A Clockwork Orange", 1971),
        ("Misérables, Les (1995)", "Les Misérables", 1995),
        ("City of Lost Children, The (Cité des enfants perdus, La) (1995)",
         "The City of Lost Children (Cité des enfants perdus, La)", 1995),
        ("Postman, The (Postino, Il) (1994)", "The Postman (Postino, Il)", 1994),
        ("Toy Story (1995)", "Toy Story", 1995),
        ("2001: A Space Odyssey (1968)", "2001: A Space Odyssey", 1968),
        ("Death Note: Desu nôto (2006–2007)", "Death Note: Desu nôto", 2006),
        ("Hyena Road", "Hyena Road", None),
        ("Babylon 5 ", "Babylon 5", None),
        ("unknown", "unknown", None),
    ],
)
def test_parse_title(raw, title, year):
    assert parse_title(raw) == (title, year)


def test_normalise_title_matches_across_sources():
    assert normalise_title("Usual Suspects, The (1995)") == normalise_title("The Usual Suspects")
    assert normalise_title("Amélie") == normalise_title("Amelie")
    assert normalise_title("Shanghai Triad (Yao a yao yao dao waipo qiao)") == "shanghai triad"
    assert normalise_title("Star Wars: Episode IV") == "star wars episode iv"
    assert normalise_title(float("nan")) == "" and normalise_title(1776) == "1776"
