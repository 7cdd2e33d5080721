"""Offline means offline: with RECSYS_OFFLINE=1 no pip download, npm pack or HTTPS download runs."""

import hashlib
import shutil
import subprocess
import urllib.request

import pytest

from recsys_utils import assets, enrich
from recsys_utils.data import DataSourceError, load_movielens, sources


class NetworkUsed(AssertionError):
    pass


@pytest.fixture
def no_network(monkeypatch):
    """Every way out fails loudly: a test passes only if nothing tried to fetch."""
    calls = []

    def refuse(name):
        def fail(*args, **kwargs):
            calls.append((name, args))
            raise NetworkUsed(f"{name} called under RECSYS_OFFLINE: {args[:1]}")
        return fail

    monkeypatch.setattr(subprocess, "run", refuse("subprocess.run"))
    monkeypatch.setattr(subprocess, "Popen", refuse("subprocess.Popen"))
    monkeypatch.setattr(urllib.request, "urlopen", refuse("urlopen"))
    monkeypatch.setenv(assets.OFFLINE_ENV, "1")
    return calls


@pytest.fixture(autouse=True)
def isolated_data(tmp_path, monkeypatch):
    monkeypatch.setenv("RECSYS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv(sources.SOURCE_ENV, raising=False)


def test_offline_without_assets_lists_each_skipped_source_and_fetches_nothing(tmp_path, monkeypatch, no_network):
    monkeypatch.setenv(assets.OFFLINE_DIR_ENV, str(tmp_path / "empty-offline"))
    with pytest.raises(DataSourceError) as caught:
        load_movielens("ml-100k")
    message = str(caught.value)
    assert "skipped the GroupLens download of ml-100k.zip because RECSYS_OFFLINE is set" in message
    assert "RECSYS_OFFLINE is set, so it is not fetched now" in message
    assert message.count("to provide it:") == 2
    with pytest.raises(sources.SourceFailed) as vega:
        enrich.vega_movies_path()
    assert "vega-datasets@3.2.1 is not in empty-offline/" in str(vega.value)
    assert "skipped the download of https://" in str(vega.value)
    failures = assets.fetch(log=lambda *_: None)
    assert failures == ["recbole==1.2.1: skipped pip download recbole==1.2.1 because RECSYS_OFFLINE is set"]
    assert no_network == []


def test_offline_course_data_comes_from_what_the_install_step_fetched(no_network):
    """ml-100k and the vega movies out of data/offline/ (filled by `make venv`), no network."""
    data = load_movielens("ml-100k")
    assert data.source == "packaged-wheel:recbole==1.2.1" and len(data.ratings) == 100_000
    assert enrich.vega_movies_path().name == "movies.json"
    assert no_network == []


def test_asset_path_names_the_fetch_command_and_checks_sha256(tmp_path, monkeypatch):
    monkeypatch.setenv(assets.OFFLINE_DIR_ENV, str(tmp_path / "offline"))
    with pytest.raises(assets.AssetMissing, match=r"run `python -m recsys_utils.assets fetch` \(or `make venv`\)"):
        assets.asset_path("recbole")
    (tmp_path / "offline").mkdir()
    (tmp_path / "offline" / "recbole-1.2.1-py3-none-any.whl").write_bytes(b"truncated")
    found = hashlib.sha256(b"truncated").hexdigest()
    with pytest.raises(assets.AssetMissing, match=f"expected {assets.get_asset('recbole').sha256}, found {found}"):
        assets.asset_path("recbole")


@pytest.mark.slow  # two pip runs, about 6 s
def test_fetch_runs_pip_download_and_verifies(tmp_path, monkeypatch):
    """pip download of a local wheel file: the real client and check, without the network."""
    wheel = tmp_path / "src" / "recbole-1.2.1-py3-none-any.whl"
    wheel.parent.mkdir()
    shutil.copy(assets.asset_path("recbole"), wheel)
    good = assets.Asset("local", "pip", str(wheel), wheel.name, assets.get_asset("recbole").sha256)
    monkeypatch.setenv(assets.OFFLINE_DIR_ENV, str(tmp_path / "out"))
    assert assets.fetch_one(good).read_bytes() == wheel.read_bytes()
    (tmp_path / "out" / wheel.name).unlink()
    bad = assets.Asset("local", "pip", str(wheel), wheel.name, "0" * 64)
    with pytest.raises(assets.FetchFailed, match="expected 0000"):
        assets.fetch_one(bad)
    assert not (tmp_path / "out" / wheel.name).exists()
