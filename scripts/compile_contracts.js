#!/usr/bin/env node
// Compile contracts/**/*.sol offline with the npm solc (wasm) over standard JSON.
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

// Every .sol file under contracts/, keyed by its repo-relative path with "/" separators (the
// key is the source unit name the imports resolve against), in sorted order.
function collectSources(rel, sources) {
  const entries = fs.readdirSync(path.join(root, rel), { withFileTypes: true });
  for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const child = `${rel}/${entry.name}`;
    if (entry.isDirectory()) collectSources(child, sources);
    else if (entry.name.endsWith(".sol")) {
      sources[child] = { content: fs.readFileSync(path.join(root, child), "utf8") };
    }
  }
  return sources;
}

function main() {
  const sources = collectSources("contracts", {});
  const input = { language: "Solidity", sources, settings: SETTINGS };
  const output = JSON.parse(solc.compile(JSON.stringify(input)));
  // Synchronous: an async stdout write may be cut off when a pipe is slow and node exits.
  fs.writeSync(1, JSON.stringify({ version: solc.version(), input, output }));
  const errors = (output.errors || []).filter((e) => e.severity === "error");
  process.exitCode = errors.length ? 1 : 0;
}

main();
