"""Where things are: the repository layout the generator works on."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
GENERATED = ROOT / "generated"
PACKAGE = "genesys_cx_api"
TEMPLATES = Path(__file__).resolve().parent / "templates"
#: The subpackage of the models every API shares (from ``specs/shared/*.yaml``), and their banner's source.
COMMON = "common"
SHARED_SOURCE = "specs/shared/*.yaml"

#: Versions that make the output reproducible. The generator refuses to run with others.
OPENAPI_PYTHON_CLIENT_VERSION = "0.29.1"
RUFF_VERSION = "0.17.5"


def spec_files(specs: Path = SPECS) -> list[Path]:
    """The API specs: every ``*.yaml`` directly in ``specs/`` (``specs/shared`` holds parts)."""
    return sorted(p for p in specs.glob("*.yaml") if p.is_file())


def api_name(spec: Path) -> str:
    """``specs/open_media.yaml`` -> ``open_media`` (the subpackage name)."""
    return spec.stem
