"""The error hierarchy users see, drawn whole in one place.

Every error flchain raises on purpose derives from `FlchainError`; its message is one line
that says what went wrong and, where there is one, what to do. The CLI prints that line
(no traceback) and exits with `exit_code`: 1 unless the tree says `[exit N]` — 2 when nothing
could be decided (a service unreachable, an audit that cannot verify), 3 for a wallet another
daemon already runs. Keys, passwords and seeds never appear in a message.

`ConfigError` and `UnavailableError` are kinds a subclass mixes in beside its own room's base
("also …": the second base); each class is drawn once, under its first base. Every subclass
that exists is listed with the module defining it (tests/test_errors.py fails otherwise;
`python scripts/error_tree.py` prints the drawing from the classes):

    FlchainError                                                            flchain.errors
    ├── ConfigError                                                         flchain.errors
    │   ├── MissingSetting                                                  flchain.config
    │   ├── StoreNotFound                                                   flchain.config
    │   ├── DevnetNotUp (also DevnetError)                                  flchain.devnet.errors
    │   ├── DevnetRefused (also DevnetError)                                flchain.devnet.errors
    │   ├── ChainConfigError (also LedgerError)                             flchain.ledger.errors
    │   ├── NodeDataError (also NodeError)                                  flchain.node.errors
    │   ├── RulesFileError                                                  flchain.rules_file
    │   └── SimulationError                                                 flchain.simulate.config
    ├── UnavailableError [exit 2]                                           flchain.errors
    │   ├── DevChainError [exit 2]                                          flchain.devnet.anvil
    │   ├── DevnetUnhealthy (also DevnetError) [exit 2]                     flchain.devnet.errors
    │   ├── IpfsDaemonError [exit 2]                                        flchain.devnet.ipfsd
    │   ├── ChainUnavailable (also LedgerError) [exit 2]                    flchain.ledger.errors
    │   └── ReceiptTimeout (also LedgerError) [exit 2]                      flchain.ledger.errors
    ├── AuditError [exit 2]                                                 flchain.audit.errors
    │   ├── AuditSourceUnavailable (also UnavailableError) [exit 2]         flchain.audit.errors
    │   ├── ProofError [exit 2]                                             flchain.audit.errors
    │   └── TraceProblem [exit 2]                                           flchain.audit.errors
    ├── BacktestError                                                       flchain.backtest.errors
    ├── MigrationRefused                                                    flchain.cli.errors
    ├── NotGovernor                                                         flchain.cli.errors
    ├── NotPendingGovernor                                                  flchain.cli.errors
    ├── NothingToSettle                                                     flchain.cli.errors
    ├── RulesNotSchedulable                                                 flchain.cli.errors
    ├── WrongProtocolVersion                                                flchain.cli.errors
    ├── DevnetError                                                         flchain.devnet.errors
    │   └── DevnetAlreadyUp                                                 flchain.devnet.errors
    ├── LedgerError                                                         flchain.ledger.errors
    │   ├── CompileError                                                    flchain.ledger.errors
    │   ├── ContractRevert                                                  flchain.ledger.errors
    │   │   └── RefusedBeforeSending                                        flchain.cli.errors
    │   ├── DeadlineMissed                                                  flchain.ledger.errors
    │   ├── FeeCapExceeded                                                  flchain.ledger.errors
    │   ├── InsufficientFunds                                               flchain.ledger.errors
    │   ├── MalformedLog [exit 2]                                           flchain.ledger.errors
    │   ├── TransactionFailed                                               flchain.ledger.errors
    │   │   └── OutOfGas                                                    flchain.ledger.errors
    │   └── TransactionRejected                                             flchain.ledger.errors
    │       ├── NonceTooLow                                                 flchain.ledger.errors
    │       └── Underpriced                                                 flchain.ledger.errors
    ├── KeystoreError                                                       flchain.ledger.keystore
    │   ├── InvalidPrivateKey                                               flchain.ledger.keystore
    │   ├── InvalidWalletName                                               flchain.ledger.keystore
    │   ├── MalformedKeystore                                               flchain.ledger.keystore
    │   ├── MissingPassword                                                 flchain.ledger.keystore
    │   ├── WalletExists                                                    flchain.ledger.keystore
    │   ├── WalletNotFound                                                  flchain.ledger.keystore
    │   └── WrongPassword                                                   flchain.ledger.keystore
    ├── MarketDataError                                                     flchain.market.errors
    │   ├── BenchmarkFormatError                                            flchain.market.errors
    │   │   └── ForwardWindowError                                          flchain.market.errors
    │   └── UnknownBenchmarkError                                           flchain.market.errors
    │       └── BenchmarkUnavailableError (also UnavailableError) [exit 2]  flchain.market.errors
    ├── MergeError                                                          flchain.merge.errors
    │   ├── AggregationError                                                flchain.merge.errors
    │   └── MergeInputError                                                 flchain.merge.errors
    ├── ModelError                                                          flchain.model.errors
    ├── NodeError                                                           flchain.node.errors
    │   ├── WrongNodeStatus                                                 flchain.cli.errors
    │   ├── BeaconRelayError                                                flchain.node.drand
    │   │   ├── BeaconRelayMismatch (also ConfigError)                      flchain.node.drand
    │   │   └── BeaconRelayUnavailable (also UnavailableError) [exit 2]     flchain.node.drand
    │   ├── CommitmentLost                                                  flchain.node.errors
    │   ├── NodeLocked [exit 3]                                             flchain.node.errors
    │   ├── NotRegistered                                                   flchain.node.errors
    │   │   └── NodeWithdrawn                                               flchain.node.errors
    │   ├── RoundNotFound                                                   flchain.node.errors
    │   └── StoreWriteError (also UnavailableError) [exit 2]                flchain.node.errors
    ├── BeaconError                                                         flchain.protocol.beacon
    │   ├── BeaconKeyError                                                  flchain.protocol.beacon
    │   ├── BeaconSignatureError                                            flchain.protocol.beacon
    │   └── BeaconSignatureRefused                                          flchain.protocol.beacon
    ├── ProtocolError                                                       flchain.protocol.machine
    ├── ReplayError                                                         flchain.replay.errors
    │   └── ReplayUnavailable (also UnavailableError) [exit 2]              flchain.replay.errors
    └── StorageError                                                        flchain.storage.errors
        ├── BlockNotFoundError                                              flchain.storage.errors
        ├── CarFormatError                                                  flchain.storage.errors
        ├── CidDisagreementError                                            flchain.storage.errors
        ├── ContentMismatchError                                            flchain.storage.errors
        │   └── TruncatedBlockError                                         flchain.storage.errors
        ├── InvalidCidError                                                 flchain.storage.errors
        ├── IpfsProtocolError (also UnavailableError) [exit 2]              flchain.storage.errors
        ├── IpfsUnavailableError (also UnavailableError) [exit 2]           flchain.storage.errors
        ├── MalformedDagError                                               flchain.storage.errors
        └── WeightsError                                                    flchain.storage.errors
            ├── NonCanonicalWeightsError                                    flchain.storage.errors
            ├── NonFiniteWeightsError                                       flchain.storage.errors
            ├── NotSafetensorsError                                         flchain.storage.errors
            │   ├── HeaderTooLargeError                                     flchain.storage.errors
            │   ├── PickleRefusedError                                      flchain.storage.errors
            │   ├── TorchZipRefusedError                                    flchain.storage.errors
            │   └── WeightsLayoutError                                      flchain.storage.errors
            └── WeightsDtypeError                                           flchain.storage.errors
"""

from __future__ import annotations


class FlchainError(Exception):
    """Base class: a clear, one-line, user-facing error."""

    exit_code: int = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(FlchainError):
    """Missing or malformed configuration, profile or settings."""


class UnavailableError(FlchainError):
    """A service (RPC endpoint, IPFS daemon) could not be reached or answered garbage."""

    exit_code = 2
