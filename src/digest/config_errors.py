"""Turning config problems into messages a comms officer can act on.

Every message starts with the path of the offending value (``newsletters.weekly.formats[2]``)
and says what to do; similar names are suggested. These functions work on the raw
mapping read from YAML, so they can report problems that typed validation never reaches.
"""

from __future__ import annotations

import difflib
import re
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

ENV_REF = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
# Keys whose values are credentials: a literal value there is an error.
SECRET_KEY_NAMES = re.compile(r"(password|secret|token|api_key|signing_key|private_key)", re.I)


def describe_errors(
    exc: ValidationError, raw: Any, prefix: str = "", model: type[BaseModel] | None = None
) -> list[str]:
    """Path-named messages for a data file validated with a pydantic model (``model``,
    for 'did you mean' on unknown keys)."""
    problems = [describe_error(error, raw, model) for error in exc.errors()]
    return [f"{prefix}{p}" for p in problems]


def literal_secret_problems(raw: Any, path: str = "") -> list[str]:
    """A password typed into config.yaml is an error wherever it appears."""
    problems: list[str] = []
    if isinstance(raw, dict):
        for key, value in raw.items():
            sub = f"{path}.{key}" if path else str(key)
            if (
                isinstance(value, str)
                and SECRET_KEY_NAMES.search(str(key))
                and not ENV_REF.match(value)
            ):
                problems.append(
                    f"{sub}: secrets must not be written in config.yaml; "
                    f"use an environment variable reference like ${{{_env_name(sub)}}}"
                )
            else:
                problems.extend(literal_secret_problems(value, sub))
    elif isinstance(raw, list):
        for index, value in enumerate(raw):
            problems.extend(literal_secret_problems(value, f"{path}[{index}]"))
    return problems


def _env_name(path: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", path.split(".")[-1]).upper()


def _loc_to_path(loc: tuple[Any, ...], raw: Any) -> tuple[str, Any]:
    """Turn a pydantic location into `a.b[2].c`, skipping union tags; return the parent."""
    parts: list[str] = []
    node: Any = raw
    parent: Any = raw
    for element in loc:
        # a discriminated-union tag (e.g. 'feed') is in the location but is not a real key
        is_tag = isinstance(element, str) and isinstance(node, dict) and element not in node
        if is_tag and node.get("type") == element:
            continue
        parent = node
        if isinstance(element, int):
            parts.append(f"[{element}]")
            node = node[element] if isinstance(node, list) and element < len(node) else None
        else:
            parts.append(f".{element}" if parts else str(element))
            node = node.get(element) if isinstance(node, dict) else None
    return "".join(parts), parent


def describe_error(error: Any, raw: dict[str, Any], model: type[BaseModel] | None = None) -> str:
    """One pydantic error as a path-named message; ``model`` is the class that validated
    ``raw`` (its fields give the 'did you mean' for an unknown key)."""
    path, _ = _loc_to_path(tuple(error["loc"]), raw)
    kind = error["type"]
    if kind == "extra_forbidden":
        key = path.rsplit(".", 1)[-1]
        return f"{path}: unknown key '{key}'{did_you_mean(key, _allowed_keys(error, model))}"
    if kind == "missing":
        return f"{path}: required key is missing"
    if kind == "union_tag_invalid":
        expected = error["ctx"]["expected_tags"]
        tag = error["ctx"]["tag"]
        return (
            f"{path}.type: unknown type '{tag}'"
            f"{did_you_mean(str(tag), _tags(expected))} (expected one of {expected})"
        )
    if kind == "union_tag_not_found":
        return f"{path}: missing 'type' (expected one of {error['ctx']['expected_tags']})"
    if kind == "literal_error":
        value = error.get("input")
        return f"{path}: '{value}' is not allowed; expected {error['ctx']['expected']}"
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{path}: {message}"


def _allowed_keys(error: Any, root: type[BaseModel] | None) -> list[str]:
    """Known keys of the model that rejected an extra key, for 'did you mean'."""
    model = _model_at(root, tuple(error["loc"])[:-1]) if root is not None else None
    if model is None:
        return []
    return [field.alias or name for name, field in model.model_fields.items()]


def _model_at(model: Any, loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model class that validates the value at ``loc`` under ``model``, following
    fields, mappings, sequences, optionals and ``type``-tagged registries."""
    for element in loc:
        model = _step(model, element)
        if model is None:
            return None
    model = _unwrap(model)
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _step(node: Any, element: Any) -> Any:
    node = _unwrap(node)
    if isinstance(node, type) and issubclass(node, BaseModel):
        registry = getattr(node, "registry", None)
        if isinstance(registry, dict) and element in registry:
            return registry[element]  # a pluggable kind's tag: the registered class
        fields = {field.alias or name: field for name, field in node.model_fields.items()}
        return fields[element].annotation if element in fields else None
    origin, args = get_origin(node), get_args(node)
    if origin is dict and len(args) == 2:
        return args[1]
    if origin in (tuple, list) and args:
        return args[0]
    return None


def _unwrap(node: Any) -> Any:
    """``X`` of ``Annotated[X, ...]`` and of ``X | None``."""
    while True:
        if get_origin(node) is Annotated:
            node = get_args(node)[0]
            continue
        args = [a for a in get_args(node) if a is not type(None)]
        if get_origin(node) in (Union, UnionType) and len(args) == 1:
            node = args[0]
            continue
        return node


def _tags(expected: str) -> list[str]:
    """The tag names in pydantic's "'feed', 'curated' or 'csv'"."""
    return re.findall(r"'([^']*)'", expected)


def did_you_mean(word: str, candidates: list[str] | Any) -> str:
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def reference_problems(raw: dict[str, Any]) -> list[str]:
    """Names used in one section must exist in another; checked on the raw mapping so
    these problems are reported together with schema problems elsewhere."""
    formats, channels, sources = (_keys(raw, k) for k in ("formats", "channels", "sources"))
    problems: list[str] = []
    for name, newsletter in _mapping(raw.get("newsletters")).items():
        node = _mapping(newsletter)
        problems += _unknown_names(
            f"newsletters.{name}.formats", node.get("formats"), formats, "format"
        )
        problems += _unknown_names(
            f"newsletters.{name}.channels", node.get("channels"), channels, "channel"
        )
    for name, fmt in _mapping(raw.get("formats")).items():
        select_node = _mapping(_mapping(fmt).get("select"))
        problems += _unknown_names(
            f"formats.{name}.select.sources", select_node.get("sources"), sources, "source"
        )
    return problems


def _mapping(node: Any) -> dict[str, Any]:
    return node if isinstance(node, dict) else {}


def _keys(raw: dict[str, Any], section: str) -> list[str]:
    return [str(k) for k in _mapping(raw.get(section))]


def _unknown_names(path: str, used: Any, known: list[str], what: str) -> list[str]:
    if not isinstance(used, list):
        return []
    return [
        f"{path}[{index}]: unknown {what} '{name}'{did_you_mean(str(name), known)}"
        for index, name in enumerate(used)
        if isinstance(name, str) and name not in known
    ]
