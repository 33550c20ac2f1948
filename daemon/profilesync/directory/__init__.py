"""The LDAP projection of the database: the tree, the connection, push, sync, reconcile.

Imports nothing of service.
"""
