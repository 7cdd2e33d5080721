import getpass

import pytest

from recsys_utils import keys


@pytest.fixture(autouse=True)
def clean(monkeypatch):
    monkeypatch.delenv("DEMO_API_KEY", raising=False)
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("PAPERMILL_EXECUTION", raising=False)


def test_environment_key_is_used_without_asking(monkeypatch):
    monkeypatch.setenv("DEMO_API_KEY", "sk-from-env")
    monkeypatch.setattr(getpass, "getpass", lambda prompt: pytest.fail("asked although the key is set"))
    assert keys.ensure_key("DEMO_API_KEY", ask=True)


def test_asks_only_when_interactive_and_keeps_the_key_out_of_output(monkeypatch, capsys):
    monkeypatch.setattr(keys, "running_interactively", lambda: True)
    monkeypatch.setattr(getpass, "getpass", lambda prompt: " sk-typed ")
    assert keys.ensure_key("DEMO_API_KEY", ask=True, purpose="a demo")
    import os

    assert os.environ["DEMO_API_KEY"] == "sk-typed"
    assert "sk-typed" not in capsys.readouterr().out


def test_never_asks_under_papermill_or_ci(monkeypatch):
    monkeypatch.setattr(getpass, "getpass", lambda prompt: pytest.fail("asked in a batch run"))
    monkeypatch.setenv("PAPERMILL_EXECUTION", "1")
    assert not keys.ensure_key("DEMO_API_KEY", ask=True)
    monkeypatch.delenv("PAPERMILL_EXECUTION")
    monkeypatch.setenv("CI", "true")
    assert not keys.ensure_key("DEMO_API_KEY", ask=True)


def test_empty_answer_stays_offline(monkeypatch):
    monkeypatch.setattr(keys, "running_interactively", lambda: True)
    monkeypatch.setattr(getpass, "getpass", lambda prompt: "")
    assert not keys.ensure_key("DEMO_API_KEY", ask=True)
