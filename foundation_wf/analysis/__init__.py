"""Diagnostics built on trained runs: optimizer comparison and loss landscapes."""
