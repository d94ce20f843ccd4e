"""Hostile and broken files: loading must refuse them with a one-line CheckpointError and run nothing."""

from __future__ import annotations

import builtins
import io
import os
import pickle
import subprocess
from pathlib import Path

import pytest
import torch

import explorer
from explorer import CheckpointError
from tests import checkpoint_builders as cb
from tests.conftest import FIXTURES_DIR


class _Calls:
    """Pickles as a call of `func(*args)`: how every malicious pickle runs code."""

    def __init__(self, func, *args) -> None:
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def _touch_command(target: Path) -> str:
    return f"touch {target}"


def _exec_code(target: Path) -> str:
    return f"open({str(target)!r}, 'w').write('pwned')"


def _assert_refused(path: Path, target: Path, expect: str | None = None) -> CheckpointError:
    with pytest.raises(CheckpointError) as info:
        explorer.load(path)
    message = str(info.value)
    assert "\n" not in message and message
    if expect:
        assert expect in message
    assert not target.exists(), "loading the file ran code from it"
    return info.value


def _small_record(src: str = "") -> cb.NvidiaRecord:
    """A tiny but complete generator record (2 mapping layers) for wrapping payloads."""
    state = cb.read_state(FIXTURES_DIR / "sg2_16_cond")
    kwargs = cb.read_config(FIXTURES_DIR / "sg2_16_cond")["init_kwargs"]
    return cb.nvidia_record(state, kwargs, src)


needs_fixtures = pytest.mark.skipif(not (FIXTURES_DIR / "sg2_16_cond").is_dir(),
                                    reason=f"reference fixtures not found at {FIXTURES_DIR}")


@pytest.mark.parametrize("payload", ["os.system", "builtins.exec", "builtins.eval", "subprocess.call"])
def test_top_level_code_execution_is_refused(tmp_path: Path, payload: str) -> None:
    target = tmp_path / "PWNED"
    obj = {
        "os.system": lambda: _Calls(os.system, _touch_command(target)),
        "builtins.exec": lambda: _Calls(builtins.exec, _exec_code(target)),
        "builtins.eval": lambda: _Calls(builtins.eval, _exec_code(target)),
        "subprocess.call": lambda: _Calls(subprocess.call, ["touch", str(target)]),
    }[payload]()
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps(obj, protocol=4))
    _assert_refused(path, target, expect="refusing")


def test_protocol_zero_pickle_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "PWNED"
    path = tmp_path / "evil.pkl"
    path.write_bytes(b"cos\nsystem\n(S'" + _touch_command(target).encode() + b"'\ntR.")
    _assert_refused(path, target)


@needs_fixtures
def test_payload_nested_in_a_valid_snapshot_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "PWNED"
    snapshot = {"G_ema": _small_record(), "augment_pipe": None,
                "training_set_kwargs": {"path": _Calls(os.system, _touch_command(target))}}
    path = cb.write_pickle_of(snapshot, tmp_path / "nested.pkl")
    _assert_refused(path, target, expect="posix.system")


@needs_fixtures
def test_payload_inside_network_state_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "PWNED"
    record = _small_record()
    record.meta["state"]["weight_gain"] = _Calls(builtins.exec, _exec_code(target))
    path = cb.write_pickle_of({"G_ema": record}, tmp_path / "state.pkl")
    _assert_refused(path, target, expect="builtins.exec")


@needs_fixtures
def test_module_src_is_never_executed(tmp_path: Path) -> None:
    """A valid record whose embedded source would write a file loads without running it."""
    target = tmp_path / "PWNED"
    record = _small_record(src=cb.marker_source(target))
    path = cb.write_pickle_of({"G_ema": record, "augment_pipe": None}, tmp_path / "ok.pkl")
    model = explorer.load(path)
    assert model.architecture == "stylegan2"
    assert not target.exists()


def test_record_that_is_only_source_code_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "PWNED"
    record = cb.NvidiaRecord({"type": "class", "version": 6, "module_src": cb.marker_source(target),
                         "class_name": "Exploit", "state": {}})
    path = cb.write_pickle_of({"G_ema": record}, tmp_path / "src.pkl")
    _assert_refused(path, target)


def test_malicious_tensor_storage_bytes_are_refused(tmp_path: Path) -> None:
    """Storage bytes are a nested torch.save stream; it must be opened weights-only too."""
    target = tmp_path / "PWNED"
    inner = io.BytesIO()
    torch.save(_Calls(os.system, _touch_command(target)), inner, _use_new_zipfile_serialization=False)
    evil = _Calls(torch.storage._load_from_bytes, inner.getvalue())
    path = tmp_path / "storage.pkl"
    path.write_bytes(pickle.dumps({"G_ema": evil}, protocol=4))
    _assert_refused(path, target)


@pytest.mark.parametrize("legacy", [False, True])
def test_malicious_torch_file_is_refused(tmp_path: Path, legacy: bool) -> None:
    target = tmp_path / "PWNED"
    path = tmp_path / "evil.pt"
    torch.save({"g_ema": {}, "args": _Calls(os.system, _touch_command(target))}, path,
               _use_new_zipfile_serialization=not legacy)
    _assert_refused(path, target, expect="refusing")


def test_malicious_tf_network_state_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "PWNED"
    net = cb.TFNetwork(version=4, name="Gs", static_kwargs={}, components={},
                        variables=[("x", _Calls(os.system, _touch_command(target)))])
    path = cb.write_pickle_of((net, net, net), tmp_path / "tf.pkl")
    _assert_refused(path, target)


def _real_pickle() -> Path:
    path = FIXTURES_DIR / "sg2_32" / "network-snapshot.pkl"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    return path


def test_truncated_pickle(tmp_path: Path) -> None:
    data = _real_pickle().read_bytes()
    path = tmp_path / "half.pkl"
    path.write_bytes(data[: len(data) // 2])
    _assert_refused(path, tmp_path / "none", expect="truncated")


@pytest.mark.parametrize("content, expect", [
    (b"", "empty"),
    (bytes(range(256)) * 4, "not a checkpoint"),
    (b"hello, this is just a text file\nwith two lines\n", "text file"),
    (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01" + b"\x00" * 200, "JPEG"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "PNG"),
    (b"PK\x03\x04" + b"\x00" * 100, "zip"),
    (b"\x80\x04\x95", "truncated"),
])
def test_garbage_files(tmp_path: Path, content: bytes, expect: str) -> None:
    path = tmp_path / "model.pkl"
    path.write_bytes(content)
    _assert_refused(path, tmp_path / "none", expect=expect)


def test_truncated_torch_zip(tmp_path: Path) -> None:
    path = tmp_path / "full.pt"
    torch.save({"g_ema": {"style.1.weight": torch.zeros(8, 8)}}, path)
    data = path.read_bytes()
    cut = tmp_path / "cut.pt"
    cut.write_bytes(data[: len(data) // 2])
    _assert_refused(cut, tmp_path / "none")


def test_plain_zip_is_not_a_checkpoint(tmp_path: Path) -> None:
    import zipfile
    path = tmp_path / "dataset.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("img0.png", b"not really")
    _assert_refused(path, tmp_path / "none", expect="not a torch checkpoint")
