"""Gas of every FLChainV2 (protocol v2) entry point, with 1, 100 (and 1 000) registered nodes.

    python bench/gas_v2.py                      # anvil from node_modules: 1 and 100 nodes
    python bench/gas_v2.py --nodes 1000 --rounds 2  # 45 min on 2 shared cores (load ~18)
    python bench/gas_v2.py --forge              # and forge's figures (test/v2/FLChainV2Gas.t.sol)
    python bench/gas_v2.py --payloads           # reveal at 1.5/4/12/16 KiB, Cancun and Prague
    python bench/gas_v2.py --profile            # where each function's gas goes, by kind
    python bench/gas_v2.py --backend embedded --rounds 3

The federation is the daemon's code (`flchain.testing.RoundDriverV2` stepping `NodeRunnerV2`):
every node commits and reveals a real update with its payload in calldata; from round 1 one
node in ten withholds its reveal and an honest node slashes it (`slashNoReveal`, paying the
bounty); every round one node posts the beacon, the nodes attest the merge they computed, and
the attestation that reaches q finalizes; each node settles its own leaf at its next step.
Gas is read afterwards from the receipts of every transaction the run mined (the function from
the calldata's selector), so it is what each sender paid, whoever sent it. Each row is
min..max over every sample, so growth with nodes or rounds shows as a range; the verdict
compares the worst sample with the issue's target (reveal: 70 000 + 16 per payload byte).

On anvil the driver freezes the chain's clock and steps `--workers` nodes at once in each
phase (`RoundDriverV2(workers=N)`, mining whatever is pending), with the same
transactions as one by one. anvil runs `--hardfork` (default prague: EIP-7623's
calldata floor prices a reveal above ~1.1 KB, and the reveal verdict reports the reveals it
priced apart; forge's figures are Cancun's, foundry.toml).

The baselines printed beside it, measured in the same run: with `--forge`, forge's worst per
function at the same node count (`forge test --isolate`, every call a transaction of its own,
Cancun pricing; a different federation: synthetic payloads, penalties and wrong votes); and
protocol v1's budget for the same step (bench/gas.py), where one exists: what v2's stake,
payloads and settlement cost on top.

`--profile` accounts for one transaction of each function by opcode (`debug_traceTransaction`
on `anvil --steps-tracing`): intrinsic gas (21 000 + calldata at Cancun's prices), storage words
created, cold reads, rewrites, the event, transfers and precompiles, the selector dispatch
(via-IR's is a linear chain: docs/security.md §8) and the rest.

`--payloads` reveals one payload of random non-zero bytes of each size in a round already
revealed in, on Cancun and on Prague, beside 70 000 + 16/B and EIP-7623's floor
(21 000 + 10 per calldata token, a non-zero byte 4 tokens): docs/protocol.md §5's decision.
"""

from __future__ import annotations

import argparse
import re
import secrets
import subprocess
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from flchain.devnet.anvil import AnvilProcess
from flchain.ledger import Backend, EmbeddedBackend, RpcBackend
from flchain.ledger.deployment import load_artifact
from flchain.protocol import digests as dg
from flchain.protocol.machine import ETHER, Phase, RulesV2
from flchain.storage.blockstore import LocalStore
from flchain.testing.driver import RoundDriverV2, RoundPlanV2

REPO = Path(__file__).resolve().parents[1]

REVEAL_BASE_TARGET = 70_000
REVEAL_PER_BYTE_TARGET = 16
TARGETS: dict[str, int] = {
    "commit": 55_000,
    "attest": 80_000,
    "finalize": 120_000,
    "settle": 60_000,
    "collect": 60_000,
    "slashNoReveal": 70_000,
}
V1_BUDGET: dict[str, int] = {"commit": 50_000, "reveal": 65_000, "attest": 75_000}
WITHHOLD_EVERY = 10  # from round 1, nodes 0, 10, 20, ... withhold their reveal
PAYLOAD_SIZES = (1_536, 4_096, 12_288, 16_384)
HARDFORKS = ("cancun", "prague")
#: Calls that create a storage word only because they come first: rows of their own.
FIRST_OF = {
    "reveal": "first of a round",
    "finalize": "first of the deployment",
    "register": "first",
    "settle": "creates the node's record word",  # its first leaf with a nonzero record
}
#: forge's rows (test/v2/FLChainV2Gas.t.sol) of each function this bench samples; a reveal's
#: rows are its fixed part (gasUsed − 16 per payload byte).
FORGE_ROWS: dict[str, tuple[str, ...]] = {
    "commit": ("commit",),
    "reveal": ("reveal 1.5 KB, fixed part", "reveal 12 KB, fixed part"),
    "reveal (first of a round)": ("reveal, first of a round, fixed part",),
    "finalize (first of the deployment)": ("finalize (first of the deployment)",),
    "register": ("register",),
    "register (first)": ("register (first)",),
    "postBeacon": ("postBeacon",),
    "attest": ("attest", "attest (first vote for a result)", "attest (first vote of a node)"),
    "finalize": ("finalize",),
    "settle": (  # the daemon's federation has no penalties: not forge's penalty rows
        "settle",
        "settle by a third party",
        "settle, wrong vote slashed",
    ),
    "settle (creates the node's record word)": ("settle (first of a node)",),
    "collect": ("collect", "collect (first of a node)"),
    "slashNoReveal": ("slashNoReveal",),
    "openRound": ("openRound",),
}


@dataclass
class Sample:
    gas: int
    payload: int = 0  # reveal: payload bytes in calldata
    tx_hash: str = ""
    #: gasUsed is EIP-7623's calldata floor (Prague): the calldata priced it, not the execution
    floored: bool = False


@dataclass
class Run:
    nodes: int
    samples: dict[str, list[Sample]] = field(default_factory=lambda: defaultdict(list))
    seconds: float = 0.0
    finalized: int = 0
    rounds: int = 0
    address: str = ""  # the contract's


@dataclass
class ForkedAnvil(AnvilProcess):
    """anvil on a named hardfork (its default is the latest)."""

    hardfork: str = field(default="prague", kw_only=True)
    steps_tracing: bool = field(default=False, kw_only=True)  # debug_traceTransaction's steps

    def command(self) -> list[str]:
        tracing = ["--steps-tracing"] if self.steps_tracing else []
        return [*super().command(), "--hardfork", self.hardfork, *tracing]


@contextmanager
def open_backend(kind: str, hardfork: str = "prague", tracing: bool = False) -> Iterator[Backend]:
    if kind == "embedded":
        yield EmbeddedBackend()
        return
    with ForkedAnvil(hardfork=hardfork, steps_tracing=tracing) as node:
        yield RpcBackend(node.url, kind="anvil", expected_chain_id=node.chain_id)


def selectors() -> dict[bytes, tuple[str, list[str]]]:
    """The v2 ABI's function selectors -> (name, argument types)."""
    from eth_utils import function_abi_to_4byte_selector

    out: dict[bytes, tuple[str, list[str]]] = {}
    for item in load_artifact(2)["abi"]:
        if item.get("type") == "function":
            types = [i["type"] for i in item["inputs"]]
            out[bytes(function_abi_to_4byte_selector(item))] = (item["name"], types)
    return out


def collect_samples(driver: RoundDriverV2, run: Run) -> None:
    """Every transaction to the contract since its deployment, by function, with its gas. The
    calls that may create a storage word only because they come first (20 000 gas: the
    round's first reveal when nobody opened the round, the deployment's first finalize and
    registration) are rows of their own, as in forge's table."""
    firsts: set[tuple[str, int]] = set()
    w3 = driver.backend.w3
    by_selector = selectors()
    address = driver.gov.address.lower()
    for number in range(driver.gov.from_block, w3.eth.block_number + 1):
        block = w3.eth.get_block(number, full_transactions=True)
        for entry in block["transactions"]:
            tx: dict[str, Any] = dict(entry)  # type: ignore[arg-type]  # full transactions
            if tx.get("to") is None or str(tx["to"]).lower() != address:
                continue
            data = bytes(tx.get("input", tx.get("data", b"")))  # "data" on the embedded chain
            name, types = by_selector.get(data[:4], ("?", []))
            receipt = w3.eth.get_transaction_receipt(tx["hash"])
            if receipt["status"] != 1:
                name = f"{name} (reverted)"
            payload = 0
            if name == "reveal":
                args = w3.codec.decode(types, data[4:])
                payload = next(len(a) for a, t in zip(args, types, strict=True) if t == "bytes")
            if name == "settle" and not any(data[4 + 64 : 4 + 224]):
                pass  # an all-zero record (a node that earned nothing yet) creates no word
            elif name in FIRST_OF:
                # per round (reveal), per node (settle: the leaf's node, the static Leaf's first
                # word, since a third party may settle it; its record is words 2-6) or once
                key = (name, args[0] if name == "reveal" else data[4:36] if name == "settle" else 0)
                if key not in firsts:
                    firsts.add(key)
                    name = f"{name} ({FIRST_OF[name]})"
            tx_hash = "0x" + bytes(tx["hash"]).hex()
            gas = int(receipt["gasUsed"])
            floored = gas == calldata_floor(data)
            run.samples[name].append(Sample(gas, payload, tx_hash, floored))


def play(backend: Backend, n_nodes: int, rounds: int, work: Path, workers: int = 1) -> Run:
    run = Run(n_nodes)
    start = time.perf_counter()
    rules = RulesV2(
        roi_min_bps=-10_000,
        probation_rounds=0,
        emission_wei=ETHER,
        notice_rounds=1,
        max_participants=min(max(n_nodes, 1), 64),
    )
    store = LocalStore(work / f"store-{n_nodes}", fsync=False)
    driver = RoundDriverV2.deploy(
        backend, store, n_nodes, rules=rules, seed=n_nodes, workers=min(workers, n_nodes)
    )
    for r in range(rounds):
        withheld = [a for i, a in enumerate(driver.addresses) if r and i % WITHHOLD_EVERY == 0]
        if len(withheld) == n_nodes:  # a one-node federation never withholds
            withheld = []
        driver.play_round(r, RoundPlanV2(withheld=withheld))
        if r + 1 == rounds:  # the last round's leaves are settled in the next round's commit
            driver.step_phase(r + 1, Phase.COMMIT)
        print(f"  {n_nodes} nodes: round {r} played ({time.perf_counter() - start:.0f} s)")
    run.address = driver.gov.address
    run.finalized = sum(driver.gov.round_view(r).final_result != bytes(32) for r in range(rounds))
    run.rounds = rounds
    collect_samples(driver, run)
    run.seconds = time.perf_counter() - start
    return run


#: Rows of the federation's set-up, not of its rounds.
SET_UP: Final = frozenset({"register", "register (first)", "fundPool"})


def span(samples: list[Sample]) -> str:
    if not samples:
        return "-"
    gas = [s.gas for s in samples]
    low, high = min(gas), max(gas)
    return (f"{low:,}" if low == high else f"{low:,}..{high:,}") + f" ×{len(gas)}"


def reveal_verdict(samples: list[Sample]) -> str:
    """The target is priced on Cancun's calldata (16/B): a reveal whose gasUsed is Prague's
    calldata floor (25 030 + 40/B, above ~1 870 B over the target whatever the contract does)
    says nothing of the contract, and is reported apart."""

    def worst(of: list[Sample]) -> int:
        return max(s.gas - REVEAL_PER_BYTE_TARGET * s.payload for s in of)

    executed = [s for s in samples if not s.floored]
    verdict = "PASS"
    if executed:
        fixed = worst(executed)
        verdict = f"{'PASS' if fixed <= REVEAL_BASE_TARGET else 'MISS'} ({fixed:,} + 16/B)"
    floored = [s for s in samples if s.floored]
    if floored:
        verdict += f"; {len(floored)} priced by EIP-7623's floor: {worst(floored):,} + 16/B"
    return verdict


def calldata_floor(data: bytes) -> int:
    """EIP-7623's least gas of a transaction with `data`: 21 000 + 10 per calldata token."""
    zeros = data.count(0)
    return 21_000 + 10 * (zeros + 4 * (len(data) - zeros))


def nonzero_bytes(n: int) -> bytes:
    """`n` random bytes, none zero: a payload's costliest calldata (a real update's is close)."""
    return bytes(b % 255 + 1 for b in secrets.token_bytes(n))


@dataclass
class RevealCost:
    size: int
    gas: int
    floor: int  # EIP-7623's calldata floor of the same transaction


def reveal_sweep(hardfork: str, work: Path) -> list[RevealCost]:
    """A reveal of each of PAYLOAD_SIZES (Accepted, in a round already revealed in, so none
    pays for the round's accumulator word) on an anvil running `hardfork`."""
    with open_backend("anvil", hardfork) as backend:
        rules = RulesV2(roi_min_bps=-10_000, probation_rounds=0, notice_rounds=1)
        store = LocalStore(work / f"sweep-{hardfork}", fsync=False)
        driver = RoundDriverV2.deploy(backend, store, 1 + len(PAYLOAD_SIZES), rules=rules)
        base = driver.gov.latest().merged_digest
        ledgers = [driver.gov.with_account(a) for a in driver.nodes]
        payloads = [nonzero_bytes(n) for n in (PAYLOAD_SIZES[0], *PAYLOAD_SIZES)]
        salts = [secrets.token_bytes(32) for _ in ledgers]
        driver.goto(0, Phase.COMMIT)
        for ledger, payload, salt in zip(ledgers, payloads, salts, strict=True):
            ledger.commit(0, ledger.commitment(0, dg.sha256(payload), base, 0, salt))
        driver.goto(0, Phase.REVEAL)
        costs = []
        for ledger, payload, salt in zip(ledgers, payloads, salts, strict=True):
            tx, _ = ledger.reveal(0, payload, base, 0, salt)
            data = bytes(backend.w3.eth.get_transaction(tx.tx_hash)["input"])  # type: ignore[arg-type]
            costs.append(RevealCost(len(payload), tx.gas_used, calldata_floor(data)))
        return costs[1:]  # the first paid for the round's accumulator word


def print_sweep(sweeps: dict[str, list[RevealCost]]) -> None:
    print(
        "\nreveal by payload size (anvil, non-zero random bytes, not the round's first; "
        "gasUsed, EIP-7623 floor = 21 000 + 40/B + 10 per other calldata token)"
    )
    header = f"{'payload':>9}{'target':>10}" + "".join(f"{h:>10}" for h in sweeps)
    header += f"{'floor':>10}{'prague/cancun':>15}  floor binds"
    print(header)
    print("-" * len(header))
    cancun, prague = sweeps.get("cancun", []), sweeps.get("prague", [])
    for i, size in enumerate(PAYLOAD_SIZES):
        target = REVEAL_BASE_TARGET + REVEAL_PER_BYTE_TARGET * size
        cols = "".join(f"{costs[i].gas:>10,}" for costs in sweeps.values())
        floor = (prague or cancun)[i].floor  # the transaction the floor was charged on
        ratio = f"{prague[i].gas / cancun[i].gas:.2f}" if cancun and prague else ""
        binds = "yes" if cancun and floor > cancun[i].gas else "no"
        print(f"{size:>9,}{target:>10,}{cols}{floor:>10,}{ratio:>15}  {binds}")
    if len(cancun) >= 2:  # the line through Cancun's two largest, against the floor's
        a, b = cancun[-2], cancun[-1]
        per_byte = (b.gas - a.gas) / (b.size - a.size)
        floor_per_byte = (b.floor - a.floor) / (b.size - a.size)
        fixed, floor_fixed = a.gas - per_byte * a.size, a.floor - floor_per_byte * a.size
        cross = (fixed - floor_fixed) / (floor_per_byte - per_byte)
        print(
            f"Cancun: {fixed:,.0f} + {per_byte:.2f}/B; floor: {floor_fixed:,.0f} + "
            f"{floor_per_byte:.0f}/B; the floor prices a reveal above {cross:,.0f} B"
        )


#: The columns of `--profile`, in order.
PROFILE_KINDS = (
    "intrinsic", "new words", "cold reads", "rewrites", "event", "transfers", "dispatch", "rest",
)  # fmt: skip


def case_targets(code: bytes) -> dict[bytes, int]:
    """selector -> where its case jumps, from the dispatcher's `PUSH4 sel EQ PUSH2 dest JUMPI`."""
    ops: list[tuple[int, bytes]] = []
    pc = 0
    while pc < len(code):
        op = code[pc]
        width = op - 0x5F if 0x60 <= op <= 0x7F else 0
        ops.append((op, code[pc + 1 : pc + 1 + width]))
        pc += 1 + width
    out: dict[bytes, int] = {}
    for k in range(len(ops) - 3):
        (a, sel), (b, _), (c, dest), (d, _) = ops[k : k + 4]
        if a == 0x63 and b == 0x14 and c in (0x60, 0x61, 0x62) and d == 0x57:
            out.setdefault(sel, int.from_bytes(dest, "big"))
    return out


def gas_by_kind(backend: Backend, tx_hash: str, dispatch_end: int) -> dict[str, int]:
    """One transaction's gas by kind, from the opcode costs of `debug_traceTransaction` (the
    contract's own frame; a call's cost is what it took from the frame, stipend returned)."""
    tx = backend.w3.eth.get_transaction(tx_hash)  # type: ignore[arg-type]
    data = bytes(tx["input"])
    zeros = data.count(0)
    kinds = dict.fromkeys(PROFILE_KINDS, 0)
    kinds["intrinsic"] = 21_000 + 4 * zeros + 16 * (len(data) - zeros)
    quiet = {"disableStorage": True, "disableMemory": True}
    steps = backend._rpc("debug_traceTransaction", [tx_hash, quiet])["structLogs"]  # type: ignore[attr-defined]
    dispatching = True
    for k, step in enumerate(steps):
        if step["depth"] != 1:
            continue
        op, cost = step["op"], int(step["gasCost"])
        if op in ("CALL", "STATICCALL"):
            after = steps[k + 1]
            cost = int(step["gas"]) - int(after["gas"]) if after["depth"] == 1 else 0
        dispatching = dispatching and step["pc"] != dispatch_end
        if dispatching:
            kind = "dispatch"
        elif op == "SLOAD" and cost == 2_100:
            kind = "cold reads"
        elif op == "SSTORE" and cost >= 20_000:  # 22 100 when the zero word was not read first
            kind = "new words"
        elif op == "SSTORE" and cost in (2_900, 5_000):
            kind = "rewrites"
        elif op.startswith("LOG"):
            kind = "event"
        elif op in ("CALL", "STATICCALL"):
            kind = "transfers"  # a value transfer, or the sha256 precompile
        else:
            kind = "rest"
        kinds[kind] += cost
    return kinds


def profile(work: Path) -> None:
    """Where the gas of each function goes: the median-gas transaction of each in a 10-node,
    3-round federation, its opcodes' gas summed by kind."""
    with open_backend("anvil", "prague", tracing=True) as backend:
        run = play(backend, 10, 3, work)
        code = bytes(backend.w3.eth.get_code(run.address))  # type: ignore[arg-type]
        targets = case_targets(code)
        by_name = {name: sel for sel, (name, _) in selectors().items()}
        print("\ngas by kind (anvil --steps-tracing; the median transaction of each function)")
        header = f"{'function':<36}{'gasUsed':>9}" + "".join(f"{k:>12}" for k in PROFILE_KINDS)
        print(header)
        print("-" * len(header))
        for name, samples in sorted(run.samples.items()):
            base = name.split(" (")[0]
            if base not in by_name or "reverted" in name:
                continue
            sample = sorted(samples, key=lambda x: x.gas)[len(samples) // 2]
            kinds = gas_by_kind(backend, sample.tx_hash, targets[by_name[base]])
            cols = "".join(f"{v:>12,}" for v in kinds.values())
            print(f"{name:<36}{sample.gas:>9,}{cols}")


def forge_rows() -> dict[int, dict[str, int]]:
    """forge's worst gas per row of test/v2/FLChainV2Gas.t.sol, by node count (its three
    tests, each call a transaction of its own: `--isolate`)."""
    forge = REPO / "node_modules" / ".bin" / "forge"
    proc = subprocess.run(
        [str(forge), "test", "--color", "never", "--isolate", "-vv",
         "--match-path", "test/v2/FLChainV2Gas.t.sol"],
        cwd=REPO, capture_output=True, text=True, check=False, timeout=3_000,
    )  # fmt: skip
    if proc.returncode != 0:
        raise SystemExit(f"forge gas suite failed:\n{proc.stdout[-2_000:]}{proc.stderr[-2_000:]}")
    rows: dict[int, dict[str, int]] = {}
    nodes = 0
    for line in proc.stdout.splitlines():
        if (m := re.match(r"\s+gas with (\d+) registered nodes", line)) is not None:
            nodes = int(m.group(1))
            rows[nodes] = {}
        elif nodes and (m := re.match(r"\s{4}(.+): (\d+)\.\.(\d+) \(\d+\)$", line)) is not None:
            rows[nodes][m.group(1)] = int(m.group(3))
    return rows


def forge_worst(rows: dict[str, int], name: str) -> str:
    found = [rows[r] for r in FORGE_ROWS.get(name, ()) if r in rows]
    if not found:
        return "-"
    worst = max(found)
    return f"{worst:,}+16/B" if name.startswith("reveal") else f"{worst:,}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--backend", choices=["anvil", "embedded"], default="anvil")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per deployment (>= 2)")
    parser.add_argument("--nodes", default="1,100", help="comma-separated node counts")
    parser.add_argument("--workers", type=int, default=8, help="nodes stepped at once (anvil)")
    parser.add_argument("--hardfork", choices=HARDFORKS, default="prague", help="anvil's")
    parser.add_argument("--forge", action="store_true", help="forge's figures beside (~1 min)")
    parser.add_argument("--payloads", action="store_true", help="only the reveal size sweep")
    parser.add_argument("--profile", action="store_true", help="only the gas-by-kind table")
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="flchain-gas-v2-") as tmp:
        if opts.payloads:
            print_sweep({fork: reveal_sweep(fork, Path(tmp)) for fork in HARDFORKS})
            return
        if opts.profile:
            profile(Path(tmp))
            return
        counts = [int(n) for n in opts.nodes.split(",")]
        if opts.rounds < 2 or min(counts) < 1:
            parser.error("need --rounds >= 2 and node counts >= 1")
        workers = opts.workers if opts.backend == "anvil" else 1
        forge = forge_rows() if opts.forge else {}
        runs: list[Run] = []
        for n in counts:
            with open_backend(opts.backend, opts.hardfork) as backend:  # a fresh chain per size
                runs.append(play(backend, n, opts.rounds, Path(tmp), workers))
    names = sorted({k for run in runs for k in run.samples})
    where = "embedded"
    if opts.backend == "anvil":
        where = f"anvil --hardfork {opts.hardfork}, {workers} workers"
    print(
        f"\nFLChainV2 gas ({where}, {opts.rounds} "
        f"rounds, 1 in {WITHHOLD_EVERY} nodes withholding from round 1; min..max ×count over every "
        "transaction mined)"
    )
    width = 27
    header = f"{'function':<36}" + "".join(f"{f'{r.nodes} nodes':>{width}}" for r in runs)
    header += "".join(f"{f'forge {r.nodes}':>16}" for r in runs if r.nodes in forge)
    header += f"{'target':>18}{'v1 budget':>11}  result"
    print(header)
    print("-" * len(header))
    for name in names:
        cols = "".join(f"{span(r.samples.get(name, [])):>{width}}" for r in runs)
        cols += "".join(
            f"{forge_worst(forge[r.nodes], name):>16}" for r in runs if r.nodes in forge
        )
        every = [s for r in runs for s in r.samples.get(name, [])]
        if name.startswith("reveal") and "reverted" not in name:
            target, verdict = "70,000+16/B", reveal_verdict(every)
        elif name in TARGETS:
            target = f"{TARGETS[name]:,}"
            verdict = "PASS" if max(s.gas for s in every) <= TARGETS[name] else "MISS"
        else:
            target, verdict = "", ""
        v1 = f"{V1_BUDGET[name]:,}" if name in V1_BUDGET else ""
        print(f"{name:<36}{cols}{target:>18}{v1:>11}  {verdict}")
    payloads = sorted({s.payload for r in runs for s in r.samples.get("reveal", [])})
    if payloads:
        print(f"\nreveal payloads: {payloads[0]:,}..{payloads[-1]:,} bytes")
    for r in runs:
        played = sum(
            s.gas for k, v in r.samples.items() if k not in SET_UP for s in v
        )  # what the rounds cost, the federation's set-up apart
        print(
            f"{r.nodes} nodes: {r.finalized} of {r.rounds} rounds final, "
            f"{sum(len(v) for v in r.samples.values())} transactions, "
            f"{played // r.rounds:,} gas a round (set-up apart), {r.seconds:.0f} s"
        )


if __name__ == "__main__":
    main()
