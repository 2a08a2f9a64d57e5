"""scanctl: the command-line client of the scan service's HTTP API, for people and pipelines.

It talks to the service over HTTP only and imports nothing of the service itself, so it
installs on its own (`pip install .`) with one dependency, rich (for drawing).
"""

__version__ = "0.1.0"
