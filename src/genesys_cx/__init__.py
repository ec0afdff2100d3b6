"""genesys-cx: the Python SDK for the Genesys Multicloud CX web APIs."""

from ._version import __version__

__all__ = ["__version__"]
