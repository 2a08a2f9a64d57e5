"""Repository scans: GxP traceability of Markdown documents with YAML front matter, read from
Git objects at a commit (REQ -> US -> SPEC -> TC), checked by the rules of rules/catalogue.yaml.

The engine is `engine.RepositoryEngine`; this package imports nothing, so that reading the
typed target (`target.py`) does not load Git.
"""
