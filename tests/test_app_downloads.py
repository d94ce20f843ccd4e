"""The app's downloads, headless: a real render thread, a real HTTP server on 127.0.0.1, no window."""

from __future__ import annotations

import time

import numpy as np
import pytest

import explorer
from explorer.app.controller import AppController
from explorer.app.settings import Settings
from explorer.download import DownloadCache
from explorer.engine import RenderThread, render_state
from explorer.latent.state import LatentState
from tests.test_app_controller import pump, tiny_model
from tests.test_download import cache_dir, server  # noqa: F401 - fixtures


@pytest.fixture
def app(tmp_path, server):  # noqa: F811
    engine = RenderThread(device="cpu")
    engine.start()
    ctl = AppController(engine, Settings.load(tmp_path / "config"), LatentState(seed=5, psi=0.6))
    ctl.load_model(tiny_model(seed=3))
    pump(ctl, lambda: ctl.shows_current_state(ctl.frame))
    yield ctl
    ctl.close()
    engine.stop()


def test_opening_a_url_downloads_in_the_background_then_loads_keeping_seed_and_psi(
        app, server, tmp_path):  # noqa: F811
    ctl = app
    server.bytes_per_s["/tiny.safetensors"] = 150_000  # about a second: time to watch it
    url = server.url("/tiny.safetensors")
    old_hash = ctl.model_info.content_hash
    ctl.open_path(url)
    assert ctl.downloads.active is not None and ctl.status.text == "downloading tiny.safetensors ..."
    frames_while_downloading = 0
    seen_progress = set()
    while ctl.downloads.active is not None:  # the UI keeps polling and the old model keeps rendering
        ctl.poll()
        progress = ctl.downloads.progress()
        if progress is not None and progress[1].startswith(("1", "2", "3", "4", "5", "6", "7", "8", "9")):
            seen_progress.add(progress[1].split(" of ")[0])
        if ctl.model_info.content_hash == old_hash:
            ctl.edit(seed=ctl.state.seed + 1)
            pump(ctl, lambda: ctl.shows_current_state(ctl.frame))
            frames_while_downloading += 1
        time.sleep(0.01)
    assert frames_while_downloading >= 3 and len(seen_progress) >= 3
    pump(ctl, lambda: ctl.model_source == url and ctl.shows_current_state(ctl.frame))
    ref = explorer.load(url)
    assert ctl.model_info.content_hash == ref.info.content_hash
    assert ctl.state.psi == 0.6 and ctl.state.seed == 5 + frames_while_downloading
    np.testing.assert_array_equal(ctl.frame.rgba, render_state(ref, ctl.state).rgba)
    assert ctl.model_label == "tiny.safetensors" and ctl.status.text == "loaded tiny.safetensors"
    assert ctl.settings.recent[0] == url
    assert Settings.load(tmp_path / "config").recent[0] == url
    # The Recent entry opens straight from the cache: no new request.
    ctl.load_model(tiny_model(seed=4))
    pump(ctl, lambda: ctl.model_source != url)
    ctl.open_path(ctl.settings.recent[0])
    assert ctl.downloads.active is None
    pump(ctl, lambda: ctl.model_source == url)
    assert len(server.seen) == 1


def test_cancel_keeps_the_part_and_the_next_download_resumes(app, server):  # noqa: F811
    ctl = app
    body = server.files["/tiny.safetensors"]
    server.bytes_per_s["/tiny.safetensors"] = 20_000  # slow: the whole file would take ~8 s
    url = server.url("/tiny.safetensors")
    ctl.open_path(url)
    pump(ctl, lambda: ctl.downloads.progress()[0] > 0.1)
    ctl.downloads.cancel()
    pump(ctl, lambda: ctl.downloads.active is None)  # an ignored cancel shows below as a whole file
    assert ctl.status.text.startswith("download of tiny.safetensors cancelled") and not ctl.status.is_error
    cache = DownloadCache()
    kept = cache.partial_path(url).stat().st_size
    assert 0 < kept < len(body) and cache.lookup(url) is None
    del server.bytes_per_s["/tiny.safetensors"]
    ctl.open_path(url)
    pump(ctl, lambda: ctl.model_source == url)
    assert server.seen[-1].range == f"bytes={kept}-"
    assert cache.lookup(url).read_bytes() == body


def test_a_failed_download_is_one_line_and_the_model_stays(app, server):  # noqa: F811
    ctl = app
    before = ctl.model_info.content_hash
    ctl.open_path(server.url("/gone.pkl"))
    pump(ctl, lambda: ctl.downloads.active is None)
    assert ctl.status.is_error
    assert ctl.status.text == f"{server.url('/gone.pkl')} answered HTTP 404 Not Found: check the address"
    server.files["/page.pkl"] = b"<html><body>Please log in</body></html>"
    ctl.open_path(server.url("/page.pkl"))
    pump(ctl, lambda: ctl.downloads.active is None)
    assert ctl.status.is_error and "did not send a checkpoint" in ctl.status.text and "\n" not in ctl.status.text
    assert ctl.model_info.content_hash == before and ctl.loading is None


def test_download_only_then_delete_from_the_cache(app, server):  # noqa: F811
    from explorer.download import RemoteSource
    ctl = app
    url = server.url("/tiny.safetensors")
    ctl.downloads.start(RemoteSource(url))
    pump(ctl, lambda: ctl.downloads.active is None)
    assert ctl.status.text.startswith("downloaded tiny.safetensors (")
    assert ctl.model_source != url  # downloaded, not opened
    [entry] = ctl.downloads.entries()
    assert entry.complete and ctl.downloads.total_size() == len(server.files["/tiny.safetensors"])
    ctl.downloads.delete(url, "tiny.safetensors")
    assert ctl.downloads.entries() == [] and ctl.status.text.startswith("deleted tiny.safetensors")
