"""profilesync: référents' CSV files of staff profiles → profile database → LDAP directory."""

__version__ = "0.1.0"
