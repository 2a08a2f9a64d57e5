"""Standalone host: runs the Functions app (function_app.py) on one machine without Azure.

Start it with `python -m standalone` (see `--help`).
"""
