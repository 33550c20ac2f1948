"""The system of record: tables, the stateful rules, runs and their lines, registration, exports.

Imports nothing of directory or service.
"""
