"""The daemon: inbox, claims, archives, scheduled jobs, status; everything that runs unattended."""
