"""Settings layers (flags > env > file > profile > defaults), provenance and bad input."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from flchain.config import (
    DevnetProfile,
    Settings,
    Source,
    default_profile_path,
    load_profile,
    load_settings,
    save_profile,
)
from flchain.errors import ConfigError

CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"


def test_defaults_live_under_home(home: Path) -> None:
    loaded = load_settings()
    s = loaded.settings
    assert (s.chain, s.store, s.log_level) == ("embedded", "local", "INFO")
    assert s.data_dir == home / ".flchain"
    assert s.keystore_dir == home / ".flchain" / "keystores"
    assert s.store_dir == home / ".flchain" / "store"
    assert s.profile == default_profile_path(home / ".flchain")
    assert {o.source for o in loaded.origins.values()} == {Source.DEFAULT}
    assert loaded.config_file is None and loaded.profile is None


@pytest.mark.parametrize("top", ["flag", "env", "file", "profile", "default"])
def test_precedence_of_layers(
    top: str, isolated_env: Path, home: Path, write_profile: Callable[..., Path]
) -> None:
    layers = ["flag", "env", "file", "profile", "default"]
    present = layers[layers.index(top) :]
    url = {name: f"http://127.0.0.1:{8000 + i}" for i, name in enumerate(layers)}
    flags = {"rpc_url": url["flag"]} if "flag" in present else {}
    environ = {"FLCHAIN_RPC_URL": url["env"], "HOME": str(home)} if "env" in present else {}
    if "file" in present:
        (isolated_env / "flchain.toml").write_text(f'rpc_url = "{url["file"]}"\n')
    if "profile" in present:
        write_profile(default_profile_path(home / ".flchain"), rpc_url=url["profile"])
    loaded = load_settings(flags, environ=environ)
    expected = None if top == "default" else url[top]
    assert loaded.settings.rpc_url == expected
    assert loaded.origins["rpc_url"].source == Source(top)


def test_origins_name_the_flag_variable_and_file(isolated_env: Path) -> None:
    toml = isolated_env / "flchain.toml"
    toml.write_text('log_level = "debug"\nretry_attempts = 9\n')
    loaded = load_settings(
        {"chain": "anvil", "rpc_url": "http://127.0.0.1:1"},
        environ={"FLCHAIN_RETRY_ATTEMPTS": "3"},
        flag_names={"chain": "--chain"},
    )
    o = loaded.origins
    assert (o["chain"].source, o["chain"].detail) == (Source.FLAG, "--chain")
    # A value given without its option's name is not credited to an invented flag.
    assert (o["rpc_url"].source, o["rpc_url"].detail) == (Source.FLAG, "(rpc_url)")
    assert (o["retry_attempts"].source, o["retry_attempts"].detail) == (
        Source.ENV,
        "FLCHAIN_RETRY_ATTEMPTS",
    )
    assert (o["log_level"].source, o["log_level"].detail) == (Source.FILE, str(toml))
    assert loaded.settings.retry_attempts == 3 and loaded.settings.log_level == "DEBUG"


def test_config_file_choice(isolated_env: Path, tmp_path: Path) -> None:
    (isolated_env / "flchain.toml").write_text("retry_attempts = 1\n")
    other = tmp_path / "other.toml"
    other.write_text("retry_attempts = 2\n")
    via_env = tmp_path / "env.toml"
    via_env.write_text("retry_attempts = 3\n")
    assert load_settings().settings.retry_attempts == 1
    assert load_settings(environ={"FLCHAIN_CONFIG": str(via_env)}).settings.retry_attempts == 3
    assert (
        load_settings(
            config_file=other, environ={"FLCHAIN_CONFIG": str(via_env)}
        ).settings.retry_attempts
        == 2
    )


def test_named_config_file_must_exist(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError, match=f"config file {missing} does not exist"):
        load_settings(config_file=missing)
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(environ={"FLCHAIN_CONFIG": str(missing)})


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("chain = \n", "not valid TOML"),
        ("chian = 'anvil'\n", "unknown field 'chian'"),
        ("password = 'hunter2'\n", "field 'password' is a secret"),
        ("chain = 'ganache'\n", "invalid 'chain' from config file"),
        ("retry_attempts = 'many'\n", "invalid 'retry_attempts' from config file"),
        ("contract = '0x1234'\n", "invalid 'contract' from config file"),
        ("rpc_url = 'localhost:8545'\n", "invalid 'rpc_url' from config file"),
    ],
)
def test_malformed_config_file_names_file_and_field(
    tmp_path: Path, content: str, expected: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(content)
    with pytest.raises(ConfigError) as exc:
        load_settings(config_file=path)
    message = str(exc.value)
    assert expected in message and str(path) in message and "\n" not in message
    assert "hunter2" not in message


def test_invalid_environment_value_names_the_variable() -> None:
    with pytest.raises(
        ConfigError, match="invalid 'chain_id' from environment variable FLCHAIN_CHAIN_ID"
    ):
        load_settings(environ={"FLCHAIN_CHAIN_ID": "-5"})


def test_empty_environment_value_counts_as_unset(isolated_env: Path) -> None:
    (isolated_env / "flchain.toml").write_text("wallet = 'alice'\n")
    loaded = load_settings(environ={"FLCHAIN_WALLET": ""})
    assert loaded.settings.wallet == "alice" and loaded.origins["wallet"].source == Source.FILE


def test_unknown_flag_setting_is_refused() -> None:
    with pytest.raises(ConfigError, match="unknown setting 'rpc'"):
        load_settings({"rpc": "http://x"})


def test_relative_paths_in_a_file_are_relative_to_the_file(tmp_path: Path) -> None:
    cfg_dir = tmp_path / "etc"
    cfg_dir.mkdir()
    path = cfg_dir / "node.toml"
    path.write_text("keystore_dir = 'keys'\ndata_dir = '/srv/flchain'\n")
    s = load_settings(config_file=path).settings
    assert s.keystore_dir == cfg_dir / "keys"
    assert s.store_dir == Path("/srv/flchain/store")  # derived from data_dir


def test_folders_follow_data_dir(tmp_path: Path) -> None:
    s = load_settings(environ={"FLCHAIN_DATA_DIR": str(tmp_path / "d")}).settings
    assert s.keystore_dir == tmp_path / "d" / "keystores"
    assert s.profile == tmp_path / "d" / "devnet" / "profile.json"


def test_contract_address_is_checksummed_and_typos_refused() -> None:
    s = load_settings({"contract": CONTRACT.lower()}).settings
    assert s.contract == CONTRACT
    typo = CONTRACT[:-1] + ("A" if CONTRACT[-1] != "A" else "B")
    bad = typo[:2] + typo[2:].swapcase()[:5] + typo[7:]
    with pytest.raises(ConfigError, match="wrong checksum"):
        load_settings({"contract": bad})


def test_backoff_bounds_are_checked() -> None:
    with pytest.raises(ConfigError, match="retry_backoff_max_s"):
        load_settings({"retry_backoff_initial_s": 10, "retry_backoff_max_s": 1})


def test_require_explains_how_to_set_a_missing_value() -> None:
    s = load_settings().settings
    with pytest.raises(ConfigError) as exc:
        s.require("rpc_url")
    assert "FLCHAIN_RPC_URL" in str(exc.value) and "flchain.toml" in str(exc.value)
    # Settings alone do not know the command's options: no guessed flag (there is no
    # --rpc-url on most commands).
    assert "--" not in str(exc.value)
    loaded = load_settings(flag_names={"rpc_url": "--rpc"})
    with pytest.raises(ConfigError) as named:
        loaded.require("rpc_url")
    assert "pass --rpc," in str(named.value)
    assert (
        load_settings({"rpc_url": "http://127.0.0.1:1"}).settings.require("rpc_url")
        == "http://127.0.0.1:1"
    )


def test_settings_class_alone_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLCHAIN_CHAIN", "hardhat")
    assert Settings().chain == "hardhat"


# --- devnet profile ---------------------------------------------------------------------


def test_profile_round_trip(tmp_path: Path, write_profile: Callable[..., Path]) -> None:
    path = write_profile(tmp_path / "p" / "profile.json")
    profile = load_profile(path)
    assert profile.keystore_dir == tmp_path / "p" / "keystores"  # relative to the file
    assert profile.contract == CONTRACT and profile.processes[0].pid == 4242
    copy = tmp_path / "copy" / "profile.json"
    save_profile(profile, copy)
    assert load_profile(copy) == profile
    assert [p.name for p in copy.parent.iterdir()] == ["profile.json"]  # no temp file left


def test_default_profile_is_picked_up(home: Path, write_profile: Callable[..., Path]) -> None:
    path = write_profile(default_profile_path(home / ".flchain"))
    loaded = load_settings()
    s = loaded.settings
    assert (s.chain, s.rpc_url, s.chain_id, s.contract, s.store) == (
        "anvil",
        "http://127.0.0.1:8545",
        31337,
        CONTRACT,
        "ipfs",
    )
    assert s.keystore_dir == path.parent / "keystores"
    assert loaded.origins["contract"].source == Source.PROFILE
    assert loaded.origins["contract"].detail == str(path)
    assert loaded.profile is not None and loaded.profile.wallets[0].name == "node-0"


def test_explicit_profile_must_exist(tmp_path: Path) -> None:
    missing = tmp_path / "gone.json"
    with pytest.raises(ConfigError, match=f"devnet profile {missing} does not exist"):
        load_settings({"profile": missing})


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"contract": None}, "field 'contract'"),
        ({"chain": "ganache"}, "field 'chain'"),
        ({"rpc_url": None}, "rpc_url is required"),
        ({"chain_id": 0}, "field 'chain_id'"),
        ({"processes": [{"name": "anvil", "pid": -1}]}, "field 'processes.0.pid'"),
        ({"surprise": 1}, "field 'surprise'"),
    ],
)
def test_malformed_profile_names_file_and_field(
    tmp_path: Path, write_profile: Callable[..., Path], overrides: dict[str, object], field: str
) -> None:
    path = write_profile(tmp_path / "profile.json", **overrides)
    with pytest.raises(ConfigError) as exc:
        load_settings({"profile": path})
    assert str(path) in str(exc.value) and field in str(exc.value)


def test_profile_that_is_not_json(tmp_path: Path) -> None:
    path = tmp_path / "profile.json"
    path.write_text("chain: anvil\n")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_profile(path)


def test_broken_default_profile_is_reported_unless_disabled(home: Path) -> None:
    path = default_profile_path(home / ".flchain")
    path.parent.mkdir(parents=True)
    path.write_text("{}")
    with pytest.raises(ConfigError, match=str(path)):
        load_settings()
    assert load_settings({"use_profile": False}).settings.chain == "embedded"
    assert load_settings(environ={"FLCHAIN_USE_PROFILE": "false"}).profile is None


def test_profile_model_requires_backend_specific_fields() -> None:
    with pytest.raises(ValueError, match="store_dir is required"):
        DevnetProfile(
            chain="embedded", chain_id=1, contract=CONTRACT, store="local", keystore_dir=Path("k")
        )
