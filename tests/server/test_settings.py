"""Settings: layered, validated as a whole, and a workspace file cannot turn on what runs code."""

import pytest
from inprocess import initialized

from dglsp.server.settings import Settings, SettingsError, merge, normalize, read_toml


def test_editor_settings_win_over_the_workspace_file_and_sampler_tables_merge(tmp_path):
    path = tmp_path / "dglsp.toml"
    path.write_text("debounce_ms = 10\nmultiline = 'never'\n[sampler]\nmax_steps = 8\nentropy_bound = 0.5\n")
    client = normalize({"dglsp": {"debounceMs": 200, "sampler": {"maxSteps": 4}}}, "client")
    settings = merge(read_toml(path), client)
    assert settings.debounce_ms == 200
    assert settings.multiline == "never"
    assert settings.sampler == {"max_steps": 4, "entropy_bound": 0.5}


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"debounce_ms": -1}, "debounce_ms"),
        ({"debounce_ms": "fast"}, "debounce_ms must be int"),
        ({"multiline": "sometimes"}, "multiline"),
        ({"decoder": "fast"}, "decoder must be lean, dynamic, static or compiled"),
        ({"sampler": {"entropy_bound": 0}}, "entropy_bound"),
        ({"sampler": {"temperature_please": 1}}, "unknown sampler"),
        ({"enabled": "yes"}, "enabled must be bool"),
    ],
)
def test_invalid_values_are_refused_with_the_reason(values, message):
    with pytest.raises(SettingsError, match=message):
        merge({}, values)


def test_unknown_keys_are_refused():
    with pytest.raises(SettingsError, match="unknown setting 'debounse'"):
        normalize({"debounse": 3}, "client")


@pytest.mark.parametrize(
    "key",
    [
        "model = '/tmp/x'",
        "trust_remote_code = true",
        "allow_pickle = true",
        "backend = 'http://collector.example:8000'",
        "backend_token = 'x'",
        "backend_model = 'qwen2.5-coder:32b'",
    ],
)
def test_a_workspace_file_cannot_pick_the_model_send_code_away_or_run_code(tmp_path, key):
    path = tmp_path / "dglsp.toml"
    path.write_text(key + "\n")
    with pytest.raises(SettingsError, match="only be set in your editor's settings"):
        read_toml(path)


def test_a_backend_is_local_a_url_or_a_known_server_s_url():
    assert merge({}, {"backend": "http://gpu-box:8000"}).model_changed(Settings())  # a new backend: reconnect
    assert merge({}, {"backend": "ollama:http://localhost:11434"}).backend.startswith("ollama:")
    assert merge({}, {"backend_prompt": "chat"}).model_changed(Settings())  # a new prompt form: reconnect
    with pytest.raises(SettingsError, match="backend must be local, the http"):
        merge({}, {"backend": "gpu-box:8000"})
    with pytest.raises(SettingsError, match="backend_prompt must be"):
        merge({}, {"backend_prompt": "starcoder2"})


def test_broken_toml_is_an_error_and_a_missing_file_is_empty(tmp_path):
    path = tmp_path / "dglsp.toml"
    assert read_toml(path) == {}
    path.write_text("debounce_ms = = 3")
    with pytest.raises(SettingsError, match="not valid TOML"):
        read_toml(path)


def test_a_model_change_is_seen_and_languages_switch_off():
    settings = merge({}, {"languages": {"lua": False}})
    assert not settings.language_on("lua") and settings.language_on("python")
    assert settings.model_changed(Settings(device="cpu")) and not settings.model_changed(Settings())
    assert settings.model_changed(Settings(decoder="compiled"))  # a new decoder step means a reload


async def test_the_editor_s_later_settings_lie_over_its_initialization_options():
    ls, _ = initialized(options={"debounceMs": 33, "minConfidence": 0})
    ls.set_client_settings({})  # eglot, right after the first didOpen
    assert (ls.settings.debounce_ms, ls.settings.min_confidence) == (33, 0)
    ls.set_client_settings({"dglsp": {"debounceMs": 50}})
    assert (ls.settings.debounce_ms, ls.settings.min_confidence) == (50, 0)
