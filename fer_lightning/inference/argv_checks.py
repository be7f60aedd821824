"""Checks of predict's, export's and visualize's command lines, made before Hydra runs.

Hydra makes the run folder (``hydra.run.dir``) and writes its record there before a command's
own code runs, so a folder that cannot be made or written is found from the command line, not
from Hydra's traceback. Each check raises ``UserError``; the command prints it as one line.
"""

from __future__ import annotations

import importlib.resources
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from omegaconf import OmegaConf

from fer_lightning.errors import UserError
from fer_lightning.inference.writable import RUN_FOLDER_FIX, folder_problem

# Arguments after which Hydra prints and writes nothing: no folder to check.
NO_RUN = ("--cfg", "-c", "--help", "-h", "--hydra-help", "--info", "-i", "--shell-completion")


def _key_value(arg: str) -> tuple[str, str]:
    key, _, value = arg.partition("=")
    value = value.strip()
    if len(value) > 1 and value[0] == value[-1] and value[0] in "'\"":
        value = value[1:-1]
    return key.lstrip("+"), value


def run_folder_of(argv: Sequence[str]) -> tuple[str, Path] | None:
    """(how the command line names it, the folder) of the run folder, or its nearest fixed part.

    None when its first part is a resolver's, known only once Hydra runs.
    """
    given = dict(_key_value(a) for a in argv if "=" in a and not a.startswith("-"))
    multirun = "-m" in argv or "--multirun" in argv
    for key in ("hydra.sweep.dir" if multirun else "hydra.run.dir", "paths.log_dir"):
        if key in given:
            option, value = f"{key}={given[key]}", given[key]
            break
    else:
        defaults = importlib.resources.files("fer_lightning.conf") / "paths" / "default.yaml"
        value = option = str(OmegaConf.load(str(defaults)).log_dir)
    if "${" not in value:
        return option, Path(value).expanduser()
    fixed = value.split("${", 1)[0]
    return (option, Path(os.path.dirname(fixed) or ".").expanduser()) if fixed else None


def check_run_folder(argv: Sequence[str]) -> None:
    """Refuse a run folder that cannot be made or written."""
    if any(a in NO_RUN or a.startswith("--cfg") for a in argv):
        return
    found = run_folder_of(argv)
    problem = found and folder_problem(found[1])
    if found and problem:
        raise UserError(f"{found[0]}: {problem}: {RUN_FOLDER_FIX}")


def no_device_option(command: str) -> Callable[[Sequence[str]], None]:
    """A check for ``command``, which runs on the CPU: ``device=`` would be an unknown key."""

    def check(argv: Sequence[str]) -> None:
        for arg in argv:
            if arg.partition("=")[0].lstrip("+~") == "device":
                raise UserError(
                    f"{arg}: {command} has no device option: it runs on the CPU, drop {arg}"
                )

    return check
