"""A run config read from a file, made safe before anything reads or builds from it.

A checkpoint's config is plain data, but OmegaConf resolves ``${...}`` interpolations when a
value is read, and its built-in resolvers build objects (``oc.create``, ``oc.decode``) or read
the environment (``oc.env``): a value such as ``${oc.create:{_target_: builtins.open, ...}}``
would be resolved after any check of the unresolved config and build what it names. So a
stored config may use only plain references (``${model.num_classes}``) and the project's own
resolvers; it is resolved here, once, the ``_target_``s of the resolved config are checked in
their slots, and only the resolved plain data goes on. Configs the project saves are resolved
already, so real checkpoints hold no interpolation at all.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import OmegaConf
from omegaconf.errors import GrammarParseError
from omegaconf.grammar.gen.OmegaConfGrammarParser import OmegaConfGrammarParser
from omegaconf.grammar_parser import parse

from fer_lightning.errors import UserError
from fer_lightning.runs.allowed_targets import check_targets, update_moved

# The resolvers registered by fer_lightning.config.register_resolvers: they name run folders.
OWN_RESOLVERS = ("fer_pid", "fer_run_dir", "fer_hydra_subdir", "fer_basename")


def resolvers_in(value: str) -> list[str]:
    """The resolvers an interpolated string calls, at any depth (``${a:${b:..}}`` -> a, b)."""
    found: list[str] = []
    nodes = [parse(value)]
    while nodes:
        node = nodes.pop()
        if isinstance(node, OmegaConfGrammarParser.InterpolationResolverContext):
            found.append(node.resolverName().getText())
        nodes.extend(node.getChild(i) for i in range(getattr(node, "getChildCount", int)()))
    return found


def strings(node: Any, path: str = "") -> list[tuple[str, str]]:
    """(config key, value) of every string in a plain config tree, keys included."""
    found: list[tuple[str, str]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            where = f"{path}.{key}" if path else str(key)
            if isinstance(key, str):
                found.append((where, key))
            found.extend(strings(value, where))
    elif isinstance(node, list | tuple):
        for i, value in enumerate(node):
            found.extend(strings(value, f"{path}[{i}]"))
    elif isinstance(node, str):
        found.append((path, node))
    return found


def check_interpolations(config: dict[str, Any], source: str | Path, resolved: bool) -> None:
    """Refuse a resolver other than the project's; once ``resolved``, any ``${`` left at all."""
    for key, value in strings(config):
        if "${" not in value:
            continue
        if resolved:  # a literal "${...}" left now would be resolved by whoever reads it next
            raise UserError(
                f"{source}: refused: its config value {key}={value!r} still reads as an "
                "interpolation after resolving; only load files you trust"
            )
        try:
            foreign = [r for r in resolvers_in(value) if r not in OWN_RESOLVERS]
        except GrammarParseError:
            foreign = ["<unparsable>"]
        if foreign:
            raise UserError(
                f"{source}: refused: its config value {key} calls the resolver "
                f"{foreign[0]!r} (a stored config may only refer to its own keys, "
                "${a.b}); only load files you trust"
            )


def safe_config(config: dict[str, Any], source: str | Path) -> dict[str, Any]:
    """The stored ``config`` resolved to plain data, refused in one line if anything in it
    could run code or build outside its slot."""
    update_moved(config)
    check_interpolations(config, source, resolved=False)
    try:
        plain = OmegaConf.to_container(OmegaConf.create(config), resolve=True)
    except Exception as error:  # a missing key, a bad type: OmegaConf raises several kinds
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise UserError(
            f"{source}: its config does not resolve ({type(error).__name__}: {first})"
        ) from None
    check_interpolations(plain, source, resolved=True)
    check_targets(plain, source)
    return plain
