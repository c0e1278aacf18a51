"""A drand HTTP relay as the node's `BeaconSource` (docs/protocol.md §6).

A v2 deployment names its beacon by immutables (`beaconPublicKey`, `beaconGenesis`,
`beaconPeriod`); a node that is told a relay URL (`flchain node run --beacon-url`) fetches the
signature of D(r) from it and posts it in the beacon window. The relay is trusted for nothing:

- `/info` must describe the deployment's beacon — same public key, genesis time and period, and
  drand's unchained scheme (`pedersen-bls-unchained`, the one `flchain.protocol.beacon`
  verifies) — or the source refuses to start (a relay of another drand network would map
  flchain rounds to the wrong beacon rounds);
- each `/public/<round>` answer must name that round, carry a signature that verifies under the
  deployment's key and the `randomness` drand derives from it (sha256 of the signature), or it
  is refused: a lying relay costs the node nothing but the post it does not make;
- a beacon round the relay does not have yet (HTTP 404 or 425, drand's "too early") is "not
  produced yet": the runner retries at its next step;
- bodies are read up to `MAX_BODY_BYTES`, over plain HTTP(S) GETs with a timeout; nothing is
  cached on disk and nothing but the URL and round numbers is sent.

The URL is the chain's base on the relay, e.g. `https://api.drand.sh/<chain hash>`.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Final

from flchain.errors import ConfigError, UnavailableError
from flchain.node.errors import NodeError
from flchain.protocol.beacon import BeaconError, verify_beacon
from flchain.protocol.machine import Deployment

__all__ = [
    "DRAND_SCHEME",
    "MAX_BODY_BYTES",
    "BeaconRelayError",
    "BeaconRelayMismatch",
    "BeaconRelayUnavailable",
    "DrandHttpSource",
]

DRAND_SCHEME: Final = "pedersen-bls-unchained"
MAX_BODY_BYTES: Final = 16_384  # a drand answer is ~400 bytes; anything larger is not one
TIMEOUT_S: Final = 10.0
_NOT_YET: Final = frozenset({404, 425})


class BeaconRelayError(NodeError):
    """A drand relay's answer was refused (not JSON, wrong round, a signature that does not
    verify under the deployment's key)."""


class BeaconRelayMismatch(BeaconRelayError, ConfigError):
    """The relay serves another beacon than the deployment's (key, genesis, period or scheme)."""


class BeaconRelayUnavailable(BeaconRelayError, UnavailableError):
    """The relay could not be reached or answered an HTTP error (retried at the next step)."""


def _get_json(url: str, timeout: float) -> dict[str, Any] | None:
    """The JSON object at `url`; None for drand's "not produced yet" statuses."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            body = response.read(MAX_BODY_BYTES + 1)
    except urllib.error.HTTPError as exc:
        if exc.code in _NOT_YET:
            return None
        raise BeaconRelayUnavailable(f"beacon relay {url}: HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        reason = getattr(exc, "reason", exc)
        raise BeaconRelayUnavailable(f"beacon relay {url} unreachable: {reason}") from None
    if len(body) > MAX_BODY_BYTES:
        raise BeaconRelayError(f"beacon relay {url}: answer larger than {MAX_BODY_BYTES} bytes")
    try:
        doc = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise BeaconRelayError(f"beacon relay {url}: the answer is not JSON") from None
    if not isinstance(doc, dict):
        raise BeaconRelayError(f"beacon relay {url}: the answer is not a JSON object")
    return doc


def _hex_field(doc: dict[str, Any], name: str, url: str) -> bytes:
    value = doc.get(name)
    try:
        if not isinstance(value, str):
            raise ValueError
        return bytes.fromhex(value.removeprefix("0x"))
    except ValueError:
        raise BeaconRelayError(f"beacon relay {url}: `{name}` is not a hex string") from None


@dataclass
class DrandHttpSource:
    """The beacon signatures of `deployment`'s drand network, from the relay at `url`.

    Construct with `DrandHttpSource.connect(url, deployment)`, which checks the relay's
    `/info` against the deployment once."""

    url: str
    deployment: Deployment
    timeout: float = TIMEOUT_S
    _fetched: dict[int, bytes] = field(default_factory=dict, repr=False)

    @classmethod
    def connect(
        cls, url: str, deployment: Deployment, *, timeout: float = TIMEOUT_S
    ) -> DrandHttpSource:
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"--beacon-url {url!r}: give an http:// or https:// URL")
        source = cls(url.rstrip("/"), deployment, timeout)
        source.check_info()
        return source

    @property
    def public_key(self) -> bytes:
        return bytes(self.deployment.beacon_public_key)

    def check_info(self) -> None:
        """Refuse a relay whose `/info` is not the deployment's beacon."""
        url = f"{self.url}/info"
        info = _get_json(url, self.timeout)
        if info is None:
            raise BeaconRelayUnavailable(f"beacon relay {url}: no chain info (HTTP 404)")
        d = self.deployment
        wanted: dict[str, object] = {
            "public_key": self.public_key,
            "genesis_time": d.beacon_genesis,
            "period": d.beacon_period,
            "schemeID": DRAND_SCHEME,
        }
        got: dict[str, object] = {
            "public_key": _hex_field(info, "public_key", url),
            "genesis_time": info.get("genesis_time"),
            "period": info.get("period"),
            "schemeID": info.get("schemeID"),
        }
        for name, value in wanted.items():
            if got[name] != value:
                shown = value.hex() if isinstance(value, bytes) else value
                raise BeaconRelayMismatch(
                    f"beacon relay {self.url} serves another beacon: its {name} is not the "
                    f"deployment's ({shown}); give the relay URL of that drand chain"
                )

    def signature(self, beacon_round: int) -> bytes | None:
        """The verified signature of `beacon_round`, or None while the relay does not have it."""
        if beacon_round in self._fetched:
            return self._fetched[beacon_round]
        url = f"{self.url}/public/{beacon_round}"
        doc = _get_json(url, self.timeout)
        if doc is None:
            return None
        if doc.get("round") != beacon_round:
            raise BeaconRelayError(f"beacon relay {url}: the answer is of round {doc.get('round')}")
        signature = _hex_field(doc, "signature", url)
        try:
            randomness = verify_beacon(self.public_key, beacon_round, signature)
        except BeaconError as exc:
            raise BeaconRelayError(f"beacon relay {url}: {exc}") from None
        if _hex_field(doc, "randomness", url) != randomness:
            raise BeaconRelayError(
                f"beacon relay {url}: `randomness` is not sha256 of the signature"
            )
        self._fetched[beacon_round] = signature
        return signature
