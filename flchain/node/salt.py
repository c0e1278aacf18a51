"""Per-round secrets a node can always rebuild from its keystore alone.

The commit–reveal salt must be secret until the reveal, yet a node killed between commit and
reveal has to reveal the very same salt after a restart, with nothing written to disk. So the
salt is derived, never stored: the account signs a fixed, domain-separated message naming the
chain id, the contract and the round (secp256k1 signing in eth-account is deterministic,
RFC 6979), and the salt is HMAC-SHA256 keyed by the hash of that signature. Only the key
holder can produce it; the private key itself never enters the derivation, a log or a file;
and one round's salt says nothing about another's.
"""

from __future__ import annotations

import hashlib
import hmac

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
