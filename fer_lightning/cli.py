"""What every command shares: the config tree, its resolvers, one line for a user's mistake.

A command module defines ``task(cfg) -> result`` and exposes ``main = command("<config>")(task)``:
the library does the work, this wrapper composes the config and turns the two expected ways
out (``UserError``, ``Interrupted``) into one line on stderr and the shell's exit code. Anything
else is a bug and keeps its traceback. Warning filters are set when a command starts, not
when a module is imported.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

import hydra
from omegaconf import DictConfig

from fer_lightning import cli_sweeps
from fer_lightning.cli_overrides import check_overrides
from fer_lightning.config import CONFIG_PATH, register_resolvers
from fer_lightning.errors import Interrupted, UserError

Result = TypeVar("Result")


def prepare_process() -> None:
    """Settings of a command's process: what it warns about, the config's resolvers."""
    # Batches are gathered in-process from one tensor: loader workers would only add copying.
    warnings.filterwarnings("ignore", ".*does not have many workers.*")
    # Lightning calls a pytree API that newer torch deprecates; nothing for a user to act on.
    warnings.filterwarnings("ignore", r".*isinstance\(treespec, LeafSpec\).*")
    register_resolvers()


@contextlib.contextmanager
def one_line_errors() -> Iterator[None]:
    """A user's mistake as ``error: ...`` and exit 2; a stopped run with the signal's code."""
    try:
        yield
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    except Interrupted as stop:
        print(f"interrupted: {stop}", file=sys.stderr)
        raise SystemExit(stop.exit_code) from None


def command(
    config_name: str, checks: Sequence[Callable[[Sequence[str]], None]] = ()
) -> Callable[[Callable[[DictConfig], Result]], Callable[[], Result | None]]:
    """``main`` of a command: checks of the raw arguments, Hydra, then ``task(cfg)``.

    Every command checks the plugins its options need, the quoting and the overrides against
    the config tree (``checks`` adds its own), so a mistake is one line before Hydra runs.
    """

    def wrap(task: Callable[[DictConfig], Result]) -> Callable[[], Result | None]:
        @hydra.main(version_base="1.3", config_path=CONFIG_PATH, config_name=config_name)
        def run(cfg: DictConfig) -> Result | None:
            with one_line_errors():
                if cli_sweeps.in_multirun():  # a failed job must not end the sweep
                    return cli_sweeps.run_job(task, cfg)
                return task(cfg)

        @functools.wraps(task)
        def main() -> Result | None:
            prepare_process()
            argv = sys.argv[1:]
            with one_line_errors():
                for check in (check_plugins, check_quoting, *checks):
                    check(argv)
                check_overrides(config_name, argv)
            return run()

        return main

    return wrap


# Config choices that load a Hydra plugin from an optional extra: (plugin module, extra).
PLUGIN_CHOICES = {
    "hydra/launcher=slurm": ("hydra_plugins.hydra_submitit_launcher", "slurm"),
    "hydra/launcher=local": ("hydra_plugins.hydra_submitit_launcher", "slurm"),
    "hparams_search=optuna": ("hydra_plugins.hydra_optuna_sweeper", "sweep"),
}


def check_plugins(argv: Sequence[str]) -> None:
    """One line, not Hydra's lookup failure, when a chosen config's plugin is not installed."""
    for arg in argv:
        module, extra = PLUGIN_CHOICES.get(arg.lstrip("+"), (None, None))
        if module and importlib.util.find_spec(module) is None:
            print(
                f"error: {arg} needs the [{extra}] extra: pip install 'fer_lightning[{extra}]'",
                file=sys.stderr,
            )
            raise SystemExit(2)


def check_quoting(argv: Sequence[str]) -> None:
    """One line for a value Hydra's override lexer cannot read: non-ASCII outside quotes.

    Hydra stops with a ``LexerNoViableAltException`` and a caret, which says nothing of the fix.
    """
    for arg in argv:
        key, sep, value = arg.partition("=")
        if not sep or arg.startswith("-") or value[:1] in ("'", '"') or value.isascii():
            continue
        print(
            f"error: {arg}: Hydra reads characters beyond ASCII only inside quotes: write "
            f"""'{key}="{value}"' (the single quotes keep the double ones from the shell)""",
            file=sys.stderr,
        )
        raise SystemExit(2)
