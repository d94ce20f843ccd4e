"""Checkpoints by URL against a real HTTP server on 127.0.0.1: cache, resume, errors, sniffing.

No test contacts any address but 127.0.0.1; the server (tests/http_server.py) answers Range and
If-Range like a CDN does, counts requests, and can drop a connection mid-file.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest
import torch

import explorer
from explorer import CheckpointError, DownloadError
from explorer.download import DownloadCache, find_model, published_models, remote_source
from explorer.download.cache import CACHE_DIR_ENV
from explorer.download.catalogue import CATALOGUE_ENV
from explorer.download.progress import RateMeter
from explorer.model import Model
from explorer.nets import build_generator
from tests.conftest import FIXTURES_DIR
from tests.http_server import FileServer

TINY = dict(z_dim=16, w_dim=16, c_dim=0, img_resolution=16, img_channels=3,
            mapping_kwargs=dict(num_layers=2), channel_base=256, channel_max=32)


def tiny_checkpoint_bytes(folder: Path, seed: int = 0) -> bytes:
    """A real .safetensors checkpoint of a tiny StyleGAN2, written by explorer.save."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        g = build_generator("stylegan2", TINY)
    path = folder / f"tiny{seed}.safetensors"
    explorer.save(Model(g, None, format="test"), path)
    return path.read_bytes()


@pytest.fixture
def cache_dir(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv(CACHE_DIR_ENV, str(folder))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")  # loopback never goes through a proxy
    monkeypatch.delenv(CATALOGUE_ENV, raising=False)
    return folder


@pytest.fixture
def server(cache_dir, tmp_path):
    srv = FileServer()
    srv.files["/tiny.safetensors"] = tiny_checkpoint_bytes(tmp_path)
    yield srv
    srv.close()


def write_catalogue(path: Path, models: list[dict]) -> Path:
    path.write_text(json.dumps({"models": models}), encoding="utf-8")
    return path


def test_load_by_url_then_the_cache_answers_without_a_request(server, tmp_path, cache_dir):
    url = server.url("/tiny.safetensors")
    model = explorer.load(url)
    local = tmp_path / "local.safetensors"
    local.write_bytes(server.files["/tiny.safetensors"])
    assert model.info.content_hash == explorer.load(local).info.content_hash
    cached = DownloadCache().lookup(url)
    assert cached is not None and cached.is_relative_to(cache_dir)
    assert cached.read_bytes() == server.files["/tiny.safetensors"]
    assert len(server.requests_for("/tiny.safetensors")) == 1
    # Second load, and a load after the server is gone: no request at all.
    explorer.load(url)
    server.close()
    assert explorer.load(url).info.content_hash == model.info.content_hash
    assert len(server.seen) == 1
    assert [p.name for p in cached.parent.iterdir() if p.suffix == ".part"] == []


def test_a_dropped_connection_resumes_with_a_range_request(server):
    body = server.files["/tiny.safetensors"]
    cut = len(body) // 2 + 123
    server.cut_at["/tiny.safetensors"] = cut
    url = server.url("/tiny.safetensors")
    with pytest.raises(DownloadError) as info:
        explorer.load(url)
    message = str(info.value)
    assert "\n" not in message and "dropped" in message and "resume" in message
    cache = DownloadCache()
    assert cache.lookup(url) is None, "nothing under the final name"
    assert cache.partial_path(url).stat().st_size == cut
    model = explorer.load(url)
    first, second = server.requests_for("/tiny.safetensors")
    assert first.range is None
    assert second.range == f"bytes={cut}-" and second.if_range == FileServer.etag(body)
    assert cache.lookup(url).read_bytes() == body
    assert not cache.partial_path(url).exists()
    assert model.info.resolution == 16


def test_a_file_changed_on_the_server_restarts_instead_of_splicing(server, tmp_path):
    url = server.url("/tiny.safetensors")
    server.cut_at["/tiny.safetensors"] = 5000
    with pytest.raises(DownloadError):
        explorer.load(url)
    newer = tiny_checkpoint_bytes(tmp_path, seed=1)
    server.files["/tiny.safetensors"] = newer
    explorer.load(url)
    assert server.seen[-1].range == "bytes=5000-"  # asked to resume, but If-Range no longer matched
    assert DownloadCache().lookup(url).read_bytes() == newer


def test_http_404_and_a_refused_connection_are_one_line(server):
    with pytest.raises(DownloadError) as info:
        explorer.load(server.url("/missing.pkl"))
    assert str(info.value) == f"{server.url('/missing.pkl')} answered HTTP 404 Not Found: check the address"
    with socket.socket() as s:  # a port that nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DownloadError) as info:
        explorer.load(f"http://127.0.0.1:{port}/model.pkl")
    assert str(info.value) == f"127.0.0.1:{port} refused the connection: is the address right, and the server up?"
    assert DownloadCache().entries() == []


@pytest.mark.parametrize("body, content_type, looks_like", [
    (b"<!DOCTYPE html><html><body>Sign in to download</body></html>", "text/html", "text file"),
    (b"\x89PNG\r\n\x1a\n" + bytes(200), "image/png", "PNG image"),
])
def test_a_download_that_is_not_a_checkpoint_is_refused_and_not_kept(server, body, content_type, looks_like):
    server.files["/model.pkl"] = body
    server.content_type["/model.pkl"] = content_type
    url = server.url("/model.pkl")
    with pytest.raises(CheckpointError) as info:
        explorer.load(url)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{url} did not send a checkpoint: the download is not a checkpoint")
    assert looks_like in message and message.endswith("nothing was kept")
    cache = DownloadCache()
    assert cache.lookup(url) is None and not cache.partial_path(url).exists()


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full to simulate a full disk")
def test_a_full_disk_is_one_line_and_leaves_no_final_file(server):
    url = server.url("/tiny.safetensors")
    cache = DownloadCache()
    cache.partial_path(url).parent.mkdir(parents=True)
    cache.partial_path(url).symlink_to("/dev/full")  # every write fails with ENOSPC
    with pytest.raises(DownloadError) as info:
        explorer.load(url)
    assert str(info.value).startswith("the disk is full while downloading to ")
    assert "\n" not in str(info.value) and cache.lookup(url) is None


def test_catalogue_size_and_checksum_are_checked(server, tmp_path, monkeypatch):
    import hashlib
    body = server.files["/tiny.safetensors"]
    url = server.url("/tiny.safetensors")
    good = hashlib.sha256(body).hexdigest()
    entry = dict(name="tiny-test", url=url, resolution=16, dataset="noise", licence="test only")
    monkeypatch.setenv(CATALOGUE_ENV, str(write_catalogue(tmp_path / "bad.json", [
        {**entry, "size": len(body), "sha256": "0" * 64}])))
    with pytest.raises(DownloadError, match="does not match its published SHA-256"):
        explorer.load("tiny-test")
    assert DownloadCache().lookup(url) is None
    monkeypatch.setenv(CATALOGUE_ENV, str(write_catalogue(tmp_path / "size.json", [{**entry, "size": 7}])))
    with pytest.raises(DownloadError, match="but 7 bytes were expected"):
        explorer.load("tiny-test")
    monkeypatch.setenv(CATALOGUE_ENV, str(write_catalogue(tmp_path / "good.json", [
        {**entry, "size": len(body), "sha256": good}])))
    assert explorer.load("tiny-test").info.resolution == 16
    assert len(server.requests_for("/tiny.safetensors")) == 3


def test_download_false_needs_the_cache(server):
    url = server.url("/tiny.safetensors")
    with pytest.raises(DownloadError, match="is not downloaded yet"):
        explorer.checkpoints.load(url, download=False)
    assert server.seen == []
    explorer.load(url)
    assert explorer.checkpoints.load(url, download=False).info.resolution == 16


needs_fixtures = pytest.mark.skipif(not (FIXTURES_DIR / "sg3t_32").is_dir(),
                                    reason=f"reference fixtures not found at {FIXTURES_DIR}")


@needs_fixtures
def test_an_nvidia_pickle_by_url_equals_the_local_file(server):
    local = FIXTURES_DIR / "sg3t_32" / "network-snapshot.pkl"
    server.files["/stylegan3-t-tiny-32x32.pkl"] = local.read_bytes()
    model = explorer.load(server.url("/stylegan3-t-tiny-32x32.pkl"))
    assert model.info.architecture == "stylegan3"
    assert model.info.content_hash == explorer.load(local).info.content_hash


@needs_fixtures
def test_the_restricted_unpickler_guards_downloads_too(server, tmp_path):
    from tests.test_pickle_safety import _Calls, _small_record, _touch_command
    target = tmp_path / "pwned"
    evil = {"G_ema": _small_record(), "extra": _Calls(os.system, _touch_command(target))}
    from tests import checkpoint_builders as cb
    server.files["/evil.pkl"] = cb.write_pickle_of(evil, tmp_path / "evil.pkl").read_bytes()
    with pytest.raises(CheckpointError) as info:
        explorer.load(server.url("/evil.pkl"))
    assert "\n" not in str(info.value)
    assert not target.exists(), "loading the download ran code from it"


def test_the_shipped_catalogue():
    models = published_models()
    assert len(models) >= 34
    names = [m.name for m in models]
    assert len(set(names)) == len(names) and len({m.url for m in models}) == len(models)
    hosts = ("https://api.ngc.nvidia.com/v2/models/nvidia/research/stylegan3/versions/1/files/",
             "https://api.ngc.nvidia.com/v2/models/nvidia/research/stylegan2/versions/1/files/",
             "https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/")
    assert all(m.url.startswith(hosts) and m.url.endswith(".pkl") for m in models)
    assert {m.family for m in models} == {"StyleGAN2", "StyleGAN2-ADA", "StyleGAN3"}
    assert all(m.licence and m.dataset and m.resolution in (32, 256, 512, 1024) for m in models)
    sg3 = find_model("stylegan3-t-ffhq-1024")
    assert sg3.config == "T" and sg3.url.endswith("/stylegan3-t-ffhq-1024x1024.pkl")
    assert find_model("stylegan2-ada-metfaces-1024").url.endswith("/pretrained/metfaces.pkl")
    assert remote_source("stylegan2-ffhq-256").url.endswith("stylegan2-ffhq-256x256.pkl")


def test_a_local_file_wins_over_a_catalogue_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert remote_source("stylegan2-ffhq-256") is not None
    (tmp_path / "stylegan2-ffhq-256").write_bytes(b"x")
    assert remote_source("stylegan2-ffhq-256") is None


def test_cache_listing_and_delete(server):
    url = server.url("/tiny.safetensors")
    server.cut_at["/tiny.safetensors"] = 4096
    with pytest.raises(DownloadError):
        explorer.load(url)
    cache = DownloadCache()
    [entry] = cache.entries()
    assert (entry.url, entry.size, entry.complete) == (url, 4096, False)
    explorer.load(url)
    [entry] = cache.entries()
    assert entry.complete and entry.size == len(server.files["/tiny.safetensors"]) == cache.total_size()
    assert cache.delete(url) >= entry.size
    assert cache.entries() == [] and cache.lookup(url) is None and cache.delete(url) == 0


def test_rate_and_time_left_follow_recent_speed():
    now = [0.0]
    meter = RateMeter(start=1000, total=11_000, clock=lambda: now[0])
    now[0] = 1.0
    p = meter.update(2000)
    assert p.rate == pytest.approx(1000) and p.seconds_left == pytest.approx(9.0)
    now[0] = 10.0
    p = meter.update(10_000)  # the sample at t=0 fell out of the 3 s window: rate since t=1
    assert p.rate == pytest.approx(8000 / 9.0)
    assert p.describe() == "9.77kB of 10.7kB, 889 B/s, 00:01 left (resumed at 0.98kB)"


def test_sizes_read_as_people_write_them():
    from explorer.download import format_bytes
    assert [format_bytes(n) for n in (0, 512, 1536, 23.5 * 2 ** 20)] == ["0 B", "512 B", "1.50kB", "23.5MB"]
