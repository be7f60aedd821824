"""The network as the seed report tabulates it (torchsummary's form), and its graph in TensorBoard.

One row per leaf layer in the order the forward pass calls it, numbered as torchsummary numbers
(``Conv2d-1``, ``BatchNorm2d-2``, ...), with its output shape and parameter count; then the
totals. A run's table can be put beside the report's line by line.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import lightning as L
import torch
from lightning.pytorch.utilities import rank_zero_only
from torch import Tensor, nn

from fer_lightning.callbacks.shared import tensorboards
from fer_lightning.data.labels import IMAGE_SIZE

log = logging.getLogger("fer_lightning")

RULE, DOUBLE = "-" * 64, "=" * 64
MB = 1024**2


class SummaryRow(NamedTuple):
    layer: str  # torchsummary's key: the type and its place in the call order, ``Conv2d-1``
    name: str  # the module's name in the network, ``features.stage1.conv``
    output_shape: tuple[int, ...]  # batch as -1
    params: int
    trainable: int


def _device_dtype(net: nn.Module) -> tuple[torch.device, torch.dtype]:
    parameter = next(net.parameters(), None)
    if parameter is None:
        return torch.device("cpu"), torch.float32
    return parameter.device, parameter.dtype


def dummy_input(net: nn.Module, input_size: int = 48, batch: int = 2) -> Tensor:
    """A batch of zeros the network accepts: channels from its first conv's ``in_channels``."""
    conv = next((m for m in net.modules() if isinstance(m, nn.Conv2d)), None)
    channels = conv.in_channels if conv is not None else 3
    device, dtype = _device_dtype(net)
    return torch.zeros(batch, channels, input_size, input_size, device=device, dtype=dtype)


def summary_rows(net: nn.Module, input_shape: Sequence[int], batch: int = 2) -> list[SummaryRow]:
    """Rows for one forward pass of zeros of shape (C, H, W).

    In eval mode under no_grad: a summary must not move batch norm's running statistics. The
    mode is restored and the hooks removed afterwards.
    """
    names = {module: name for name, module in net.named_modules()}
    rows: list[SummaryRow] = []

    def record(module: nn.Module, inputs: object, output: object) -> None:
        shape = tuple(output.shape) if isinstance(output, Tensor) else ()
        params = list(module.parameters())
        rows.append(
            SummaryRow(
                layer=f"{type(module).__name__}-{len(rows) + 1}",
                name=names[module],
                output_shape=(-1, *shape[1:]) if shape else (),
                params=sum(p.numel() for p in params),
                trainable=sum(p.numel() for p in params if p.requires_grad),
            )
        )

    leaves = [m for m in net.modules() if next(m.children(), None) is None and m is not net]
    handles = [m.register_forward_hook(record) for m in leaves]
    was_training = net.training
    device, dtype = _device_dtype(net)
    try:
        net.eval()
        with torch.no_grad():
            net(torch.zeros(batch, *input_shape, device=device, dtype=dtype))
    finally:
        net.train(was_training)
        for handle in handles:
            handle.remove()
    return rows


def summary_table(net: nn.Module, input_shape: Sequence[int]) -> str:
    """torchsummary's table for input (C, H, W), totals counted once per parameter tensor."""
    rows = summary_rows(net, input_shape)
    lines = [RULE, f"{'Layer (type)':>20}  {'Output Shape':>25} {'Param #':>15}", DOUBLE]
    for row in rows:
        shape = str(list(row.output_shape))
        lines.append(f"{row.layer:>20}  {shape:>25} {row.params:>15,}")
    # From the network, not the rows: a layer called twice would be counted twice there.
    total = sum(p.numel() for p in net.parameters())
    trainable = sum(p.numel() for p in net.parameters() if p.requires_grad)
    outputs = sum(abs(torch.Size(r.output_shape[1:]).numel()) for r in rows if r.output_shape)
    input_mb = torch.Size(input_shape).numel() * 4 / MB
    pass_mb = 2 * outputs * 4 / MB  # activations and their gradients, float32, per face
    params_mb = total * 4 / MB
    lines += [
        DOUBLE,
        f"Total params: {total:,}",
        f"Trainable params: {trainable:,}",
        f"Non-trainable params: {total - trainable:,}",
        RULE,
        f"Input size (MB): {input_mb:.2f}",
        f"Forward/backward pass size (MB): {pass_mb:.2f}",
        f"Params size (MB): {params_mb:.2f}",
        f"Estimated Total Size (MB): {input_mb + pass_mb + params_mb:.2f}",
        RULE,
    ]
    return "\n".join(lines)


class ReportSummary(L.Callback):
    """At fit start: the seed-style table to the log and ``model_summary.txt``, graph to TB.

    ``input_size``: the side of the network's input (40 for ten-crop models); None: the side
    of the data module's evaluation view.
    """

    def __init__(self, output_dir: str, input_size: int | None = None) -> None:
        self.output_dir = Path(output_dir)
        self.input_size = input_size

    def _input_size(self, trainer: L.Trainer) -> int:
        """The side of the network's input: the data module's evaluation view, else 48."""
        if self.input_size is not None:
            return int(self.input_size)
        dm = trainer.datamodule
        if not hasattr(dm, "preprocess"):
            return IMAGE_SIZE
        face = torch.zeros(1, IMAGE_SIZE, IMAGE_SIZE, dtype=torch.uint8)
        label = torch.zeros(1, dtype=torch.int64)
        x = dm.preprocess(face, label, train=False, augmentation=dm.augmentation.single_view())[0]
        return int(x.shape[-1])

    @rank_zero_only
    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        net = getattr(pl_module, "net", pl_module)
        x = dummy_input(net, self._input_size(trainer))
        table = summary_table(net, tuple(x.shape[1:]))
        log.info("Model summary (%s):\n%s", type(net).__name__, table)
        self.output_dir.mkdir(parents=True, exist_ok=True)
        path = self.output_dir / "model_summary.txt"
        path.write_text(table + "\n")
        log.info("Wrote %s", path)
        for logger in tensorboards(trainer):
            was_training = net.training
            try:
                net.eval()  # tracing runs the network: keep batch norm statistics as they are
                with warnings.catch_warnings():
                    # add_graph traces with torch.jit, which torch 2.14 deprecates: not ours to fix.
                    warnings.filterwarnings("ignore", ".*torch.jit.*", FutureWarning)
                    logger.experiment.add_graph(net, x)
            except Exception as error:  # tracing fails on some dynamic networks: not fatal
                log.warning(
                    "Model graph not added to TensorBoard (%s: %s)", type(error).__name__, error
                )
            finally:
                net.train(was_training)
