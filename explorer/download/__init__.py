"""Checkpoints from the network: a per-user download cache, resumable transfers, the catalogue of
published StyleGAN models, and progress for the app and the terminal.

Nothing here knows about checkpoint formats: `explorer.checkpoints.remote` passes the content
sniffing in as `verify`, so a download is checked exactly like a local file before it is kept.
"""

from explorer.download.cache import CacheEntry, DownloadCache, default_cache_dir
from explorer.download.catalogue import PublishedModel, find_model, published_models
from explorer.download.fetch import fetch
from explorer.download.progress import TransferProgress, format_bytes
from explorer.download.source import RemoteSource, is_url, remote_source

__all__ = ["CacheEntry", "DownloadCache", "default_cache_dir", "PublishedModel", "find_model",
           "published_models", "fetch", "TransferProgress", "format_bytes", "RemoteSource", "is_url",
           "remote_source"]
