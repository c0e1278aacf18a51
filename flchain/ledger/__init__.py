"""flchain.ledger — the FLChain contract and typed access to it over any EVM backend.

`Ledger` (deploy / connect, with_account, register, commit, reveal, attest, schedule_rules,
views, typed events, `round_record`) is protocol v1's facade, `LedgerV2` (`v2.py`) protocol
v2's; `connect_ledger` gives whichever the contract at an address speaks. Behind them `Deployment` (the contract on a
backend), `Signer` + `TxSender` under a `TxPolicy` (sending), `views` (storage reads), `events` (one typed model
per contract event), `index` (the incremental event index) and `history` (rounds rebuilt from
events). The backends (`EmbeddedBackend` in-process, `RpcBackend` for anvil, hardhat node or
any URL) also move devnet time. `hashes`: the two protocol hashes the contract checks and the
on-chain form of a CID.
"""

from flchain.ledger.backends import Backend, EmbeddedBackend, RpcBackend
from flchain.ledger.contract_v2 import ContractV2
from flchain.ledger.deployment import Deployment, detect_protocol_version, load_artifact
from flchain.ledger.errors import (
    ChainConfigError,
    ChainUnavailable,
    CompileError,
    ContractRevert,
    DeadlineMissed,
    FeeCapExceeded,
    InsufficientFunds,
    LedgerError,
    MalformedLog,
    NonceTooLow,
    OutOfGas,
    ReceiptTimeout,
    TransactionFailed,
    TransactionRejected,
    Underpriced,
)
from flchain.ledger.events import (
    EVENT_TYPES,
    Attested,
    ChainEvent,
    Committed,
    ExitRequested,
    Genesis,
    GovernanceTransferred,
    NodePenalised,
    Registered,
    Revealed,
    RoundFinalized,
    RulesScheduled,
    Withdrawn,
)
from flchain.ledger.hashes import (
    canonical_penalised,
    cid_to_bytes,
    cid_to_str,
    commitment_hash,
    result_hash,
)
from flchain.ledger.index import EventIndex
from flchain.ledger.ledger import AttestResult, DeployConfig, Ledger
from flchain.ledger.sending import Signer, TxPolicy, TxResult, TxSender
from flchain.ledger.v2 import LedgerV2, connect_ledger
from flchain.ledger.views import CommitState, NodeRecord, NodeStatus
from flchain.protocol import Phase, Schedule

__all__ = [
    "EVENT_TYPES",
    "AttestResult",
    "Attested",
    "Backend",
    "ChainConfigError",
    "ChainEvent",
    "ChainUnavailable",
    "CommitState",
    "Committed",
    "CompileError",
    "ContractRevert",
    "ContractV2",
    "DeadlineMissed",
    "DeployConfig",
    "Deployment",
    "EmbeddedBackend",
    "EventIndex",
    "ExitRequested",
    "FeeCapExceeded",
    "Genesis",
    "GovernanceTransferred",
    "InsufficientFunds",
    "Ledger",
    "LedgerError",
    "LedgerV2",
    "MalformedLog",
    "NodePenalised",
    "NodeRecord",
    "NodeStatus",
    "NonceTooLow",
    "OutOfGas",
    "Phase",
    "ReceiptTimeout",
    "Registered",
    "Revealed",
    "RoundFinalized",
    "RpcBackend",
    "RulesScheduled",
    "Schedule",
    "Signer",
    "TransactionFailed",
    "TransactionRejected",
    "TxPolicy",
    "TxResult",
    "TxSender",
    "Underpriced",
    "Withdrawn",
    "canonical_penalised",
    "cid_to_bytes",
    "cid_to_str",
    "commitment_hash",
    "connect_ledger",
    "detect_protocol_version",
    "load_artifact",
    "result_hash",
]
