"""What tests share that is not a fixture: data makers, tiny-run settings, command runners.

Tests import these by name (``from tests.helpers.runs import train_tiny``); helpers never import
the fixtures' module, so they load the same way from a test, a fixture or a child process.
"""
