"""flchain.devnet — local chains, a content-store daemon and federation set-up.

- `process`: free ports, `exclusive_lock` (one process at a time) and `spawn`: every server
  below runs guarded — SIGINT/SIGTERM to this process stop it (one stderr line each), and it
  dies with this process even on SIGKILL (parent-death signal and the `_watchdog` process),
  unless started detachable and released.
- `anvil` / `hardhat`: `AnvilProcess`, `HardhatProcess` (127.0.0.1, readiness wait, clean stop,
  optional log file + `detachable`/`detach()` so a process outlives the command that started it).
- `ipfsd`: `IpfsDaemon`, a strictly offline js-ipfs daemon.
- `federation`: genesis model, devnet rules, deployment, deterministic wallets, funding.
- `journal`: the embedded chain's replayable journal (`flchain simulate`).
- `manager`: `devnet_up` / `devnet_down` / `devnet_status`, behind `flchain devnet up|down|status`.

Nothing is imported here, so `import flchain.devnet.anvil` stays light.
"""
