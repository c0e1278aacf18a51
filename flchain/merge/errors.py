"""Errors raised by `flchain.merge`.

A *bad update* is never an error: it is a decision with a reason code in the manifest. These
classes are for a bad *call*: the caller handed the merge inputs that cannot belong together
(base bytes that are not the round's base model, a payload missing for a revealed CID, a
benchmark that is not the one the rules name). Messages are one line.
"""

from __future__ import annotations

from flchain.errors import FlchainError


class MergeError(FlchainError):
    """Base class of every merge error."""


class MergeInputError(MergeError):
    """The inputs given to `merge` are inconsistent with the round record."""


class AggregationError(MergeError):
    """The arithmetic was asked to combine updates that do not fit together."""
