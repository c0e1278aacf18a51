"""flchain.audit — verify any merge from the on-chain record alone (docs/audit.md).

`core.audit` / `core.audit_round` (rebuild, re-fetch, history checks), `judge` (re-merge, one
`check_*` per rule, the verdict derived once from the findings), `report` (verdicts, exit
codes), `render` (terminal, JSON, HTML), `source` (chain + store from RPC, profile or run folder).
"""
