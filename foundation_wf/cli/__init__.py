"""The ``fwf`` command line."""
