"""CPU cost of the ledger's read and send paths on the embedded chain (prints figures; no asserts).

    python bench/ledger.py [--nodes 20] [--rounds 3]

One deployment; every node commits and reveals each round, three attest. Then, CPU seconds
(`time.process_time`, best of several; robust to a loaded machine, unlike wall time):

- decoding the whole log into typed events (`EventDecoder.decode`), next to web3's
  `process_log` on the same logs (the peer: the reference the decoder is tested against);
- a fresh `EventIndex` reading the chain from the deployment block;
- `round_record` (the index already synced) and one `events(kind, round)` query (a head check
  plus a list filter);
- one transaction through `TxSender` (median over every commit, reveal and attest; py-evm's
  execution is most of it).
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import time
from collections.abc import Callable

from eth_account import Account

from flchain.hashing import sha256_hex
from flchain.ledger import (
    DeployConfig,
    EmbeddedBackend,
    EventIndex,
    Ledger,
    Phase,
    Revealed,
    commitment_hash,
)
from flchain.protocol import Rules
from flchain.storage.cid import cid_for_bytes


def best_cpu(fn: Callable[[], object], repeat: int = 7) -> float:
    times = []
    for _ in range(repeat):
        t = time.process_time()
        fn()
        times.append(time.process_time() - t)
    return min(times)


def play(nodes: int, rounds: int) -> tuple[EmbeddedBackend, Ledger, list[float]]:
    """A deployment with `rounds` played rounds; returns the CPU seconds of every transaction."""
    backend = EmbeddedBackend()
    gov_acct = Account.create()
    backend.fund(gov_acct.address, 10**22)
    genesis = b"genesis"
    base = sha256_hex(genesis)
    cfg = DeployConfig(
        t0=backend.latest_timestamp() + 100 + 4 * nodes,
        round_length=10_000,
        commit_window=4_000,
        reveal_window=3_000,
        genesis_digest=base,
        genesis_cid=cid_for_bytes(genesis),
        rules=Rules(quorum=2),
    )
    gov = Ledger.deploy(backend, gov_acct, cfg)
    members = []
    for _ in range(nodes):
        acct = Account.create()
        backend.fund(acct.address, 10**20)
        member = gov.with_account(acct)
        member.register()
        members.append(member)
    sends: list[float] = []

    def timed(send: Callable[..., object], *args: object) -> None:
        t = time.process_time()
        send(*args)
        sends.append(time.process_time() - t)

    for rnd in range(rounds):
        backend.goto(gov.schedule, rnd, Phase.COMMIT, 5)
        updates = []
        for member in members:
            assert member.account is not None
            payload = secrets.token_bytes(64)
            digest, cid, salt = (
                sha256_hex(payload),
                cid_for_bytes(payload),
                "0x" + secrets.token_hex(32),
            )
            c = commitment_hash(
                gov.chain_id, gov.address, rnd, member.account.address, digest, cid, base, 100, salt
            )
            timed(member.commit, rnd, c)
            updates.append((digest, cid, salt))
        backend.goto(gov.schedule, rnd, Phase.REVEAL, 5)
        for member, (digest, cid, salt) in zip(members, updates, strict=True):
            timed(member.reveal, rnd, digest, cid, base, 100, salt)
        backend.goto(gov.schedule, rnd, Phase.CLOSED, 5)
        merged, manifest = f"merged {rnd}".encode(), cid_for_bytes(b"manifest")
        for member in members[:3]:
            timed(member.attest, rnd, sha256_hex(merged), cid_for_bytes(merged), manifest)
    return backend, gov, sends


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--nodes", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    opts = parser.parse_args()
    backend, gov, sends = play(opts.nodes, opts.rounds)
    logs = backend.w3.eth.get_logs(
        {"address": gov.address, "fromBlock": gov.from_block, "toBlock": "latest"}
    )
    decoder = gov.deployment.events
    by_topic = {topic: name for name, topic in decoder.topics.items()}

    def with_web3() -> None:
        for log in logs:
            getattr(gov.contract.events, by_topic[bytes(log["topics"][0])])().process_log(log)

    fast = best_cpu(lambda: decoder.decode(logs))
    peer = best_cpu(with_web3, 3)
    index = best_cpu(
        lambda: EventIndex(backend, gov.address, gov.from_block, decoder.decode).sync()
    )
    gov.round_record(0)
    record = best_cpu(lambda: [gov.round_record(r) for r in range(opts.rounds)], 5) / opts.rounds
    query = best_cpu(lambda: [gov.events(Revealed, 0) for _ in range(20)], 5) / 20
    n = len(logs)
    print(
        f"ledger paths, embedded chain: {opts.nodes} nodes x {opts.rounds} rounds, {n} logs (CPU time)"
    )
    print(
        f"  decode the log, typed events       {fast * 1e3:7.1f} ms  {fast / n * 1e6:5.0f} us/log"
    )
    print(
        f"  web3 process_log, same logs        {peer * 1e3:7.1f} ms  {peer / n * 1e6:5.0f} us/log"
        f"   [peer; decoder {peer / fast:4.1f}x faster]"
    )
    print(f"  fresh EventIndex, first sync       {index * 1e3:7.1f} ms")
    print(f"  round_record (index synced)        {record * 1e3:7.2f} ms")
    print(f"  events(Revealed, round)            {query * 1e6:7.0f} us")
    print(f"  one transaction (median of {len(sends)})    {statistics.median(sends) * 1e3:7.2f} ms")


if __name__ == "__main__":
    main()
