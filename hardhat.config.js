// Hardhat 2 configuration: compiles contracts/ offline with the npm solc (wasm) and runs
// `hardhat node` on 127.0.0.1 with chain id 31337. The compiler settings mirror
// scripts/compile_contracts.js so hardhat's bytecode equals the committed artifact's.
const path = require("path");
const { subtask } = require("hardhat/config");
const { TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD } = require("hardhat/builtin-tasks/task-names");

const SOLC_VERSION = "0.8.37";

// Never download a compiler: hand hardhat the soljson.js already in node_modules.
subtask(TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD, async (args, hre, runSuper) => {
  if (args.solcVersion !== SOLC_VERSION) {
    throw new Error(`only solc ${SOLC_VERSION} is available offline (asked for ${args.solcVersion})`);
  }
  const solcPkg = require("solc/package.json");
  return {
    compilerPath: path.join(__dirname, "node_modules", "solc", "soljson.js"),
    isSolcJs: true,
    version: solcPkg.version,
    longVersion: require("solc").version(),
  };
});

/** @type import('hardhat/config').HardhatUserConfig */
module.exports = {
  solidity: {
    version: SOLC_VERSION,
    settings: {
      optimizer: { enabled: true, runs: 200 },
      evmVersion: "cancun",
      viaIR: true,
      metadata: { bytecodeHash: "none", appendCBOR: false },
    },
  },
  paths: { sources: "./contracts", cache: "./cache", artifacts: "./artifacts" },
  networks: {
    hardhat: { chainId: 31337, hardfork: "cancun" },
    localhost: { url: "http://127.0.0.1:8545", chainId: 31337 },
  },
};
