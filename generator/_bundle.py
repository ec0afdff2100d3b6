"""Bundle a spec and the files it references into one self-contained OpenAPI document.

openapi-python-client silently drops ``$ref`` to other files, so every external reference is
copied into the document's own ``components`` under the same name and the reference rewritten to
a local one. Remote (``http://``) references and name clashes are errors, never guesses.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

#: PyYAML's LibYAML-backed safe loader when built with it (about 10x faster than the pure-Python
#: one on these specs, same result), else the pure-Python ``SafeLoader``.
_SafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class SpecError(Exception):
    """A spec cannot be used; the message names the file, the location and the reason."""


def load_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_SafeLoader)
    except yaml.YAMLError as exc:
        raise SpecError(f"{path.name}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise SpecError(f"{path.name}: the top level must be a mapping")
    return data


def bundle(path: Path) -> dict[str, Any]:
    """Return the document at *path* with every cross-file ``$ref`` inlined."""
    bundler = _Bundler(path.resolve())
    return bundler.run()


class _Bundler:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.docs: dict[Path, dict[str, Any]] = {root: load_yaml(root)}
        self.doc = copy.deepcopy(self.docs[root])
        # (file, pointer) -> local pointer, and local name -> origin, to detect clashes.
        self.imported: dict[tuple[Path, str], str] = {}
        self.origin: dict[tuple[str, str], tuple[Path, str]] = {}

    def run(self) -> dict[str, Any]:
        for kind, entries in (self.doc.get("components") or {}).items():
            if isinstance(entries, dict):
                for name in entries:
                    self.origin[(kind, name)] = (self.root, f"/components/{kind}/{name}")
        self._walk(self.doc, self.root, "#")
        return self.doc

    def _walk(self, node: Any, base: Path, where: str) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str):
                node["$ref"] = self._rewrite(ref, base, where)
            for key, value in list(node.items()):
                if key != "$ref":
                    self._walk(value, base, f"{where}/{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                self._walk(value, base, f"{where}/{i}")

    def _rewrite(self, ref: str, base: Path, where: str) -> str:
        if ref.startswith(("http://", "https://", "//")):
            raise SpecError(f"{self.root.name}: {where}: remote $ref {ref!r} is not supported")
        file_part, _, pointer = ref.partition("#")
        target = (base.parent / file_part).resolve() if file_part else base
        if target == self.root:
            return "#" + pointer
        return self._import(target, pointer, ref, where)

    def _import(self, target: Path, pointer: str, ref: str, where: str) -> str:
        key = (target, pointer)
        if key in self.imported:
            return self.imported[key]
        parts = pointer.strip("/").split("/")
        if len(parts) != 3 or parts[0] != "components":
            raise SpecError(f"{self.root.name}: {where}: $ref {ref!r} must point at /components/<kind>/<name>")
        _, kind, name = parts
        if not target.is_file():
            raise SpecError(f"{self.root.name}: {where}: $ref {ref!r}: file {target.name} not found")
        doc = self.docs.setdefault(target, load_yaml(target))
        try:
            value = doc["components"][kind][name]
        except (KeyError, TypeError):
            raise SpecError(f"{self.root.name}: {where}: $ref {ref!r}: {target.name} has no {pointer}") from None
        previous = self.origin.get((kind, name))
        if previous is not None and previous != key:
            raise SpecError(
                f"{self.root.name}: {where}: $ref {ref!r} would import {kind} {name!r}, "
                f"but {previous[0].name} already defines one"
            )
        local = f"#/components/{kind}/{name}"
        self.imported[key] = local
        self.origin[(kind, name)] = key
        copied = copy.deepcopy(value)
        self.doc.setdefault("components", {}).setdefault(kind, {})[name] = copied
        self._walk(copied, target, f"{target.name}#{pointer}")
        return local
