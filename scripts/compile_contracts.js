#!/usr/bin/env node
// Compile one contract and its imports offline with the npm solc (wasm) over standard JSON:
//   node scripts/compile_contracts.js [contracts/FLChain.sol | contracts/FLChainV2.sol]
// (default contracts/FLChain.sol). Prints one JSON object on stdout: {"version": ...,
// "input": <standard JSON input>, "output": <standard JSON output>}. Settings are fixed here (and mirrored in
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
    "*": {
      // the AST and immutableReferences: where each immutable sits in the runtime code (the
      // audit fills them from the Genesis event and compares the deployed code byte for byte)
      "": ["ast"],
      "*": [
        "abi", "evm.bytecode.object", "evm.deployedBytecode.object",
        "evm.deployedBytecode.immutableReferences", "devdoc", "userdoc", "storageLayout",
      ],
    },
  },
};

// The entry and every file it imports, transitively, keyed by repo-relative source unit name
// (the name imports resolve against). Only those: another contract in contracts/ (the other
// protocol version) must not change this artifact's input.
const ENTRIES = ["contracts/FLChain.sol", "contracts/FLChainV2.sol"];
const IMPORT = /^\s*import\s+(?:[^"']*\sfrom\s+)?["']([^"']+)["']\s*;/gm;

function collectSources(unit, sources) {
  if (unit in sources) return sources;
  const content = fs.readFileSync(path.join(root, unit), "utf8");
  sources[unit] = { content };
  for (const [, target] of content.matchAll(IMPORT)) {
    if (!target.startsWith(".")) throw new Error(`${unit}: only relative imports are resolved (${target})`);
    collectSources(path.posix.normalize(path.posix.join(path.posix.dirname(unit), target)), sources);
  }
  return sources;
}

function main(argv) {
  const entry = argv[0] || ENTRIES[0];
  if (!ENTRIES.includes(entry)) throw new Error(`unknown contract ${entry}: one of ${ENTRIES.join(", ")}`);
  const found = collectSources(entry, {});
  const sources = Object.fromEntries(Object.keys(found).sort().map((unit) => [unit, found[unit]]));
  const input = { language: "Solidity", sources, settings: SETTINGS };
  const output = JSON.parse(solc.compile(JSON.stringify(input)));
  // Synchronous: an async stdout write may be cut off when a pipe is slow and node exits.
  fs.writeSync(1, JSON.stringify({ version: solc.version(), input, output }));
  const errors = (output.errors || []).filter((e) => e.severity === "error");
  process.exitCode = errors.length ? 1 : 0;
}

main(process.argv.slice(2));
