"""Build ``generated/genesys_cx_api`` from the OpenAPI files in ``specs/``.

``python -m generator`` bundles every spec (cross-file ``$ref`` inlined), validates it, runs
openapi-python-client (pinned) in-process with our templates, post-processes the output
(banner, multipart boundary, status codes), formats it with pinned ruff in isolated mode and
checks that every operation and component schema reached the output. ``--check`` regenerates
into a temporary folder and reports drift. See ARCHITECTURE.md.
"""
