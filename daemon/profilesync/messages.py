"""Every French message a référent can read, in one catalogue so the wording stays consistent.

Messages that take values are functions; fixed ones are constants. Tests assert these
exact texts, and `docs/guide-referent.md` explains each one. Sections are owned by the
module that emits them; keep each message short, say what is wrong and how to fix it.
"""

from __future__ import annotations

# ---------------------------------------------------------------------------------------------
# Whole-file rejections (csvfile.py): the report's single row, Ligne 0.
# ---------------------------------------------------------------------------------------------

# (end of whole-file rejections)


# ---------------------------------------------------------------------------------------------
# Stateless rules (identifiers.py, rules.py): one line, no database.
# ---------------------------------------------------------------------------------------------

# (end of stateless rules)


# ---------------------------------------------------------------------------------------------
# Stateful rules (store.py, importer.py): the database, authorization, passwords on M.
# ---------------------------------------------------------------------------------------------

# (end of stateful rules)


# ---------------------------------------------------------------------------------------------
# Inbox and daemon (inbox.py, service.py): files rejected for where or how they were dropped.
# ---------------------------------------------------------------------------------------------

# (end of inbox and daemon)
