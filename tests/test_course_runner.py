import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from recsys_utils import course


def test_only_selects_by_number_or_name(tmp_path):
    names = [tmp_path / f"{n}.ipynb" for n in ("01_data", "02_embed", "03_eval")]
    assert course.select_notebooks(names, "01,03") == [names[0], names[2]]
    assert course.select_notebooks(names, ["02_embed"]) == [names[1]]
    with pytest.raises(SystemExit, match="names no lesson for 07"):
        course.select_notebooks(names, "01,07")


def test_profiles_file_parses_and_unknown_profile_is_refused():
    assert isinstance(course.load_profile("smoke"), dict)
    assert set(course.load_profile("smoke")) <= {nb.stem for nb in course.list_notebooks()}
    with pytest.raises(SystemExit, match="choose one of smoke, full"):
        course.load_profile("fast")


def test_lessons_are_numbered_in_order():
    stems = [nb.stem for nb in course.list_notebooks()]
    assert stems == sorted(stems) and stems[0] == "01_data_preparation"


def test_failing_cell_is_named(tmp_path):
    nb = new_notebook(cells=[new_code_cell("x = 1"), new_code_cell("raise ValueError('bad budget')")])
    nb.metadata["kernelspec"] = {"name": course.KERNEL_NAME, "display_name": "x", "language": "python"}
    path = tmp_path / "09_fails.ipynb"
    nbformat.write(nb, path)
    with pytest.raises(course.LessonFailed) as failure:
        course.run_notebook(path, tmp_path / "out", {})
    message = str(failure.value)
    assert "09_fails failed in cell 1" in message and "ValueError: bad budget" in message
    assert (tmp_path / "out" / "09_fails.ipynb").exists()  # the executed copy keeps the traceback


def test_parameter_values_are_typed_like_papermill():
    values = ["3", "0.25", "True", "False", "None", "small", "1e3"]
    assert [course.parse_parameter_value(v) for v in values] == [3, 0.25, True, False, None, "small", 1000.0]


@pytest.mark.parametrize("name", ["OPENAI_API_KEY", "pinecone_api_key", "GithubToken", "MY_SECRET", "monkey"])
def test_secret_looking_names_are_refused(name):
    with pytest.raises(SystemExit, match="look like secrets") as refused:
        course.main(["run", "--only", "01", "-p", name, "x"])
    assert "environment variable" in str(refused.value)


def _write_lesson(folder, stem, parameters, body):
    nb = new_notebook(cells=[new_code_cell(parameters, metadata={"tags": ["parameters"]}), new_code_cell(body)])
    nb.metadata["kernelspec"] = {"name": course.KERNEL_NAME, "display_name": "x", "language": "python"}
    path = folder / f"{stem}.ipynb"
    nbformat.write(nb, path)
    return path


def test_dataset_and_p_values_reach_the_lessons_that_declare_them(tmp_path):
    first = _write_lesson(tmp_path, "01_a", 'DATASET = "ml-100k"\nN_USERS = 10', "")
    second = _write_lesson(tmp_path, "02_b", 'SEED = 1', "")
    overrides = {"01_a": {"N_USERS": 4}}
    params = course.lesson_parameters([first, second], overrides, "ml-1m", {"SEED": 7})
    assert params == {"01_a": {"N_USERS": 4, "DATASET": "ml-1m"}, "02_b": {"SEED": 7}}
    # -p wins over the profile; a name no lesson declares is refused with the names there are.
    assert course.lesson_parameters([first], overrides, None, {"N_USERS": 2})["01_a"] == {"N_USERS": 2}
    with pytest.raises(SystemExit, match="no selected lesson has a parameter named N_USER; the parameters are: DATASET, N_USERS"):
        course.lesson_parameters([first], overrides, None, {"N_USER": 2})


def test_dataset_switch_and_source_reach_the_kernel_but_not_the_notebook(tmp_path, monkeypatch):
    """--dataset becomes the DATASET parameter; --source only an environment variable of the kernel."""
    import json

    source = tmp_path / "private" / "ml-1m"
    source.mkdir(parents=True)
    seen = tmp_path / "seen.json"
    lesson = _write_lesson(
        tmp_path, "01_probe", 'DATASET = "ml-100k"\nN = 1',
        "import json, os\n"
        f"open({str(seen)!r}, 'w').write(json.dumps({{'dataset': DATASET, 'n': N, "
        "'source': os.environ.get('RECSYS_MOVIELENS_SOURCE')}))",
    )
    monkeypatch.setattr(course, "list_notebooks", lambda folder=None: [lesson])
    monkeypatch.delenv("RECSYS_MOVIELENS_SOURCE", raising=False)
    reports = tmp_path / "reports"
    course.run_course("smoke", reports=reports, dataset="ml-1m", source=source, parameters={"N": 3},
                      data_dir=tmp_path / "data", log=lambda *a, **k: None)
    assert json.loads(seen.read_text()) == {"dataset": "ml-1m", "n": 3, "source": str(source)}
    executed = (reports / "notebooks" / "01_probe.ipynb").read_text()
    assert '"ml-1m"' in executed and "private" not in executed
    environment = json.loads((reports / "environment.json").read_text())
    # build_report records the runner's dataset and source kind (or, in the site's report, the lessons' own record).
    if "dataset" in environment:
        assert environment["dataset"] == {"name": "ml-1m", "source_kind": "local-folder"}
    else:
        assert [d["name"] for d in environment["datasets"]] == ["ml-1m"]
    assert "private" not in (reports / "environment.json").read_text()
    import os

    assert "RECSYS_MOVIELENS_SOURCE" not in os.environ  # restored after the run


def test_unknown_dataset_and_missing_source_are_refused_before_any_lesson_runs(tmp_path):
    with pytest.raises(SystemExit, match="choose one of ml-100k"):
        course.run_course("smoke", dataset="ml-5m")
    with pytest.raises(SystemExit, match="does not exist"):
        course.run_course("smoke", dataset="ml-1m", source=tmp_path / "nowhere")
