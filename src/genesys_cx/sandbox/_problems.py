"""Short problem messages from jsonschema errors: the place and the broken rule, never the value.

A message names where the problem is (``header x-ccid``, ``body.messages[0].text``) and which rule
the value breaks; it never quotes the offending value, because a request body may carry a password
or a token and the message is echoed to the caller and to logs. A failed ``oneOf`` is explained by
the variant the instance claims to be (its ``const`` tag matched), else by the documented tags.
"""

from __future__ import annotations

from typing import Any

import jsonschema.exceptions

__all__ = ["schema_message"]


def schema_message(where: str, error: jsonschema.exceptions.ValidationError) -> str:
    place = where + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
    if error.validator in ("oneOf", "anyOf") and error.context:
        return _variant_message(where, place, error.context)
    rule, expected = error.validator, error.validator_value
    if rule in ("required", "additionalProperties", "dependentRequired"):
        text = error.message  # names properties, never values
    elif rule == "type":
        text = f"must be of type {expected}"
    elif rule == "enum":
        text = f"must be one of {expected}"
    elif rule == "const":
        text = f"must be {expected!r}"
    elif rule == "format":
        text = f"must be a valid {expected}"
    elif rule in (
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "minLength",
        "maxLength",
        "minItems",
        "maxItems",
        "pattern",
    ):
        text = f"violates {rule} {expected}"
    else:
        text = f"violates '{rule}'"
    return f"{place}: {text}"


def _variant_message(where: str, place: str, context: list[jsonschema.exceptions.ValidationError]) -> str:
    # Explain a failed oneOf by the variant the instance claims to be (its `const` tag matched);
    # if every variant's tag failed, list the documented tag values.
    by_variant: dict[Any, list[jsonschema.exceptions.ValidationError]] = {}
    for sub in context:
        by_variant.setdefault(sub.relative_schema_path[0], []).append(sub)
    claimed = [errs for errs in by_variant.values() if not any(e.validator == "const" for e in errs)]
    if claimed:
        return "; ".join(schema_message(where, e) for e in min(claimed, key=len))
    tags = [e for errs in by_variant.values() for e in errs if e.validator == "const"]
    if tags:
        tag_place = where + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in tags[0].absolute_path)
        return f"{tag_place}: must be one of {sorted({str(e.validator_value) for e in tags})}"
    return f"{place}: matches none of the documented variants"
