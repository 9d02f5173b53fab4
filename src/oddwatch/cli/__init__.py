"""The ``oddwatch`` command line: a thin shell over the library."""
