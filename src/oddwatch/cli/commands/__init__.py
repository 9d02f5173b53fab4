"""One module per subcommand.

Each exposes ``NAME``, ``HELP``, ``EPILOG``, ``add_arguments`` and ``run``.
"""
