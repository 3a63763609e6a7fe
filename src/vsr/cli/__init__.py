"""Command-line entry points. Nothing imports them."""
