"""One module per subcommand; each exposes ``NAME``, ``HELP``, ``EPILOG``, ``add_arguments`` and ``run``."""
