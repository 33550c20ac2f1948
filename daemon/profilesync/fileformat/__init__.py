"""Reading and judging a file: bytes to rows, rows to lines or problems, outcomes to reports.

Pure: imports nothing of store, directory or service.
"""
