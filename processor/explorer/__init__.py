"""The call explorer: "what happened to call X?".

Flow: the output topics (call-state, call-events, call-alerts; read_committed)
→ :mod:`~processor.explorer.rows` (decode) → :mod:`~processor.explorer.materialize`
(one store transaction per fetch, offsets included) → the query store
(:mod:`~processor.explorer.store`, SQLite or PostgreSQL through
:mod:`~processor.explorer.sql`) → :mod:`~processor.explorer.api` (JSON API,
web pages of :mod:`~processor.explorer.web`, ops routes).
"""
