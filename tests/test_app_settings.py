"""Settings live in the user config dir (never the CWD) and survive damage."""

from explorer.app.settings import CONFIG_DIR_ENV, MAX_RECENT, Settings, user_config_dir


def test_config_dir_is_per_user_and_overridable(monkeypatch, tmp_path):
    monkeypatch.delenv(CONFIG_DIR_ENV, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.chdir(tmp_path)
    d = user_config_dir()
    assert d.name == "stylegan-explorer" and d != tmp_path
    monkeypatch.setenv(CONFIG_DIR_ENV, str(tmp_path / "cfg"))
    assert user_config_dir() == tmp_path / "cfg"


def test_recent_list_is_persisted_newest_first(tmp_path):
    s = Settings.load(tmp_path)
    for i in range(MAX_RECENT + 2):
        (tmp_path / f"m{i}.pkl").write_bytes(b"x")
        s.add_recent(tmp_path / f"m{i}.pkl")
    s.add_recent(tmp_path / "m5.pkl")
    again = Settings.load(tmp_path)
    assert len(again.recent) == MAX_RECENT
    assert again.recent[0].endswith("m5.pkl") and again.recent[1].endswith(f"m{MAX_RECENT + 1}.pkl")
    assert again.recent.count(str((tmp_path / "m5.pkl").resolve())) == 1


def test_damaged_settings_give_defaults(tmp_path):
    (tmp_path / "settings.json").write_text("{not json")
    s = Settings.load(tmp_path)
    assert s.recent == [] and s.save_dir

