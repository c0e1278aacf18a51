"""Per-round secrets a node can always rebuild from its keystore alone.

The commit–reveal salt must be secret until the reveal, yet a node killed between commit and
reveal has to reveal the very same salt after a restart, with nothing written to disk. So the
salt is derived, never stored: the account signs a fixed, domain-separated message naming the
chain id, the contract and the round (secp256k1 signing in eth-account is deterministic,
RFC 6979), and the salt is HMAC-SHA256 keyed by the hash of that signature. Only the key
holder can produce it; the private key itself never enters the derivation, a log or a file;
and one round's salt says nothing about another's.

Protocol v2 (`SaltStore`) mixes every revealed salt into the round's exploration seed (§6), so
its salts are drawn at random and persisted before the commit that binds them: a salt nobody
(the node included) can compute ahead of the round, which a restarted node still has. The file
is written atomically (temporary file, fsync, rename) with mode 0600 under the node's data dir;
losing it before the reveal loses the reveal (the node is then slashed for not revealing).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import tempfile
from pathlib import Path

from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address

from flchain.protocol import Address, Bytes32

SALT_DOMAIN = "flchain/salt/v1"
TRAIN_DOMAIN = "flchain/train-seed/v1"


def salt_message(chain_id: int, contract: Address, round: int) -> str:
    """The text the account signs to derive its salt for `round` (public, domain-separated)."""
    return (
        f"{SALT_DOMAIN}\nchain id: {chain_id}\ncontract: {to_checksum_address(contract)}\n"
        f"round: {round}\nSign only inside flchain: this signature blinds a commitment."
    )


def derive_salt(account: LocalAccount, chain_id: int, contract: Address, round: int) -> Bytes32:
    """The commitment salt of `account` for `round` on this deployment (deterministic, secret)."""
    signed = account.sign_message(encode_defunct(text=salt_message(chain_id, contract, round)))
    key = hashlib.sha256(bytes(signed.signature)).digest()
    return "0x" + hmac.new(key, SALT_DOMAIN.encode(), hashlib.sha256).hexdigest()


def training_seed(
    chain_id: int, contract: Address, round: int, node: Address, base_digest: Bytes32
) -> int:
    """Seed of a node's local training in `round` (public inputs only: it needs no secrecy,
    only to be the same after a restart). 63 bits, as torch generators accept."""
    text = f"{TRAIN_DOMAIN}/{chain_id}/{contract.lower()}/{round}/{node.lower()}/{base_digest}"
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") & (2**63 - 1)


class SaltStore:
    """Protocol v2's commit salts of one node on one deployment, one file per round.

    @param directory where the salts live (created 0700); None keeps them in memory only, for
        a process that is never restarted between commit and reveal (the simulation)
    """

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self._memory: dict[int, bytes] = {}

    @classmethod
    def for_node(cls, data_dir: Path, chain_id: int, contract: Address, node: Address) -> SaltStore:
        """The store under `data_dir`/salts/<chain id>-<contract>-<node>."""
        name = f"{chain_id}-{contract.lower()}-{node.lower()}"
        return cls(Path(data_dir).expanduser() / "salts" / name)

    def _path(self, round: int) -> Path:
        assert self.directory is not None
        return self.directory / f"round-{round}.salt"

    def get(self, round: int) -> bytes | None:
        """The salt of `round` if one was drawn."""
        if round in self._memory or self.directory is None:
            return self._memory.get(round)
        try:
            text = self._path(round).read_text(encoding="ascii").strip()
        except FileNotFoundError:
            return None
        try:
            salt = bytes.fromhex(text)
        except ValueError:
            salt = b""
        if len(salt) != 32:
            from flchain.node.errors import NodeError

            raise NodeError(f"salt file {self._path(round)} does not hold 32 bytes: restore it")
        self._memory[round] = salt
        return salt

    def salt(self, round: int) -> bytes:
        """The salt of `round`: the one drawn before, or a new random one, on disk before it
        is returned."""
        found = self.get(round)
        if found is not None:
            return found
        salt = secrets.token_bytes(32)
        if self.directory is not None:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".salt-")
            try:
                with os.fdopen(fd, "w", encoding="ascii") as f:
                    f.write(salt.hex())
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, self._path(round))  # mkstemp made it 0600
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        self._memory[round] = salt
        return salt
