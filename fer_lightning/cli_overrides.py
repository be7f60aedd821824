"""The command line's overrides checked against the config tree before Hydra runs a command.

Hydra answers a mistyped group, option or key with 6-16 lines and advises ``+key=value``, which
adds a key that nothing reads: the run then trains the default. Here the overrides are composed
as Hydra will compose them (every job of a multirun's group sweeps), and a mistake becomes one
``UserError`` that names the closest option and the choices. An appended key (``+key=...``)
that is a typo away from an existing group or key is refused for the same reason.
"""

from __future__ import annotations

import difflib
import itertools
import re
from collections.abc import Sequence

from hydra import compose, initialize_config_module
from hydra._internal.utils import get_args_parser
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from hydra.errors import HydraException, MissingConfigException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from fer_lightning.errors import UserError

CONFIG_MODULE = "fer_lightning.conf"
# difflib's likeness of a typed name to an existing one: a suggestion from SUGGEST on; an
# appended key is refused as a typo only from TYPO on (modle/model 0.8, batch_sise 0.9), so a
# new key meant for a library (+trainer.profiler=simple) still goes through.
SUGGEST = 0.6
TYPO = 0.8


def check_overrides(config_name: str, argv: Sequence[str]) -> None:
    """Raise ``UserError`` for an override the config tree cannot take, or a typo it would take."""
    args = get_args_parser().parse_args(list(argv))
    if args.help or args.hydra_help or args.info or args.shell_completion:
        return
    if args.config_dir or args.config_path or args.experimental_rerun:
        return  # another tree than the package's: Hydra checks it
    name = args.config_name or config_name
    parser = OverridesParser.create()
    try:
        parser.parse_overrides(args.overrides)
    except HydraException as error:
        raise UserError(unreadable(error, args.overrides)) from None
    with initialize_config_module(CONFIG_MODULE, version_base="1.3"):
        groups = config_groups()
        # A sweep over a group's options by name (glob(seed_*)) reads them from the tree.
        loader = GlobalHydra.instance().config_loader()
        overrides = OverridesParser.create(config_loader=loader).parse_overrides(args.overrides)
        for job in jobs(overrides, groups, args.multirun):
            try:
                compose(name, overrides=job, return_hydra_config=True)
            except (HydraException, OmegaConfBaseException) as error:
                raise UserError(describe(error, name, job, groups)) from None
            check_appended(name, job, groups)


def config_groups(parent: str = "") -> set[str]:
    """Every config group of the tree, nested ones by path (``hydra/launcher``)."""
    loader = GlobalHydra.instance().config_loader()
    found = set()
    for group in loader.list_groups(parent):
        path = f"{parent}/{group}" if parent else group
        found |= {path} | config_groups(path)
    return found


def jobs(overrides: list[Override], groups: set[str], multirun: bool) -> list[list[str]]:
    """The override lists to compose: one, or one per combination of a multirun's group sweeps.

    A sweep of plain values composes alike for each value: its first stands for all. A
    sweeper's own search spaces (``interval(...)``) are the sweeper's to read.
    """
    if not multirun:
        return [[o.input_line for o in overrides]]
    choices = []
    for override in overrides:
        if not override.is_sweep_override():
            choices.append([override.input_line])
        elif override.is_discrete_sweep():
            key = override.get_key_element()
            values = [f"{key}={v}" for v in override.sweep_string_iterator()]
            choices.append(values if override.key_or_group in groups else values[:1])
    return [list(job) for job in itertools.product(*choices)]


def composed_without(name: str, job: list[str], left_out: set[str]) -> DictConfig | None:
    """The config without some overrides (what the others make of it), or None if it fails."""
    kept = [line for line in job if line not in left_out]
    for overrides in (kept, [line for line in kept if "." not in line.split("=")[0]], []):
        try:
            return compose(name, overrides=overrides, return_hydra_config=True)
        except (HydraException, OmegaConfBaseException):
            continue
    return None


def closest(name: str, candidates: Sequence[str], cutoff: float = SUGGEST) -> str | None:
    found = difflib.get_close_matches(name, [c for c in candidates if c != name], 1, cutoff)
    return found[0] if found else None


def keys_at(config: DictConfig | None, parent: str) -> list[str]:
    """The names that may follow ``parent``: its keys, and at the top the config's groups too
    (a group chosen as null by default, such as ``experiment``, is no key)."""
    if config is None:
        return []
    node = OmegaConf.select(config, parent) if parent else config
    names = set(node.keys()) if isinstance(node, DictConfig) else set()
    if not parent:
        names |= {g for g in config.hydra.runtime.choices if "/" not in g}
    return sorted(str(n) for n in names)


def override_of(job: list[str], key: str) -> Override | None:
    """The job's override of ``key`` (a group or a dotted key), as parsed."""
    for override in OverridesParser.create().parse_overrides(job):
        if override.key_or_group == key:
            return override
    return None


def replaced(override: Override, missing: str, found: str) -> str:
    """The override with its mistyped part ``missing`` (a key path's prefix) spelled ``found``,
    setting the key (a typo's fix adds nothing: no +)."""
    key = found + override.key_or_group[len(missing) :]
    if override.is_delete():
        return f"~{key}"
    return f"{key}={override.input_line.split('=', 1)[1]}"


def describe(error: Exception, name: str, job: list[str], groups: set[str]) -> str:
    """Hydra's composition error as one line: what is wrong, the closest option, the choices."""
    message = str(error)
    if isinstance(error, MissingConfigException) and "/" in (error.missing_cfg_file or ""):
        group, option = error.missing_cfg_file.rsplit("/", 1)
        override = override_of(job, group)
        line = override.input_line if override else f"{group}={option}"
        options = sorted(error.options or [])
        near = closest(option, options)
        hint = f"did you mean {group}={near}? " if near else ""
        return f"{line}: {group} has no option {option!r}; {hint}(choices: {', '.join(options)})"
    key = re.search(r"Could not (?:override|delete from config\.) '([^']*)'", message)
    full_key = getattr(error.__cause__, "full_key", None)
    if key and key.group(1):
        override = override_of(job, key.group(1))
        missing = full_key or key.group(1)
        if override is not None:
            return unknown_key(name, job, override, missing)
    if message.startswith("Could not append to config."):
        line = job_line(job, message)
        key, _, value = line.lstrip("+").partition("=")
        return f"{line}: {key} is in the config already: set it without the + ({key}={value})"
    chosen = re.match(r"Multiple values for (\S+)\.|(\S+) appears more than once", message)
    if chosen:
        group = chosen.group(1) or chosen.group(2)
        override = override_of(job, group)
        if override is not None:
            line = override.input_line
            return (
                f"{line}: {group} is chosen already (every run has one): choose another "
                f"without the +: {line.lstrip('+')}"
            )
    sweep = re.match(r"Ambiguous value for argument '(.+)'", message)
    if sweep:
        return (
            f"{sweep.group(1)}: a comma makes a sweep: add -m to run one job per value "
            "(or write key=[a,b] for a list, key='a,b' for a string)"
        )
    return " ".join(message.split())


def job_line(job: list[str], message: str) -> str:
    """The override a Hydra message names by its key (``'trainer.max_steps'``)."""
    named = re.search(r"'([^']+)'", message)
    override = override_of(job, named.group(1)) if named else None
    return override.input_line if override else job[-1]


def unknown_key(name: str, job: list[str], override: Override, missing: str) -> str:
    """A key the config lacks: the closest key (or group) at its place, and those there."""
    if not override.key_or_group.startswith(missing):
        missing = override.key_or_group
    parent, _, wrong = missing.rpartition(".")
    base = composed_without(name, job, {override.input_line})
    names = keys_at(base, parent)
    where = parent or "the config"
    if wrong in names:  # a node of keys given a value, as if it were a group (data=synthetic)
        inner = keys_at(base, missing)
        return (
            f"{override.input_line}: {missing} holds keys here, not a choice of configs: set "
            f"them one by one ({missing}.KEY=VALUE; {missing} has: {', '.join(inner)})"
        )
    near = closest(wrong, names)
    target = OmegaConf.select(base, f"{parent}._target_") if parent and base else None
    if near:
        fix = f"did you mean {replaced(override, missing, f'{parent}.{near}' if parent else near)}?"
    elif target and not override.is_delete():
        # Hydra's +key=... adds a key: right for an argument of the class the config builds,
        # never for a typo (nothing would read it).
        fix = (
            f"check the spelling (an argument of {target} that the config lacks is added "
            f"with +{override.input_line})"
        )
    else:
        fix = "check the spelling"
    line = override.input_line
    return f"{line}: {where} has no key {wrong!r}; {fix} ({where} has: {', '.join(names)})"


def check_appended(name: str, job: list[str], groups: set[str]) -> None:
    """Refuse ``+key=...`` where ``key`` is a typo of a group or key the config has."""
    appended = [
        o
        for o in OverridesParser.create().parse_overrides(job)
        if (o.is_add() or o.is_force_add()) and o.key_or_group not in groups
    ]
    if not appended:
        return
    base = composed_without(name, job, {o.input_line for o in appended})
    for override in appended:
        node: object = base
        path = override.key_or_group.split(".")
        for depth, part in enumerate(path):
            if isinstance(node, DictConfig) and part in node:
                node = node[part]
                continue
            parent = ".".join(path[:depth])
            near = closest(part, keys_at(base, parent), TYPO)
            if near is not None:
                missing = f"{parent}.{part}" if parent else part
                fixed = replaced(override, missing, f"{parent}.{near}" if parent else near)
                raise UserError(
                    f"{override.input_line} adds {missing!r}, which nothing reads; did you "
                    f"mean {fixed}? ({parent or 'the config'} has: "
                    f"{', '.join(keys_at(base, parent))})"
                )
            break


def unreadable(error: HydraException, overrides: Sequence[str]) -> str:
    """An override Hydra's grammar cannot read, in one line."""
    line = getattr(error, "override", None) or next(iter(overrides), "")
    detail = str(error).splitlines()
    reason = next((x for x in detail if x and not x.startswith(("Error parsing", "See "))), "")
    return (
        f"{line}: Hydra cannot read it ({reason.strip()}): write key=value, quoting a value "
        "with spaces, commas or brackets (key='a b')"
    )
