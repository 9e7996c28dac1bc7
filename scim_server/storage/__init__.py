"""Storage: the tables, the SCIM schema description, and the statements every door runs.

Its parts: ``models``/``domain_tables``/``hub_tables`` (the tables), ``schema`` (the SCIM schema
description), ``scope`` (one account's rows), ``mapping`` (where each SCIM attribute lives in
SQL), ``filters`` (the filter compiler), ``dialects`` (SQLite and PostgreSQL apart), ``conversion``
(rows ↔ SCIM), ``reads`` (prepared reads), ``keyset`` (cursor paging), ``records`` (user and group
writes), ``members`` (membership rows), ``events`` (the events outbox and its
per-account positions), ``scim_storage`` (scim2-server's ``ScimStorage``). It
writes, never commits, and decides no rule.
"""
