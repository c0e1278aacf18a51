"""Solidity compiled with the project's npm solc; Probe.sol deployed on an in-process py-evm chain.

The digest tests call it so that every committed vector is also what Solidity computes, not
only what eth_abi computes: an encoding mistake made the same way in the Python and the
vectors (an int32 padded as unsigned, a bytes20 right-aligned) fails here.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path
from typing import Any

from web3 import EthereumTesterProvider, Web3

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
SOURCE = HERE / "Probe.sol"

_COMPILE = """
const solc = require(process.argv[1]);
let input = "";
process.stdin.on("data", (d) => (input += d));
process.stdin.on("end", () => {
  const out = solc.compile(input);
  require("fs").writeSync(1, out);
});
"""


def compile_solidity(path: Path, contract: str) -> dict[str, Any]:
    """{"abi", "evm": {"bytecode": …}} of `contract` in the Solidity file `path`."""
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node is needed to run the npm solc compiler")
    standard = {
        "language": "Solidity",
        "sources": {path.name: {"content": path.read_text()}},
        "settings": {
            "evmVersion": "cancun",
            "optimizer": {"enabled": True, "runs": 200},
            "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object"]}},
        },
    }
    proc = subprocess.run(
        [node, "-e", _COMPILE, str(REPO / "node_modules" / "solc")],
        input=json.dumps(standard),
        capture_output=True,
        text=True,
        check=True,
    )
    output = json.loads(proc.stdout)
    errors = [e["formattedMessage"] for e in output.get("errors", []) if e["severity"] == "error"]
    if errors:
        raise RuntimeError(f"{path.name}: " + errors[0])
    result: dict[str, Any] = output["contracts"][path.name][contract]
    return result


@lru_cache(maxsize=1)
def probe() -> Any:
    """The deployed probe (a web3 contract), one per test process."""
    compiled = compile_solidity(SOURCE, "Probe")
    w3 = Web3(EthereumTesterProvider())
    w3.eth.default_account = w3.eth.accounts[0]
    factory = w3.eth.contract(abi=compiled["abi"], bytecode=compiled["evm"]["bytecode"]["object"])
    receipt = w3.eth.wait_for_transaction_receipt(factory.constructor().transact())
    return w3.eth.contract(address=receipt.contractAddress, abi=compiled["abi"])
