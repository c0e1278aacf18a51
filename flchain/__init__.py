"""flchain: an auditable federation for trading models with a blockchain ledger."""

from flchain.errors import FlchainError

__version__ = "0.1.0"

__all__ = ["FlchainError", "__version__"]
