"""Keystore behaviour on real files: encryption, permissions, refusals, and no key leaks."""

from __future__ import annotations

import json
import logging
import stat
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct

from flchain.errors import FlchainError
from flchain.ledger.keystore import (
    InvalidPrivateKey,
    InvalidWalletName,
    KdfParams,
    Keystore,
    MalformedKeystore,
    MissingPassword,
    WalletExists,
    WalletNotFound,
    WrongPassword,
    parse_private_key,
    password_from_env,
)

PW = "correct horse battery staple"
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def test_create_then_unlock_signs_as_the_listed_address(keystore: Keystore) -> None:
    address = keystore.create("alice", PW)
    account = keystore.unlock("alice", PW)
    assert account.address == address
    signed = account.sign_message(encode_defunct(text="round 7"))
    assert (
        Account.recover_message(encode_defunct(text="round 7"), signature=signed.signature)
        == address
    )
    assert [(w.name, w.address) for w in keystore.list()] == [("alice", address)]


def test_files_are_private_and_no_temp_files_remain(keystore: Keystore, keystore_dir: Path) -> None:
    keystore.create("alice", PW)
    path = keystore_dir / "alice.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(keystore_dir.stat().st_mode) == 0o700
    assert sorted(p.name for p in keystore_dir.iterdir()) == ["alice.json"]


def test_import_stores_the_given_key(keystore: Keystore, private_key: bytes) -> None:
    address = keystore.import_key("bob", private_key, PW)
    assert address == Account.from_key(private_key).address
    assert bytes(keystore.unlock("bob", PW).key) == private_key


def test_import_accepts_hex_text_with_prefix_and_whitespace(
    keystore: Keystore, private_key: bytes
) -> None:
    address = keystore.import_key("bob", "  0x" + private_key.hex().upper() + "\n", PW)
    assert address == Account.from_key(private_key).address


def test_unlock_by_address_in_any_case(keystore: Keystore) -> None:
    address = keystore.create("alice", PW)
    keystore.create("carol", PW)
    assert keystore.unlock(address.lower(), PW).address == address
    assert keystore.find(address).name == "alice"


def test_default_kdf_is_scrypt_and_fast_kdf_only_when_asked(keystore_dir: Path) -> None:
    Keystore(keystore_dir).create("strong", PW)
    Keystore(keystore_dir, kdf=KdfParams.fast(iterations=2048)).create("weak", PW)
    strong = json.loads((keystore_dir / "strong.json").read_text())["crypto"]
    weak = json.loads((keystore_dir / "weak.json").read_text())["crypto"]
    assert strong["kdf"] == "scrypt" and strong["kdfparams"]["n"] >= 2**18
    assert weak["kdf"] == "pbkdf2" and weak["kdfparams"]["c"] == 2048
    assert (
        Keystore(keystore_dir).unlock("strong", PW).address
        == Keystore(keystore_dir).find("strong").address
    )


def test_wrong_password_is_a_one_line_error(keystore: Keystore) -> None:
    keystore.create("alice", PW)
    with pytest.raises(WrongPassword) as exc:
        keystore.unlock("alice", "not the password")
    assert str(exc.value) == "wrong password for wallet 'alice'"
    assert isinstance(exc.value, FlchainError)


def test_existing_name_is_refused_and_file_untouched(
    keystore: Keystore, keystore_dir: Path, private_key: bytes
) -> None:
    keystore.create("alice", PW)
    before = (keystore_dir / "alice.json").read_bytes()
    with pytest.raises(WalletExists, match="alice"):
        keystore.create("alice", PW)
    with pytest.raises(WalletExists, match="alice"):
        keystore.import_key("alice", private_key, PW)
    assert (keystore_dir / "alice.json").read_bytes() == before
    assert [w.name for w in keystore.list()] == ["alice"]


def test_same_address_under_another_name_is_refused(keystore: Keystore, private_key: bytes) -> None:
    keystore.import_key("bob", private_key, PW)
    with pytest.raises(WalletExists, match="'bob'"):
        keystore.import_key("bob2", private_key, PW)
    assert [w.name for w in keystore.list()] == ["bob"]


def test_concurrent_creates_of_one_name_never_overwrite(
    keystore: Keystore, keystore_dir: Path
) -> None:
    results: list[str] = []
    errors: list[Exception] = []
    barrier = threading.Barrier(4)

    def worker() -> None:
        barrier.wait()
        try:
            results.append(keystore.create("race", PW))
        except WalletExists as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 1 and len(errors) == 3
    assert keystore.unlock("race", PW).address == results[0]
    assert sorted(p.name for p in keystore_dir.iterdir()) == ["race.json"]


@pytest.mark.parametrize(
    "name", ["", "../escape", "a/b", ".hidden", "-dash", "x" * 65, "name.json", "sp ace"]
)
def test_bad_wallet_names_are_refused_before_writing(
    keystore: Keystore, keystore_dir: Path, name: str
) -> None:
    with pytest.raises(InvalidWalletName):
        keystore.create(name, PW)
    assert not keystore_dir.exists() or list(keystore_dir.iterdir()) == []


def test_empty_password_is_refused(keystore: Keystore, keystore_dir: Path) -> None:
    with pytest.raises(MissingPassword):
        keystore.create("alice", "")
    assert not (keystore_dir / "alice.json").exists()


@pytest.mark.parametrize(
    ("text", "shape"),
    [
        ("ab" * 31, "62 hex digits"),
        ("ab" * 33, "66 hex digits"),
        ("zz" + "ab" * 31, "non-hex"),
        ("", "0 hex digits"),
        ("0x" + "00" * 32, "outside the secp256k1 range"),
        (f"{SECP256K1_N:064x}", "outside the secp256k1 range"),
    ],
)
def test_malformed_private_keys_are_described_not_echoed(text: str, shape: str) -> None:
    with pytest.raises(InvalidPrivateKey) as exc:
        parse_private_key(text)
    message = str(exc.value)
    assert shape in message and "\n" not in message
    if text.strip("0x"):
        assert text not in message and text[:16] not in message
    # nothing chained that could carry the input (e.g. int()'s "invalid literal ...")
    assert exc.value.__cause__ is None
    assert exc.value.__context__ is None or exc.value.__suppress_context__


def test_non_ascii_key_bytes_are_refused() -> None:
    with pytest.raises(InvalidPrivateKey, match="not ASCII"):
        parse_private_key(b"\xff" * 64)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "not a JSON object"),
        ('{"version": 3, "address": "00"}', "'crypto'"),
        ('{"version": 1, "crypto": {}}', "'version'"),
    ],
)
def test_malformed_keystore_file_is_named(
    keystore: Keystore, keystore_dir: Path, content: str, expected: str
) -> None:
    path = keystore_dir / "broken.json"
    _write(path, content)
    good, broken = keystore.scan()
    assert good == [] and [b.name for b in broken] == ["broken"]
    assert str(path) in broken[0].problem and expected in broken[0].problem
    with pytest.raises(MalformedKeystore, match=r"broken\.json"):
        keystore.unlock("broken", PW)
    with pytest.raises(MalformedKeystore, match=r"broken\.json"):
        keystore.find("broken")


def test_one_broken_file_hides_no_other_wallet(keystore: Keystore, keystore_dir: Path) -> None:
    """Failed before the fix: `list()` and every address lookup raised on the broken file."""
    alice = keystore.create("alice", PW)
    _write(keystore_dir / "aaa-broken.json", "{not json")
    _write(keystore_dir / "zzz-broken.json", '{"version": 3}')
    assert [w.name for w in keystore.list()] == ["alice"]
    assert keystore.find(alice).name == "alice"
    assert keystore.find(alice.lower()).address == alice
    assert keystore.unlock(alice, PW).address == alice
    with pytest.raises(WalletNotFound, match="2 unreadable keystore file"):
        keystore.find("0x" + "12" * 20)
    # A new wallet is still checked against every readable address.
    bob = keystore.create("bob", PW)
    assert {w.address for w in keystore.list()} == {alice, bob}


def test_missing_kdf_params_in_an_otherwise_valid_file_is_named(
    keystore: Keystore, keystore_dir: Path
) -> None:
    keystore.create("alice", PW)
    path = keystore_dir / "alice.json"
    doc = json.loads(path.read_text())
    del doc["crypto"]["kdfparams"]
    path.write_text(json.dumps(doc))
    with pytest.raises(MalformedKeystore, match=r"alice\.json.*kdfparams"):
        keystore.unlock("alice", PW)


def test_tampered_address_is_detected_on_unlock(keystore: Keystore, keystore_dir: Path) -> None:
    keystore.create("alice", PW)
    path = keystore_dir / "alice.json"
    doc = json.loads(path.read_text())
    doc["address"] = "11" * 20
    path.write_text(json.dumps(doc))
    with pytest.raises(MalformedKeystore, match="recorded address"):
        keystore.unlock("alice", PW)


def test_unknown_wallet(keystore: Keystore) -> None:
    with pytest.raises(WalletNotFound, match="nobody"):
        keystore.unlock("nobody", PW)
    with pytest.raises(WalletNotFound, match="0x" + "22" * 20):
        keystore.find("0x" + "22" * 20)
    assert keystore.list() == []


def test_password_from_env_treats_empty_as_unset() -> None:
    assert password_from_env("PW", {"PW": "x"}) == "x"
    assert password_from_env("PW", {"PW": ""}) is None
    assert password_from_env("PW", {}) is None


def test_key_never_reaches_files_logs_or_errors(
    keystore: Keystore,
    keystore_dir: Path,
    private_key: bytes,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    assert_no_key: Callable[[str | bytes, bytes], None],
) -> None:
    caplog.set_level(logging.DEBUG)
    messages: list[str] = []
    keystore.import_key("bob", private_key, PW)
    keystore.create("alice", PW)
    keystore.list()
    account = keystore.unlock("bob", PW)
    messages.append(repr(account))
    for attempt in (
        lambda: keystore.unlock("bob", "wrong"),
        lambda: keystore.import_key("bob", private_key, PW),
        lambda: keystore.import_key("bob3", private_key, PW),
        lambda: keystore.import_key("x", private_key.hex()[:-1], PW),
    ):
        with pytest.raises(FlchainError) as exc:
            attempt()
        messages.append(str(exc.value))
    out, err = capsys.readouterr()
    for text in [*messages, caplog.text, out, err]:
        assert_no_key(text, private_key)
    assert "bob" in caplog.text  # logging did happen, it just holds no key
    for path in keystore_dir.rglob("*"):
        assert_no_key(path.read_bytes(), private_key)


def test_unlock_from_settings_uses_the_configured_wallet_and_variable(
    keystore: Keystore, keystore_dir: Path
) -> None:
    from flchain.config import load_settings
    from flchain.errors import ConfigError
    from flchain.ledger.keystore import unlock_from_settings

    address = keystore.create("alice", PW)
    settings = load_settings(
        {"keystore_dir": keystore_dir, "wallet": "alice", "password_env": "NODE_PW"}
    ).settings
    assert unlock_from_settings(settings, environ={"NODE_PW": PW}).address == address
    with pytest.raises(MissingPassword, match="NODE_PW"):
        unlock_from_settings(settings, environ={"FLCHAIN_PASSWORD": PW})
    with pytest.raises(WrongPassword):
        unlock_from_settings(settings, environ={"NODE_PW": "bad"})
    no_wallet = load_settings({"keystore_dir": keystore_dir}).settings
    with pytest.raises(ConfigError, match="'wallet' is not set"):
        unlock_from_settings(no_wallet, environ={"NODE_PW": PW})
