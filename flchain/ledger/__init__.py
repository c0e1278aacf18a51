"""flchain.ledger — the FLChain contract and typed access to it over any EVM backend.

`Ledger` (deploy / connect, register, commit, reveal, attest, schedule_rules, reads, events,
`round_record`), the backends (`EmbeddedBackend` in-process, `RpcBackend` for anvil, hardhat
node or any URL) and the two protocol hashes the contract checks.
"""

from flchain.ledger.backends import Backend, EmbeddedBackend, RpcBackend
from flchain.ledger.errors import (
    ChainConfigError,
    ChainUnavailable,
    CompileError,
    ContractRevert,
    LedgerError,
    TransactionFailed,
)
from flchain.ledger.events import ChainEvent, EventIndex
from flchain.ledger.hashes import canonical_penalised, cid_to_bytes, commitment_hash, result_hash
from flchain.ledger.ledger import (
    AttestResult,
    CommitState,
    DeployConfig,
    Ledger,
    NodeRecord,
    NodeStatus,
    Phase,
    Schedule,
    TxResult,
    load_artifact,
)

__all__ = [
    "AttestResult",
    "Backend",
    "ChainConfigError",
    "ChainEvent",
    "ChainUnavailable",
    "CommitState",
    "CompileError",
    "ContractRevert",
    "DeployConfig",
    "EmbeddedBackend",
    "EventIndex",
    "Ledger",
    "LedgerError",
    "NodeRecord",
    "NodeStatus",
    "Phase",
    "RpcBackend",
    "Schedule",
    "TransactionFailed",
    "TxResult",
    "canonical_penalised",
    "cid_to_bytes",
    "commitment_hash",
    "load_artifact",
    "result_hash",
]
