"""Models from the network in the app: a background download job, its progress, the cache.

A download runs as an engine job, so the UI and the current model stay live; when it is done the
controller loads the cached file (a fast, local load), keeping seed and psi like any model switch.
One download at a time: starting another cancels the first, whose partial file stays and resumes
on the next try. Nothing here touches imgui.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from explorer.app.host import AppHost, Feature, JobHandler
from explorer.app.job_kinds import JobKind
from explorer.download import CacheEntry, DownloadCache, RemoteSource, format_bytes
from explorer.jobs import JobHandle, Progress


@dataclass(frozen=True)
class ActiveDownload:
    source: RemoteSource
    open_when_done: bool
    handle: JobHandle


class Downloads(Feature):
    """The controller's `downloads`."""

    def __init__(self, host: AppHost, cache: DownloadCache | None = None) -> None:
        super().__init__(host)
        self.cache = cache or DownloadCache()
        self.active: ActiveDownload | None = None
        self._entries: list[CacheEntry] | None = None  # read lazily, refreshed when the cache changes

    def job_handlers(self) -> dict[JobKind, JobHandler]:
        return {JobKind.DOWNLOAD: self.finished}

    def open(self, source: RemoteSource) -> None:
        """Open a remote model: at once when it is cached, else once a download has brought it."""
        if self.cache.lookup(source.url) is not None:
            self.host.load_model(source.url)
        else:
            self.start(source, open_when_done=True)

    def start(self, source: RemoteSource, open_when_done: bool = False) -> None:
        active = self.active
        if active is not None and active.source.url == source.url and not active.handle.done():
            self.active = replace(active, open_when_done=active.open_when_done or open_when_done)
            return
        from explorer.checkpoints.remote import fetch_checkpoint
        cache = self.cache

        def job(report, cancelled):
            # report() raises JobCancelled once the user cancels: the transfer stops at the next chunk.
            return fetch_checkpoint(source, cache=cache, on_progress=lambda p: report(
                Progress(p.done, p.total or 0, p.describe())))
        handle = self.host.engine.run_job(f"download {source.label}", job)
        self.host.track_job(JobKind.DOWNLOAD, handle)
        self.active = ActiveDownload(source, open_when_done, handle)
        self._entries = None
        self.host.set_status(f"downloading {source.label} ...")

    def cancel(self) -> None:
        self.host.cancel_job(JobKind.DOWNLOAD)

    def progress(self) -> tuple[float, str] | None:
        """(fraction, '12MB of 300MB, 40MB/s, 00:07 left') while a download runs, else None."""
        if self.active is None:
            return None
        p = self.active.handle.progress
        if p is None:
            return 0.0, "connecting ..."
        return p.fraction, p.message

    def finished(self, handle: JobHandle) -> None:
        """The download job ended (on the UI thread)."""
        active, self.active = self.active, None
        self._entries = None
        if active is None or active.handle is not handle:
            return
        label = active.source.label
        if handle.status == "done":
            if active.open_when_done:
                self.host.load_model(active.source.url)
            else:
                self.host.set_status(f"downloaded {label} ({format_bytes(handle.result.stat().st_size)})")
        elif handle.status == "cancelled":
            self.host.set_status(f"download of {label} cancelled; downloading it again resumes where it stopped")
        else:
            self.host.set_status(handle.error or f"download of {label} failed", error=True)

    # --- the cache -------------------------------------------------------------------------------
    def entries(self) -> list[CacheEntry]:
        if self._entries is None:
            self._entries = self.cache.entries()
        return self._entries

    def total_size(self) -> int:
        return sum(e.size for e in self.entries())

    def delete(self, url: str, label: str) -> None:
        if self.active is not None and self.active.source.url == url:
            self.host.set_status(f"{label} is downloading: cancel it first", error=True)
            return
        try:
            freed = self.cache.delete(url)
        except OSError as e:
            self.host.set_status(f"could not delete {label}: {e.strerror or e}", error=True)
            return
        finally:
            self._entries = None
        self.host.set_status(f"deleted {label} from the download cache ({format_bytes(freed)})")
