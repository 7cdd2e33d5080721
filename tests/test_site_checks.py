"""The site's static checker and Markdown escaping catch what they exist for (fast, no build)."""

from recsys_utils.site.check import check_site
from recsys_utils.site.pages import md_text


def test_checker_flags_remote_resources_broken_links_and_missing_anchors(tmp_path):
    (tmp_path / "_static").mkdir()
    (tmp_path / "_static" / "ok.css").write_text("a{background:url(img.png)} b{font:url('https://cdn.example/f.woff')}")
    (tmp_path / "_static" / "img.png").write_bytes(b"png")
    (tmp_path / "index.html").write_text(
        "<html><head><link rel='stylesheet' href='_static/ok.css'>"
        "<script src='https://cdn.example/mathjax.js'></script></head><body id='top'>"
        "<a href='other.html#here'>ok</a> <a href='other.html#nowhere'>bad anchor</a> <a href='gone.html'>gone</a>"
        "<a href='https://example.org/paper'>a citation</a> <img src='_static/missing.png'></body></html>")
    (tmp_path / "other.html").write_text("<html><body><h2 id='here'>x</h2><a href='index.html#top'>back</a></body></html>")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "page.html").write_text("<a href='../other.html#here'>ok</a><a href='../other.html#gone'>no</a>")
    checked = check_site(tmp_path)
    assert sorted(checked.problems) == sorted([
        "sub/page.html: link ../other.html#gone names no anchor on its page",
        "index.html: loads https://cdn.example/mathjax.js from off the machine",
        "index.html: missing resource _static/missing.png",
        "index.html: link other.html#nowhere names no anchor on its page",
        "index.html: broken link gone.html",
        "_static/ok.css: loads https://cdn.example/f.woff from off the machine",
    ])
    assert checked.outside_links == {"https://example.org/paper"}  # a link, listed, never fetched


def test_recorded_strings_cannot_become_markup():
    assert md_text("<b>bold</b> {math}`x` $y$ [l](u) *e*") == (
        r"\<b\>bold\</b\> \{math\}\`x\` \$y\$ \[l\]\(u\) \*e\*")
    assert md_text("two\nlines") == "two lines"


def test_recorded_tables_show_p_values_at_the_floor_as_bounds():
    from recsys_utils.site.pages import recorded_table

    rows = [{"system": "a", "p_value": 2 / 2001, "n_resamples": 2000},  # its own N beats the lesson's
            {"system": "b", "p_value": 2 / 501, "p_holm": 3 * 2 / 501}, {"system": "c", "p_value": 0.25}]
    table = recorded_table(rows, n_resamples=500).splitlines()
    assert table[0] == "| system | p\\_value | n\\_resamples | p\\_holm |"
    assert table[2] == "| a | ≤ 2/2001 | 2,000 |  |" and table[3] == "| b | ≤ 2/501 |  | ≤ 3×2/501 |"
    assert table[4] == "| c | 0.25 |  |  |"


def test_lesson_links_to_repository_files_become_text_and_site_links_stay():
    from recsys_utils.site.pages import _site_links

    pages = {"lessons/03_retrieval_evaluation.ipynb", "docs/GLOSSARY.md"}
    text = ("[nDCG](../docs/GLOSSARY.md#ndcg), [lesson 03](03_retrieval_evaluation.ipynb), "
            "[the code](../recsys_utils/evaluation.py), [solutions](../solutions/03_x_solutions.ipynb), "
            "[a paper](https://example.org/p) and [a section](#results)")
    assert _site_links(text, pages) == (
        "[nDCG](../docs/GLOSSARY.md#ndcg), [lesson 03](03_retrieval_evaluation.ipynb), "
        "the code (`recsys_utils/evaluation.py` in the course repository), "
        "solutions (`solutions/03_x_solutions.ipynb` in the course repository), "
        "[a paper](https://example.org/p) and [a section](#results)")
