"""The accounts service's pure ledger domain: decisions over small in-memory state, no I/O.

Each `plan_*` function takes a command and the current state it needs (an account, its lots,
a hold, ...) and returns a `LedgerPlan`: the journal transactions, lot/account/hold changes and
events to persist together. Adapters write plans; `Ledger` applies them in memory as an
executable specification. See docs/ledger.md.
"""
