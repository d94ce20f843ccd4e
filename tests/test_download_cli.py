"""The CLI with URLs and catalogue names, against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json

import pytest

from explorer.cli import main
from explorer.download import DownloadCache
from explorer.download.catalogue import CATALOGUE_ENV
from tests.http_server import FileServer
from tests.test_download import cache_dir, server  # noqa: F401 - fixtures


@pytest.fixture
def catalogue(server, tmp_path, monkeypatch):  # noqa: F811
    """A catalogue whose first entry is the server's tiny model (NVIDIA's entries follow)."""
    path = tmp_path / "catalogue.json"
    path.write_text(json.dumps({"models": [dict(
        name="tiny-test-16", url=server.url("/tiny.safetensors"), family="StyleGAN2", dataset="random weights",
        resolution=16, licence="test only")]}), encoding="utf-8")
    monkeypatch.setenv(CATALOGUE_ENV, str(path))
    return server


def test_info_by_url(server, capsys):  # noqa: F811
    url = server.url("/tiny.safetensors")
    assert main(["info", url, "--device", "cpu"]) == 0
    captured = capsys.readouterr()
    assert f"file:          {url}" in captured.out and "16 x 16" in captured.out
    assert f"cached as:     {DownloadCache().lookup(url)}" in captured.out
    assert "tiny.safetensors" in captured.err and "B/s" in captured.err  # the progress bar
    assert main(["info", url, "--device", "cpu"]) == 0
    assert len(server.seen) == 1


def test_download_then_models_then_generate_by_name(catalogue, tmp_path, capsys):
    assert main(["download", "tiny-test-16"]) == 0
    out, err = capsys.readouterr()
    path = DownloadCache().lookup(catalogue.url("/tiny.safetensors"))
    assert "tiny-test-16: StyleGAN2 random weights 16px. Licence: test only" in out
    assert f"downloaded {path}" in out and "100%" in err
    assert main(["download", "tiny-test-16"]) == 0
    assert f"already downloaded: {path}" in capsys.readouterr().out
    assert main(["models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["name", "res", "dataset", "in", "the", "cache", "url"]
    assert lines[1].startswith("tiny-test-16") and "cached " in lines[1]
    assert any(line.startswith("stylegan3-t-ffhq-1024 ") and "  -  " in line for line in lines)
    assert lines[-2].startswith("35 models; licence: ") and lines[-2].count("non-commercial") == 1
    assert main(["generate", "tiny-test-16", "--seeds", "1-2", "--out", str(tmp_path / "out"),
                 "--device", "cpu"]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["grid.png", "seed0001.png", "seed0002.png"]
    assert len(catalogue.seen) == 1
    assert main(["models", "--delete", "tiny-test-16"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("deleted tiny-test-16 (")
    assert DownloadCache().entries() == []


def test_download_errors_are_one_line_and_exit_1(server, capsys):  # noqa: F811
    assert main(["download", server.url("/nothing.pkl")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: {server.url('/nothing.pkl')} answered HTTP 404 Not Found: check the address"]
    server.files["/page.pkl"] = b"<html>maintenance</html>"
    assert main(["info", server.url("/page.pkl"), "--device", "cpu"]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith(f"error: {server.url('/page.pkl')} did not send a checkpoint")
    assert main(["download", "no-such-model"]) == 1
    assert "neither a URL nor a model name" in capsys.readouterr().err


def test_resume_on_the_command_line(server, capsys):  # noqa: F811
    body = server.files["/tiny.safetensors"]
    server.cut_at["/tiny.safetensors"] = len(body) // 3
    url = server.url("/tiny.safetensors")
    assert main(["download", url]) == 1
    assert "dropped after" in capsys.readouterr().err
    assert main(["download", url]) == 0
    err = capsys.readouterr().err
    assert "resuming tiny.safetensors at" in err
    assert server.seen[-1].range == f"bytes={len(body) // 3}-"
    assert DownloadCache().lookup(url).read_bytes() == body
    assert isinstance(server, FileServer)
