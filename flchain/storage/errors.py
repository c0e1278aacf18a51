"""Errors raised by `flchain.storage`.

Each failure a user can meet has its own class so that callers (and tests) can tell a corrupt
block from a missing one, or a pickle from a NaN. Messages are one line and never contain key
material; CIDs and sizes are fine to show.
"""

from __future__ import annotations

from flchain.errors import FlchainError, UnavailableError


class StorageError(FlchainError):
    """Base class of every storage error."""


# --- CIDs ---------------------------------------------------------------------------------


class InvalidCidError(StorageError):
    """A CID string or binary CID that does not parse, or uses an unsupported codec/hash."""


# --- blocks and content -------------------------------------------------------------------


class BlockNotFoundError(StorageError):
    """A block (or a whole DAG root) is not in the store."""


class ContentMismatchError(StorageError):
    """A block's bytes do not hash to its CID (corruption or tampering)."""


class TruncatedBlockError(ContentMismatchError):
    """A block is shorter than its parent says it must be (a torn or cut-off write)."""


class MalformedDagError(StorageError):
    """A dag-pb/UnixFS node that verifies but does not describe a file we can read."""


# --- IPFS daemon --------------------------------------------------------------------------


class IpfsUnavailableError(StorageError, UnavailableError):
    """The IPFS daemon could not be reached (after retries) or timed out."""

    exit_code = 2


class IpfsProtocolError(StorageError, UnavailableError):
    """The IPFS daemon answered, but with something that is not a valid RPC reply."""

    exit_code = 2


class CidDisagreementError(StorageError):
    """The IPFS daemon reported a CID different from the one computed locally."""


# --- CAR ----------------------------------------------------------------------------------


class CarFormatError(StorageError):
    """A CAR file that is not CARv1 or is cut off or malformed."""


# --- weights (safetensors) ----------------------------------------------------------------


class WeightsError(StorageError):
    """Base class of errors about a weights payload."""


class NotSafetensorsError(WeightsError):
    """The payload is not a safetensors file."""


class PickleRefusedError(NotSafetensorsError):
    """The payload is a Python pickle (e.g. legacy `torch.save`); it is never unpickled."""


class TorchZipRefusedError(NotSafetensorsError):
    """The payload is a zip archive (the `torch.save` format, which embeds a pickle)."""


class HeaderTooLargeError(NotSafetensorsError):
    """The safetensors JSON header is larger than the limit we accept."""


class WeightsLayoutError(NotSafetensorsError):
    """Tensor offsets overlap, leave gaps, run out of bounds or disagree with the shape."""


class WeightsDtypeError(WeightsError):
    """A tensor is not float32."""


class NonFiniteWeightsError(WeightsError):
    """A tensor contains NaN or +/-Inf."""


class NonCanonicalWeightsError(WeightsError):
    """Valid safetensors, but not the canonical byte layout (so its CID is not reproducible)."""
