"""Round replay: rebuild a round from the chain and the content store, run the pure merge.

    replay_round(ledger, store, round) -> ReplayResult          (reads only)
    publish_and_attest(ledger, account, store, round) -> MergeResult

`replay_round` is what every merger and every auditor runs: the round record comes from
contract events alone (`Ledger.round_record`), every other input is fetched by the CID the
chain names and verified against it:

* the base model: the latest model finalized before the round's reveal window closed (or the
  genesis model), its bytes checked against the on-chain digest;
* the directives in force: the ones the base model's manifest assigned (the manifest is
  fetched by its on-chain CID; genesis assigns none);
* the benchmark the round's rules name (`flchain.market.benchmark.resolve`; an all-zero id
  means "unset" and selects the shipped window of that round, `benchmark_for_round`);
* every revealed payload. Content the store does not have, or has corrupted, is handed to the
  merge as `None` (the merge records `content_unavailable`, a distinct, non-penalised outcome)
  and listed in `ReplayResult.unavailable` / `.corrupted`, so a caller can tell "the network
  lost it" from "the merge rejected it". A dead IPFS daemon is *not* missing content: it raises,
  because merging without the network would attest a wrong result.

`publish_and_attest` is the merger's side: replay, store merged weights and manifest (pinned),
attest on-chain. It is idempotent per (account, round).

`MergeMemo` lets the many nodes of one in-process simulation share the pure merge: the merge is
a pure function of its inputs, so a memo keyed by a digest of *every* input (the round record
minus the attestations and finalization the merge never reads, each payload's bytes, the base
bytes, the benchmark's content id, the directives) returns the very result a recomputation
would. Each node still rebuilds the record from events, fetches and verifies every input by CID,
and attests through its own wallet; only the arithmetic is shared. Nothing else uses a memo:
the audit and a node daemon recompute every merge.

Protocol v2 rounds replay through `flchain.replay.v2` (`replay_round_v2`,
`publish_and_attest_v2`): the record carries the payloads, the base and its manifest are fetched
through the same `fetch_content` with a size bound, the merge is `merge_v2`.

Modules: `inputs` (gather and verify a round's merge inputs), `core` (`replay_round`, the memo),
`publish` (`publish_and_attest`), `v2` (the v2 replay), `errors`. The names below are the
package's public surface (v2's are in `flchain.replay.v2`).
"""

from flchain.replay.core import (
    MergeMemo,
    ReplayResult,
    Tamper,
    merge_inputs_key,
    replay_round,
    run_merge,
)
from flchain.replay.errors import ReplayError, ReplayUnavailable
from flchain.replay.inputs import (
    Fetched,
    FetchProblem,
    ReplayInputs,
    benchmark_for_rules,
    directives_for_record,
    directives_from_manifest,
    fetch_base_weights,
    fetch_content,
    fetch_payloads,
    gather_inputs,
    parse_manifest,
)
from flchain.replay.publish import publish, publish_and_attest

__all__ = [
    "FetchProblem",
    "Fetched",
    "MergeMemo",
    "ReplayError",
    "ReplayInputs",
    "ReplayResult",
    "ReplayUnavailable",
    "Tamper",
    "benchmark_for_rules",
    "directives_for_record",
    "directives_from_manifest",
    "fetch_base_weights",
    "fetch_content",
    "fetch_payloads",
    "gather_inputs",
    "merge_inputs_key",
    "parse_manifest",
    "publish",
    "publish_and_attest",
    "replay_round",
    "run_merge",
]
