"""``python -m spotify_audiences``: the same as the ``spotify-audiences`` command."""

from spotify_audiences.cli import main

main()
