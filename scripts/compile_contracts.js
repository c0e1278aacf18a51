#!/usr/bin/env node
// Compile contracts/*.sol offline with the npm solc (wasm) over standard JSON.
// Prints one JSON object on stdout: {"version": ..., "input": <standard JSON input>,
// "output": <standard JSON output>}. Settings are fixed here (and mirrored in
// flchain/ledger/compile.py and hardhat.config.js) so the bytecode is reproducible:
// no metadata hash is appended, evmVersion is explicit (0.8.37 defaults to osaka, which
// py-evm does not run).
"use strict";
const fs = require("fs");
const path = require("path");

const root = path.resolve(__dirname, "..");
const solc = require(path.join(root, "node_modules", "solc"));

const SETTINGS = {
  optimizer: { enabled: true, runs: 200 },
  evmVersion: "cancun",
  viaIR: true,
  metadata: { bytecodeHash: "none", appendCBOR: false },
  outputSelection: {
    "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object", "devdoc", "userdoc"] },
  },
};

function main() {
  const dir = path.join(root, "contracts");
  const sources = {};
  for (const name of fs.readdirSync(dir).sort()) {
    if (name.endsWith(".sol")) {
      sources[`contracts/${name}`] = { content: fs.readFileSync(path.join(dir, name), "utf8") };
    }
  }
  const input = { language: "Solidity", sources, settings: SETTINGS };
  const output = JSON.parse(solc.compile(JSON.stringify(input)));
  process.stdout.write(JSON.stringify({ version: solc.version(), input, output }));
  const errors = (output.errors || []).filter((e) => e.severity === "error");
  process.exitCode = errors.length ? 1 : 0;
}

main();
