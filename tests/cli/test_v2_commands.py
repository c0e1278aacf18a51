"""Protocol v2 from the command line alone, on a plain anvil (no `devnet up`), and its federation
files: every bad field is one `error:` line and nothing is sent; every refusal of the contract
is its custom error by name, found by an eth_call before the keystore is unlocked (the wallet's
nonce does not move).

The operator path: deploy FLChainV2 from a rules file, fund the pool, register three wallets
with bonds, schedule a rule change and see it take effect after its notice, cancel one, hand
the governor role over in two steps, pause and unpause; then, with a round the nodes play
through `LedgerV2` (what their daemons do), settle from the manifest in the store; and the
migration of a v1 round that audits as verified.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

from flchain.devnet.anvil import AnvilProcess
from flchain.devnet.federation import genesis_model
from flchain.ledger import LedgerV2, RpcBackend
from flchain.ledger.hashes import cid_to_str
from flchain.ledger.keystore import KdfParams, Keystore
from flchain.protocol import machine as m
from flchain.protocol.beacon import DevnetBeacon
from flchain.rules_file import RulesFileError, format_utc, load_federation_file
from flchain.rules_file_v2 import (
    build_deployment,
    federation_reference_v2,
    validate_federation_v2,
    validate_rules_v2,
)

from .conftest import Run, error_line

PASSWORD = "v2-operator-password"
ETHER = 10**18
ROUND, COMMIT, REVEAL, BEACON_WINDOW = 1_000, 400, 300, 100
BEACON_SEED = "flchain tests/ledger/v2"  # the twin's DevnetBeacon (tests/ledger/v2/_twin.py)
NO_RPC = "http://127.0.0.1:9"


def deployment_table(genesis_digest: str, genesis_cid: str, **changes: object) -> dict[str, object]:
    values: dict[str, object] = {
        "round_length": ROUND, "commit_window": COMMIT, "reveal_window": REVEAL,
        "beacon_window": BEACON_WINDOW, "exit_delay": 2 * ROUND, "min_notice_rounds": 1,
        "min_bond": "1ether", "genesis_digest": genesis_digest, "genesis_cid": genesis_cid,
        "beacon_devnet_seed": BEACON_SEED,
    }  # fmt: skip
    values.update(changes)
    return {k: v for k, v in values.items() if v is not None}


def v2_file(path: Path, deployment: dict[str, object], rules: dict[str, object]) -> Path:
    lines = ["protocol = 2", "", "[deployment]"]
    lines += [f"{k} = {json.dumps(v)}" for k, v in deployment.items()]
    lines += ["", "[rules]"] + [f"{k} = {json.dumps(v)}" for k, v in rules.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


# ------------------------------------------------------------------ the file, no chain


def _problems(deployment: dict[str, object], rules: dict[str, object]) -> list[str]:
    with pytest.raises(RulesFileError) as exc:
        validate_federation_v2(deployment, rules, where="f.toml")
    return list(exc.value.problems)


def test_every_bad_field_is_one_line() -> None:
    g = genesis_model()
    problems = _problems(
        deployment_table(
            g.digest, g.cid, round_length=600, exit_delay=1_000, min_bond="0.1ether",
            beacon_window=5, beacon_delay=10, colour="blue",
        ),
        {"finality_ppm": 500_000, "quorum": 2, "notice_rounds": 0, "max_payload_bytes": 20_000,
         "wrong_vote_slash_wei": "0.06ether", "aggregation": "mode"},
    )  # fmt: skip
    expected = [
        "[deployment] unknown field 'colour'",
        "[deployment] commit_window + reveal_window + beacon_window = 705 is not below "
        "round_length = 600",
        "[deployment] exit_delay = 1000 is below 2 × round_length = 1200",
        "[deployment] beacon_window = 5 is below beacon_delay + beacon_period = 13",
        "[rules] unknown field 'quorum' (v1's head count: v2 finalizes by stake, finality_ppm)",
        "[rules] finality_ppm = 500000 is out of range (allowed 500001 to 900000)",
        "[rules] notice_rounds = 0 is out of range (allowed 1 to 1000)",
        "[rules] max_payload_bytes = 20000 is out of range (allowed 1 to 16384)",
        "[rules] aggregation = 'mode' is not one of mean_equal (0)",
        "[rules] penalty_slash_wei + wrong_vote_slash_wei = 160000000000000000 wei is above the "
        "deployment's min_bond = 100000000000000000 wei",
    ]
    for text in expected:
        assert sum(text in p for p in problems) == 1, (text, problems)
    assert len(problems) == len(expected) + 1  # and the no-reveal half of the slash cap
    assert all(p.startswith("f.toml: ") for p in problems)


def test_beacon_key_and_genesis_are_checked() -> None:
    g = genesis_model()
    base = deployment_table(g.digest, g.cid, beacon_devnet_seed=None)
    missing = _problems(base, {})
    assert any("beacon_public_key is missing" in p for p in missing)
    assert any("beacon_genesis is missing" in p for p in missing)
    not_a_point = "0x" + "ab" * 48
    bad = _problems(
        {**base, "beacon_public_key": not_a_point, "beacon_genesis": 0, "beacon_period": 3}, {}
    )
    assert bad == [f"f.toml: [deployment] beacon_public_key = {not_a_point} is not a point of "
                   "BLS12-381 G1's prime subgroup"]  # fmt: skip
    other = genesis_model(seed=1)
    mixed = _problems(deployment_table(g.digest, other.cid), {})
    assert mixed == [f"f.toml: [deployment] genesis_cid = {other.cid} names other bytes than "
                     f"genesis_digest = {g.digest} (a raw CID carries the content's sha256)"]  # fmt: skip
    key = DevnetBeacon(b"a real chain's key").public_key
    spec, _ = validate_federation_v2(
        {**base, "beacon_public_key": "0x" + key.hex(), "beacon_genesis": 100,
         "beacon_period": 30}, {}, where="f.toml",
    )  # fmt: skip
    d = build_deployment(spec, 1_000)
    assert (d.beacon_public_key, d.beacon_genesis, d.beacon_period) == (key, 100, 30)
    with pytest.raises(RulesFileError, match=r"beacon_genesis = 5000 .* is after round 0's reveal"):
        build_deployment(replace(spec, beacon_genesis=5_000), 1_000)


def test_docs_carry_the_v2_reference() -> None:
    text = (Path(__file__).parents[2] / "docs" / "deploy.md").read_text()
    start, end = "<!-- rules-v2-reference:start -->\n", "<!-- rules-v2-reference:end -->"
    block = text.split(start, 1)[1].split(end, 1)[0]
    assert block == federation_reference_v2(), "run scripts/settings_reference.py"


def test_a_bad_v2_file_is_refused_before_the_network(flchain: Run, tmp_path: Path) -> None:
    g = genesis_model()
    path = v2_file(
        tmp_path / "fed.toml", deployment_table(g.digest, g.cid, min_bond=0),
        {"finality_ppm": 1_000_000},
    )  # fmt: skip
    result = flchain("chain", "deploy", "--rules", str(path), "--wallet", "gov", "--rpc", NO_RPC)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    errors = [x for x in result.stderr.splitlines() if x.startswith("error:")]
    assert len(errors) == 2, result.stderr
    assert "[deployment] min_bond = 0 is out of range" in errors[0]
    assert "[rules] finality_ppm = 1000000 is out of range" in errors[1]
    quorum = flchain("chain", "deploy", "--rules", str(v2_file(tmp_path / "ok.toml",
                     deployment_table(g.digest, g.cid), {})), "--quorum", "2", "--rpc", NO_RPC,
                     "--wallet", "gov")  # fmt: skip
    assert "--quorum is a protocol v1 rule" in error_line(quorum)


# ------------------------------------------------------------------ on anvil


@dataclass
class Operator:
    """The CLI against one anvil, every wallet in one data folder (pbkdf2: fast keystores)."""

    flchain: Run
    backend: RpcBackend
    data_dir: Path
    contract: str | None = None
    #: `$ flchain …` lines and their output, written to $V2_TRANSCRIPT when set (docs/deploy.md's
    #: protocol v2 walkthrough comes from there)
    transcript: list[str] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        env = {
            "FLCHAIN_RPC_URL": self.backend.url,
            "FLCHAIN_DATA_DIR": str(self.data_dir),
            "FLCHAIN_STORE_DIR": str(self.data_dir / "store"),
            "FLCHAIN_PASSWORD": PASSWORD,
        }
        if self.contract:
            env["FLCHAIN_CONTRACT"] = self.contract
        return env

    def _call(self, args: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
        result = self.flchain(*args, env=self.env())
        self.transcript.append("$ flchain " + " ".join(shlex.quote(a) for a in args))
        self.transcript += (result.stdout + result.stderr).rstrip("\n").splitlines()
        return result

    def run(self, *args: str) -> str:
        result = self._call(args)
        assert result.returncode == 0, (args, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr
        return result.stdout

    def refused(self, *args: str) -> str:
        """The one error line of a refused command; the wallet it names sent nothing."""
        wallet = args[args.index("--wallet") + 1]
        address = self.address(wallet)
        nonce = self.backend.w3.eth.get_transaction_count(address)
        line = error_line(self._call(args))
        assert self.backend.w3.eth.get_transaction_count(address) == nonce
        return line

    def wallet(self, name: str, ether: int = 100) -> str:
        address = Keystore(self.data_dir / "keystores", kdf=KdfParams.fast()).create(name, PASSWORD)
        self.backend.fund(address, ether * ETHER)
        return address

    def address(self, name: str) -> str:
        return Keystore(self.data_dir / "keystores").find(name).address

    def account(self, name: str) -> object:
        return Keystore(self.data_dir / "keystores").unlock(name, PASSWORD)

    def deploy(self, path: Path, *extra: str) -> LedgerV2:
        result = self._call(("chain", "deploy", "--rules", str(path), "--wallet", "gov", *extra))
        assert result.returncode == 0, (result.stdout, result.stderr)
        assert (
            "Traceback" not in result.stderr
            and "warning: deploying protocol v1" not in result.stderr
        )
        self.contract = result.stdout.split()[1]
        return LedgerV2.connect(self.backend, self.contract)


@pytest.fixture
def op(flchain: Run, anvil: AnvilProcess, tmp_path: Path) -> Iterator[Operator]:
    backend = RpcBackend(anvil.url, kind="anvil")
    operator = Operator(flchain, backend, tmp_path / "data")
    yield operator
    if os.environ.get("V2_TRANSCRIPT"):
        with Path(os.environ["V2_TRANSCRIPT"]).open("a", encoding="utf-8") as out:
            out.write("\n".join(operator.transcript) + "\n\n")


def _t0(op: Operator) -> int:
    return op.backend.latest_timestamp() + 300


@dataclass
class _Daemon:
    """`flchain node run` as a child process in its own session, its output in `log`."""

    process: subprocess.Popen[bytes]
    log: Path

    def tail(self) -> str:
        return self.log.read_text()[-3000:]

    def wait_until(self, seen: Callable[[], bool], what: object, timeout: float = 240) -> None:
        """Poll `seen` each second while the daemon lives; fail with the log's tail after
        `timeout` seconds or when the daemon exits."""
        deadline = time.monotonic() + timeout
        while not seen():
            assert self.process.poll() is None, self.tail()
            assert time.monotonic() < deadline, (what, self.tail())
            time.sleep(1)


@contextmanager
def _node_run(op: Operator, log: Path, *args: str) -> Iterator[_Daemon]:
    """Start `flchain node run ARGS` with the operator's environment only (no FLCHAIN_* of the
    test process); on leaving, SIGTERM must stop it cleanly (exit 0)."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(Path(sys.executable).with_name("flchain")), "node", "run", *args],
            env={**{k: v for k, v in os.environ.items() if not k.startswith("FLCHAIN_")}, **op.env()},
            stdout=out, stderr=out, start_new_session=True,
        )  # fmt: skip
        try:
            yield _Daemon(process, log)
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            assert process.wait(timeout=60) == 0


@pytest.mark.anvil
def test_operator_path_v2(op: Operator, tmp_path: Path) -> None:
    gov = op.wallet("gov")
    nodes = [op.wallet(f"node-{i}") for i in (1, 2, 3)]
    made = op.run("chain", "genesis")
    genesis = dict(x.split(" = ", 1) for x in made.splitlines() if " = " in x)
    fed = v2_file(
        tmp_path / "fed.toml",
        deployment_table(json.loads(genesis["genesis_digest"]), json.loads(genesis["genesis_cid"])),
        {"notice_rounds": 2, "emission_wei": "0.5ether", "finality_ppm": 666_666},
    )
    past = op.refused("chain", "deploy", "--rules", str(fed), "--wallet", "gov", "--t0",
                      "2020-01-01T00:00:00Z")  # fmt: skip
    assert "--t0 = 1577836800 (2020-01-01T00:00:00Z) is in the past" in past
    ledger = op.deploy(fed, "--t0", str(_t0(op)))
    assert ledger.governor() == gov and ledger.protocol_version() == 2
    assert "is not an active node" in error_line(op.flchain("node", "run", "--wallet", "node-1",
                                                            env=op.env()))  # fmt: skip
    d = ledger.deployment()
    assert (d.round_length, d.min_bond, d.min_notice_rounds) == (ROUND, ETHER, 1)
    assert d.beacon_public_key == DevnetBeacon(BEACON_SEED.encode()).public_key

    assert "the pool holds 3000000000000000000 wei" in op.run("chain", "fund-pool", "--amount",
                                                               "3", "--wallet", "gov")  # fmt: skip
    for i in (1, 2, 3):
        out = op.run("node", "register", "--wallet", f"node-{i}", "--bond", str(ETHER))
        assert f"as node #{i - 1} with bond {ETHER} wei; in the frozen set from round 0" in out
    assert "AlreadyRegistered(node=" in op.refused(
        "node", "register", "--wallet", "node-1", "--bond", str(ETHER)
    )
    op.wallet("poor")
    assert "BondTooSmall(bond=5, minBond=1000000000000000000) (pass --bond" in op.refused(
        "node", "register", "--wallet", "poor", "--bond", "5"
    )
    listed = json.loads(op.run("chain", "nodes", "--json"))
    assert [(n["node"], n["bond_wei"], n["stake_this_round_wei"]) for n in listed] == [
        (a, ETHER, ETHER) for a in nodes
    ]

    # a rule change: the notice of 2 rounds makes round 2 the earliest (before round 0 starts,
    # effective(now) = 0); it takes effect there and not before
    change = tmp_path / "change.toml"
    change.write_text('[rules]\nfinality_ppm = 800000\nemission_wei = "0.25ether"\n')
    early = op.refused("chain", "rules", "schedule", "--rules", str(change), "--round", "1",
                       "--wallet", "gov")  # fmt: skip
    assert "--round 1 is inside the notice period" in early and "earliest round is 2" in early
    assert "node-1" in op.refused("chain", "rules", "schedule", "--rules", str(change),
                                  "--wallet", "node-1")  # fmt: skip
    out = op.run("chain", "rules", "schedule", "--rules", str(change), "--wallet", "gov")
    assert "scheduled rules v1 from round 2" in out and "finality_ppm 666666 → 800000" in out
    out = op.run("chain", "rules", "cancel", "--wallet", "gov")
    assert "cancelled rules v1" in out and ledger.rules_version_count() == 1
    assert "nothing to cancel" in op.refused("chain", "rules", "cancel", "--wallet", "gov")
    op.run("chain", "rules", "schedule", "--rules", str(change), "--round", "3", "--wallet", "gov")
    versions = json.loads(op.run("chain", "rules", "list", "--json"))
    assert [(v["effective_round"], v["state"]) for v in versions["versions"]] == [
        (0, "in force"), (3, "pending"),
    ]  # fmt: skip
    assert versions["versions"][1]["starts"] == {
        "unix": d.start(3), "utc": format_utc(d.start(3))
    }  # fmt: skip
    assert "v1  from round 3, starts" in op.run("chain", "rules", "list")
    exported = tmp_path / "exported.toml"
    exported.write_text(op.run("chain", "rules", "export", "--round", "0"))
    again = load_federation_file(exported)
    assert again.protocol == 2
    assert validate_rules_v2(
        again.rules, min_notice_rounds=1, min_bond=ETHER
    ) == ledger.rules_for_round(0)

    # the governor role in two steps: nothing moves until the new governor accepts
    out = op.run("chain", "governance", "transfer", nodes[0], "--wallet", "gov")
    assert f"{nodes[0]} is the pending governor" in out
    doc = json.loads(op.run("chain", "info", "--json"))
    assert (doc["governor"], doc["pending_governor"]) == (gov, nodes[0])
    assert "is not the pending governor" in op.refused(
        "chain", "governance", "accept", "--wallet", "node-2"
    )
    op.run("chain", "governance", "accept", "--wallet", "node-1")
    assert ledger.governor() == nodes[0] and ledger.pending_governor() == m.ZERO_ADDRESS
    assert "is not the governor" in op.refused("chain", "pause", "--duration", "60",
                                               "--wallet", "gov")  # fmt: skip

    # pause: round 0 starts inside it; unpause ends it early (round 0 stays paused)
    out = op.run("chain", "pause", "--duration", "600", "--wallet", "node-1")
    assert "from round 0" in out
    assert json.loads(op.run("chain", "info", "--json"))["pause"]["active"] is True
    assert "PauseNotAllowed" in op.refused("chain", "pause", "--duration", "60",
                                           "--wallet", "node-1")  # fmt: skip
    op.run("chain", "unpause", "--wallet", "node-1")
    assert "NotPaused()" in op.refused("chain", "unpause", "--wallet", "node-1")
    assert json.loads(op.run("chain", "info", "--json"))["pause"]["active"] is False

    # the change takes effect from round 3, after its notice
    for round, finality in ((2, 666_666), (3, 800_000)):
        op.backend.set_time(d.start(round) + 5)
        doc = json.loads(op.run("chain", "info", "--json"))
        assert doc["now"]["round"] == round and doc["now"]["phase"] == "COMMIT"
        assert doc["round"]["rules"]["finality_ppm"] == finality
    assert [v["state"] for v in doc["rule_versions"]] == ["past", "in force"]
    assert doc["accounts"]["pool_wei"] == 3 * ETHER and doc["accounts"]["bonds_wei"] == 3 * ETHER
    assert doc["round"]["phase"] == "COMMIT" and doc["round"]["tally"]["results"] == []
    assert [n["status"] for n in doc["nodes"]] == ["ACTIVE"] * 3
    assert "rules of round 3:" in op.run("chain", "info")

    # a node leaves: too early is the contract's error, by name
    out = op.run("node", "exit", "--wallet", "node-3")
    assert "out of the frozen set from round 4" in out
    line = op.refused("node", "withdraw", "--wallet", "node-3")
    assert "contract refused withdraw: WithdrawalTooEarly(withdrawableAt=" in line
    assert "nothing was sent" in line
    assert "NotExiting" in op.refused("node", "withdraw", "--wallet", "node-2")
    assert "NothingOwed()" in op.refused("node", "collect", "--wallet", "node-2")
    out = op.run("node", "add-bond", "--amount", "0.5ether", "--wallet", "node-2")
    assert "bond 1500000000000000000 wei, counted from round 4" in out


# ------------------------------------------------------------------ settle from the store


@pytest.mark.anvil
def test_settle_from_the_manifest_in_the_store(op: Operator, tmp_path: Path) -> None:
    """Three nodes registered from the CLI play round 0 through `LedgerV2` (as their daemons
    do: commit, reveal with payload, beacon, the v2 merge of the ledger's record, attest,
    finalize); the manifest goes to the store; `flchain node settle` applies each leaf."""
    sys.path.insert(0, str(Path(__file__).parents[1] / "ledger" / "v2"))
    from _twin import BEACON, base_weights, benchmark, make_update

    from flchain.ledger.events_v2 import Settled
    from flchain.merge.v2 import PriorRound, merge_v2
    from flchain.protocol import digests as dg
    from flchain.storage import LocalStore

    op.wallet("gov")
    names = ["node-1", "node-2", "node-3"]
    nodes = [op.wallet(n) for n in names]
    store = LocalStore(op.data_dir / "store")
    base = base_weights()
    cid = store.put(base)
    fed = v2_file(
        tmp_path / "fed.toml", deployment_table("0x" + dg.sha256(base).hex(), cid),
        {"emission_wei": "1ether", "fee_ppm": 1_000, "similarity_threshold_ppm": 990_000},
    )  # fmt: skip
    gov = op.deploy(fed, "--t0", str(_t0(op)))
    op.run("chain", "fund-pool", "--amount", "5", "--wallet", "gov")
    for n in names:
        op.run("node", "register", "--wallet", n, "--bond", str(ETHER))
    assert "no final round yet" in op.refused("node", "settle", "--wallet", "node-1")

    signers = [gov.with_account(op.account(n)) for n in names]  # type: ignore[arg-type]
    updates = [make_update(0, seed=10 + i, node=s._me()) for i, s in enumerate(signers)]
    gov.goto(0, m.Phase.COMMIT, 5)
    signers[0].open_round(0)
    for s, u in zip(signers, updates, strict=True):
        s.commit(0, s.commitment(0, u.digest, u.base_digest, u.roi_bps, u.salt))
    gov.goto(0, m.Phase.REVEAL, 5)
    for s, u in zip(signers, updates, strict=True):
        s.reveal(*u.reveal_args())
    gov.goto(0, m.Phase.BEACON, 5)
    signers[0].post_beacon(0, BEACON.sign(gov.beacon_round(0)))
    gov.goto(0, m.Phase.ATTEST, 5)
    merged = merge_v2(gov.round_record_v2(0), base, benchmark(), PriorRound.genesis())
    assert store.put(merged.manifest) == cid_to_str(merged.result.manifest_cid)
    for s in signers:
        s.attest(0, merged.result)
    attested = json.loads(op.run("chain", "attestations", "--round", "0", "--json"))
    [result] = attested["results"]
    assert result["tally_wei"] == 3 * ETHER and result["final"] is False
    assert [a["node"] for a in result["attesters"]] == nodes
    signers[0].finalize(0, merged.result)
    assert "FINAL result" in op.run("chain", "attestations", "--round", "0")

    gov.goto(1, m.Phase.COMMIT, 5)
    balance = op.backend.w3.eth.get_balance(nodes[0])
    out = op.run("node", "settle", "--wallet", "node-1")
    earned = merged.settlement.earned.get(nodes[0], 0)
    assert earned > 0 and f"settled {nodes[0]} through round 0" in out
    assert f"earned {earned} wei in all (`flchain node collect` pays it)" in out
    assert op.backend.w3.eth.get_balance(nodes[0]) < balance  # settle paid the gas, no reward
    out = op.run("node", "collect", "--wallet", "node-1")
    assert out.startswith(f"collected {earned} wei to {nodes[0]}")
    assert op.backend.w3.eth.get_balance(nodes[0]) > balance
    assert "NothingOwed()" in op.refused("node", "collect", "--wallet", "node-1")
    # anyone may apply another node's leaf; that node collects it
    out = op.run("node", "settle", "--node", nodes[1], "--wallet", "node-3")
    assert f"settled {nodes[1]} through round 0" in out
    assert "is settled through round 0" in op.refused("node", "settle", "--wallet", "node-1")
    views = json.loads(op.run("chain", "nodes", "--json"))
    assert [v["settled_through_round"] for v in views] == [0, 0, None]
    assert (views[0]["claimed_wei"], views[0]["uncollected_wei"]) == (earned, 0)
    assert (views[1]["claimed_wei"], views[1]["uncollected_wei"]) == (
        0,
        merged.settlement.earned.get(nodes[1], 0),
    )
    settled = gov.events(Settled)
    assert [e.node for e in settled] == nodes[:2]


# ------------------------------------------------------------------ migration from v1


@pytest.mark.anvil
def test_genesis_from_a_verified_v1_round(op: Operator, tmp_path: Path) -> None:
    """A v1 round that audits as verified becomes the v2 genesis; one that does not, or a round
    not finalized, or a v2 contract as the source, is refused and nothing is sent."""
    from flchain.simulate.adversaries import tamper_shift_weights
    from flchain.storage import LocalStore
    from flchain.testing import RoundDriver, RoundPlan

    gov = op.wallet("gov")
    store = LocalStore(op.data_dir / "store")
    v1 = RoundDriver.deploy(op.backend, store, 3, seed=11)
    n = v1.addresses
    v1.play_round(0, RoundPlan(attesters=[n[0]]))
    v1.play_round(1, RoundPlan(attesters=[n[0], n[1]], tampers={n[1]: tamper_shift_weights}))
    g = genesis_model()
    fed = v2_file(tmp_path / "fed.toml", deployment_table(g.digest, g.cid), {})
    plain = {
        k: v for k, v in deployment_table(g.digest, g.cid).items() if not k.startswith("genesis")
    }
    migrating = v2_file(tmp_path / "migrate.toml", plain, {})
    source = ["--genesis-from-v1", v1.gov.address, "--v1-deployment-block", str(v1.gov.from_block)]

    clash = op.flchain("chain", "deploy", "--rules", str(fed), *source, "--round", "0",
                       "--wallet", "gov", env=op.env())  # fmt: skip
    assert "genesis_digest is set, but --genesis-from-v1" in clash.stderr
    conflict = op.refused("chain", "deploy", "--rules", str(migrating), *source, "--round", "1",
                          "--wallet", "gov")  # fmt: skip
    assert "v1 round 1 of" in conflict and "does not audit as verified (conflict" in conflict
    assert "has no finalized model" in op.refused(
        "chain", "deploy", "--rules", str(migrating), *source, "--round", "5", "--wallet", "gov"
    )
    out = op.run("chain", "deploy", "--rules", str(migrating), *source, "--round", "0",
                 "--wallet", "gov", "--t0", str(_t0(op)))  # fmt: skip
    assert f"v1 round 0 of {v1.gov.address} audits as verified" in out
    ledger = LedgerV2.connect(op.backend, out.split("contract  ")[1].split()[0])
    final = v1.gov.finalized(0)
    assert final is not None
    d = ledger.deployment()
    assert "0x" + d.genesis_digest.hex() == final.digest
    assert (d.source_chain_id, d.source_contract, d.source_round) == (31337, v1.gov.address, 0)
    assert ledger.governor() == gov
    doc = json.loads(op.run("chain", "info", "--json", "--contract", ledger.address))
    assert doc["deployment"]["genesis_source"] == {
        "chain_id": 31337, "contract": v1.gov.address, "round": 0
    }  # fmt: skip
    assert doc["latest_final"]["merged_cid"] == final.cid
    v2_as_source = op.refused(
        "chain", "deploy", "--rules", str(migrating), "--genesis-from-v1", ledger.address,
        "--round", "0", "--wallet", "gov",
    )  # fmt: skip
    assert "is a protocol v2 contract" in v2_as_source
    v1_only = op.refused(
        "chain", "rules", "cancel", "--contract", v1.gov.address, "--wallet", "gov"
    )
    assert "is a protocol v1 contract (FLChain)" in v1_only


# ------------------------------------------------------------------ the daemon on v2


@pytest.mark.anvil
@pytest.mark.slow
def test_node_run_drives_a_v2_round(op: Operator, tmp_path: Path) -> None:
    """`flchain node run` on a FLChainV2 contract runs the v2 runner: one node holding all the
    stake commits, reveals its payload, posts the devnet beacon, attests and finalizes round 0
    as chain time moves through the phases; a seed that is not the contract's is refused."""
    from flchain.ledger.events_v2 import BeaconPosted, Committed, Finalized, Revealed

    op.wallet("gov")
    node = op.wallet("node-1")
    made = op.run("chain", "genesis")
    genesis = dict(x.split(" = ", 1) for x in made.splitlines() if " = " in x)
    fed = v2_file(
        tmp_path / "fed.toml",
        deployment_table(json.loads(genesis["genesis_digest"]), json.loads(genesis["genesis_cid"])),
        {"emission_wei": "0.1ether"},
    )
    ledger = op.deploy(fed, "--t0", str(_t0(op)))
    op.run("chain", "fund-pool", "--amount", "1", "--wallet", "gov")
    op.run("node", "register", "--wallet", "node-1", "--bond", str(ETHER))
    wrong = op.flchain("node", "run", "--wallet", "node-1", "--beacon-devnet-seed", "other",
                       env=op.env())  # fmt: skip
    assert "that seed's key is not the beacon key" in error_line(wrong)

    args = ("--wallet", "node-1", "--poll", "0.5", "--beacon-devnet-seed", BEACON_SEED)
    with _node_run(op, tmp_path / "node.log", *args) as daemon:
        for phase, kind in (
            (m.Phase.COMMIT, Committed), (m.Phase.REVEAL, Revealed),
            (m.Phase.BEACON, BeaconPosted), (m.Phase.ATTEST, Finalized),
        ):  # fmt: skip
            ledger.goto(0, phase, 5)
            daemon.wait_until(lambda kind=kind: bool(ledger.events(kind, 0)), phase)
        assert [e.node for e in ledger.events(Committed, 0)] == [node]
        assert ledger.latest().round_plus_one == 1
    doc = json.loads(op.run("chain", "info", "--json", "--round", "0"))
    assert doc["round"]["phase"] == "ATTEST" and doc["round"]["final"] is True
    assert doc["latest_final"]["round"] == 0


@pytest.mark.anvil
@pytest.mark.slow
def test_node_run_starts_for_an_exiting_node_and_reveals(op: Operator, tmp_path: Path) -> None:
    """A node that requested exit stays in the current round's frozen set and must still reveal
    what it committed (else it is slashed for not revealing) and settle: `flchain node run`
    restarted in that state runs it. It used to refuse to start ("not an active node") unless
    the status was ACTIVE, so a reboot during the exit delay cost an honest node the no-reveal
    slash."""
    from flchain.ledger.events_v2 import Committed, Revealed

    op.wallet("gov")
    node = op.wallet("node-1")
    op.wallet("node-2")
    made = op.run("chain", "genesis")
    genesis = dict(x.split(" = ", 1) for x in made.splitlines() if " = " in x)
    fed = v2_file(
        tmp_path / "fed.toml",
        deployment_table(json.loads(genesis["genesis_digest"]), json.loads(genesis["genesis_cid"])),
        {"emission_wei": "0.1ether"},
    )
    ledger = op.deploy(fed, "--t0", str(_t0(op)))
    op.run("chain", "fund-pool", "--amount", "1", "--wallet", "gov")
    for name in ("node-1", "node-2"):
        op.run("node", "register", "--wallet", name, "--bond", str(ETHER))
    ledger.goto(0, m.Phase.COMMIT, 5)
    assert "exit requested" in op.run("node", "exit", "--wallet", "node-1")
    assert ledger.node_view(node).status == m.Status.EXITING and ledger.stake_of(node, 0) == ETHER

    with _node_run(op, tmp_path / "node.log", "--wallet", "node-1", "--poll", "0.5") as daemon:
        for phase, kind in ((m.Phase.COMMIT, Committed), (m.Phase.REVEAL, Revealed)):
            if phase != m.Phase.COMMIT:
                ledger.goto(0, phase, 5)
            daemon.wait_until(
                lambda kind=kind: any(e.node == node for e in ledger.events(kind, 0)), phase
            )
