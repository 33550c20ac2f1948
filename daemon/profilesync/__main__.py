"""`python -m profilesync` is the same as the `profilesync` console script."""

from profilesync.cli import main

main()
