"""What the network's convolutional stages respond to, on the same faces before and after training.

Forward hooks catch the output of every convolutional stage for one validation face per emotion;
each stage becomes one picture (rows: faces, columns: the input, then the stage's feature maps,
each min-max normalized on its own so weak maps stay visible). The first convolution's filters
get a picture of their own. ``fer_lightning.visualize`` draws the same pictures for one image.

Stages are found by structure, not by a list per network: a module with a convolution among its
direct children is a stage (a seed ``features.stageN``, a ResNet block), except that in a flat
``nn.Sequential`` (or at the top of the network) each convolution starts a stage of its own that
runs up to the next convolution. Modules nested inside a stage (a block's shortcut) are not
stages again.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path

import lightning as L
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import torch
from lightning.pytorch.utilities import rank_zero_only
from matplotlib.figure import Figure
from PIL import Image
from torch import Tensor, nn
from torch.nn import functional as F

from fer_lightning.callbacks.class_metrics import tensorboards
from fer_lightning.data.labels import EMOTIONS
from fer_lightning.errors import UserError

log = logging.getLogger(__name__)

# A stage's group in a flat Sequential ends before these: past them the output is not a map.
_GROUP_END = (nn.Conv2d, nn.Flatten, nn.Linear, nn.Sequential, nn.ModuleList, nn.ModuleDict)
GAP = 2  # pixels between the cells of a grid
DEAD = 0.85  # the gray of a constant feature map


# -- finding and hooking stages ------------------------------------------------------------------
def conv_stages(net: nn.Module) -> list[tuple[str, nn.Module]]:
    """(name, module whose output is the stage's feature maps), in ``named_modules`` order."""
    stages: list[tuple[str, nn.Module]] = []
    taken: list[str] = []  # names whose subtree belongs to a stage already

    def inside(name: str) -> bool:
        return any(name == t or name.startswith(f"{t}.") for t in taken)

    for name, module in net.named_modules():
        if name and inside(name):
            continue
        children = list(module.named_children())
        convs = [n for n, c in children if isinstance(c, nn.Conv2d)]
        if not convs:
            continue
        if isinstance(module, nn.Sequential) and len(convs) == 1:
            stages.append((name, module))  # one conv with its BN/ReLU/pool: a seed stage
            taken.append(name)
        elif isinstance(module, nn.Sequential) or module is net:
            # Children run in registration order here: group each conv with what follows it.
            for i, (child_name, child) in enumerate(children):
                if not isinstance(child, nn.Conv2d):
                    continue
                last = child
                group = [child_name]
                for next_name, next_child in children[i + 1 :]:
                    if isinstance(next_child, _GROUP_END):
                        break
                    last = next_child
                    group.append(next_name)
                full = f"{name}.{child_name}" if name else child_name
                stages.append((full, last))
                taken += [f"{name}.{g}" if name else g for g in group]
        else:
            stages.append((name, module))  # a block with its own forward (ResNet's BasicBlock)
            taken.append(name)
    return stages


def first_conv(net: nn.Module) -> tuple[str, nn.Conv2d] | None:
    """The convolution that sees the input: its filters are the only ones readable as images."""
    return next(((n, m) for n, m in net.named_modules() if isinstance(m, nn.Conv2d)), None)


def capture_activations(
    net: nn.Module, x: Tensor, stages: Sequence[tuple[str, nn.Module]] | None = None
) -> tuple[Tensor, dict[str, Tensor]]:
    """(logits, {stage name: feature maps [N, C, h, w] on the CPU}) for one forward pass.

    Eval mode and no_grad, so batch norm statistics and gradients are untouched; the training
    mode is restored and the hooks removed afterwards, even when the forward pass fails.
    """
    stages = conv_stages(net) if stages is None else stages
    maps: dict[str, Tensor] = {}

    def hook(name: str):
        def record(module: nn.Module, inputs: object, output: object) -> None:
            if isinstance(output, Tensor) and output.ndim == 4:
                # A copy: later in-place ops (ReLU, residual +=) must not change what we show.
                maps[name] = output.detach().float().cpu().clone()

        return record

    handles = [module.register_forward_hook(hook(name)) for name, module in stages]
    was_training = net.training
    try:
        net.eval()
        parameter = next(net.parameters(), None)
        if parameter is not None:
            x = x.to(device=parameter.device, dtype=parameter.dtype)
        with torch.no_grad():
            logits = net(x)
    finally:
        net.train(was_training)
        for handle in handles:
            handle.remove()
    return logits.detach().float().cpu(), maps


# -- preparing faces -----------------------------------------------------------------------------
def prepare_faces(
    images: Tensor | np.ndarray,
    channels: int = 3,
    mean: float = 0.5,
    std: float = 0.5,
    input_size: int | None = None,
) -> Tensor:
    """uint8 [N, H, W] -> float [N, C, h, w] exactly as the data module feeds evaluation.

    x / 255, the gray channel replicated, (x - mean) / std, and a centre crop when the network
    takes smaller input than the faces (ten-crop models take 40x40).
    """
    images = torch.as_tensor(images)
    x = images.unsqueeze(1).float().div(255.0).expand(-1, channels, -1, -1)
    x = (x - mean) / std
    if input_size is not None and input_size < min(x.shape[-2:]):
        top = (x.shape[-2] - input_size) // 2
        left = (x.shape[-1] - input_size) // 2
        x = x[..., top : top + input_size, left : left + input_size]
    return x.contiguous()


def sample_faces(labels: Tensor | np.ndarray, num_classes: int = len(EMOTIONS)) -> list[int]:
    """Index of the first face of each class present: the same faces in every run and epoch."""
    labels = np.asarray(labels)
    return [int(np.flatnonzero(labels == c)[0]) for c in range(num_classes) if (labels == c).any()]


# -- pictures ------------------------------------------------------------------------------------
def normalize_maps(maps: Tensor) -> Tensor:
    """Each [h, w] map to [0, 1] on its own; a constant (dead) map becomes all zeros."""
    lo = maps.amin(dim=(-2, -1), keepdim=True)
    hi = maps.amax(dim=(-2, -1), keepdim=True)
    span = hi - lo
    return torch.where(span > 0, (maps - lo) / span.clamp_min(1e-12), torch.zeros_like(maps))


def _colour(values: Tensor, cmap: str) -> np.ndarray:
    """[..., h, w] in [0, 1] -> RGB [..., h, w, 3] floats."""
    return matplotlib.colormaps[cmap](values.clamp(0, 1).numpy())[..., :3]


def mosaic(cells: Sequence[np.ndarray | None], columns: int, gap: int = GAP) -> np.ndarray:
    """RGB cells of one size laid out row by row, ``gap`` white pixels apart (None: blank)."""
    h, w = next(c for c in cells if c is not None).shape[:2]
    rows = -(-len(cells) // columns)
    out = np.ones((rows * (h + gap) - gap, columns * (w + gap) - gap, 3))
    for i, cell in enumerate(cells):
        if cell is not None:
            r, c = divmod(i, columns)
            out[r * (h + gap) : r * (h + gap) + h, c * (w + gap) : c * (w + gap) + w] = cell
    return out


def activation_mosaic(
    inputs: Tensor, maps: Tensor, max_channels: int | None = 32, wrap: int | None = None
) -> tuple[np.ndarray, int]:
    """(RGB grid, columns): per face its input (gray) and feature maps (viridis), input-sized.

    A constant map (a channel that does not respond to this face at all, common after ReLU) is
    drawn light gray, apart from a map that is merely weak. Without ``wrap`` each face is one
    row; with it (one face) the cells wrap every ``wrap``.
    """
    size = tuple(inputs.shape[-2:])
    maps = maps[:, :max_channels] if max_channels else maps
    shown = normalize_maps(maps)
    if tuple(shown.shape[-2:]) != size:  # nearest: a 12x12 map shows its 144 values as blocks
        shown = F.interpolate(shown, size=size, mode="nearest")
    constant = (maps.amax(dim=(-2, -1)) == maps.amin(dim=(-2, -1))).numpy()
    face = normalize_maps(inputs[:, :1])[:, 0]
    cells: list[np.ndarray | None] = []
    for n in range(len(maps)):
        cells.append(np.repeat(face[n].numpy()[..., None], 3, axis=-1))
        coloured = _colour(shown[n], "viridis")
        coloured[constant[n]] = DEAD
        cells += list(coloured)
    columns = wrap or (shown.shape[1] + 1)
    return mosaic(cells, columns), columns


def activation_figure(
    inputs: Tensor,
    maps: Tensor,
    row_labels: Sequence[str],
    title: str,
    max_channels: int | None = 32,
    wrap: int | None = None,
) -> Figure:
    """One stage: rows = faces, columns = the input then channels 0, 1, ... (or wrapped)."""
    grid, columns = activation_mosaic(inputs, maps, max_channels, wrap)
    h, w = inputs.shape[-2:]
    rows = -(-grid.shape[0] // (h + GAP))
    cell_in = 0.5 if wrap is None else 0.8
    fig, ax = plt.subplots(figsize=(1.0 + columns * cell_in, 0.8 + rows * cell_in))
    ax.imshow(grid, interpolation="nearest")
    shown = min(maps.shape[1], max_channels or maps.shape[1])
    if wrap is None:
        ax.set_xticks(
            [(w + GAP) * c + w / 2 for c in range(columns)],
            ["input", *map(str, range(shown))],
            fontsize=6,
        )
        ax.set_yticks([(h + GAP) * r + h / 2 for r in range(rows)], list(row_labels), fontsize=8)
        ax.tick_params(length=0)
    else:
        ax.set_xticks([])
        ax.set_yticks([])
        for i, label in enumerate(["input", *map(str, range(shown))]):
            r, c = divmod(i, columns)
            ax.text(
                (w + GAP) * c + 1,
                (h + GAP) * r + 1,
                label,
                color="white",
                fontsize=6,
                va="top",
                bbox={"facecolor": "black", "alpha": 0.5, "pad": 0.5, "linewidth": 0},
            )
    for side in ax.spines.values():
        side.set_visible(False)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def filters_figure(conv: nn.Conv2d, title: str, columns: int = 8) -> Figure:
    """The first layer's filters, summed over input channels (red +, blue -).

    The input channels are copies of one gray image, so their sum is the filter that the gray
    face actually meets; each filter is scaled by its own largest weight, keeping the sign.
    """
    weight = conv.weight.detach().float().cpu().sum(dim=1)  # [out, k, k]
    scale = weight.abs().amax(dim=(-2, -1), keepdim=True).clamp_min(1e-12)
    values = (weight / scale + 1) / 2
    k = weight.shape[-1]
    factor = max(1, 24 // k)  # blocks of pixels: a 3x3 filter as 24x24
    big = values.repeat_interleave(factor, dim=-2).repeat_interleave(factor, dim=-1)
    columns = min(columns, len(big))
    grid = mosaic(list(_colour(big, "RdBu_r")), columns)
    rows = -(-len(big) // columns)
    fig, ax = plt.subplots(figsize=(0.6 + columns * 0.6, 0.8 + rows * 0.6))
    ax.imshow(grid, interpolation="nearest")
    ax.set_axis_off()
    ax.set_title(title, fontsize=8)
    fig.tight_layout()
    return fig


def render(fig: Figure, dpi: int = 110) -> np.ndarray:
    """The figure as an RGB uint8 array, closed: one drawing for both the PNG and TensorBoard."""
    fig.set_dpi(dpi)
    fig.canvas.draw()
    image = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
    plt.close(fig)
    return image


def save_png(image: np.ndarray, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(path)
    return path


def stage_pictures(
    net: nn.Module,
    x: Tensor,
    row_labels: Sequence[str],
    max_channels: int | None = 32,
    wrap: bool = False,
    note: str = "",
) -> tuple[Tensor, dict[str, np.ndarray]]:
    """(logits, {stage name or ``filters``: RGB picture}) for the faces ``x`` [N, C, h, w].

    ``wrap`` (for a single face): the cells of a stage fill a block about twice as wide as high
    instead of one long row.
    """
    logits, maps = capture_activations(net, x)
    pictures: dict[str, np.ndarray] = {}
    suffix = f"; {note}" if note else ""
    for name, m in maps.items():
        channels, (h, w) = m.shape[1], m.shape[-2:]
        cells = min(channels, max_channels or channels) + 1
        columns = math.ceil(math.sqrt(2 * cells)) if wrap else None
        part = f"first {max_channels} of " if max_channels and channels > max_channels else ""
        title = f"{name}: {part}{channels} channels, {h}x{w}\n"
        title += f"each map on its own scale, gray: constant{suffix}"
        fig = activation_figure(x.cpu(), m, row_labels, title, max_channels, columns)
        pictures[name] = render(fig)
    conv = first_conv(net)
    if conv is not None:
        name, layer = conv
        k = "x".join(map(str, layer.kernel_size))
        title = f"{name} filters, {k}{suffix}\n"
        title += f"sum over the {layer.in_channels} input channels; red +, blue -"
        pictures["filters"] = render(filters_figure(layer, title))
    return logits, pictures


# -- the callback --------------------------------------------------------------------------------
class ActivationGrids(L.Callback):
    """Feature maps of every conv stage for one validation face per emotion, at fit start and end.

    Written as ``activations/<when>_<stage>.png`` and ``<when>_filters.png`` (when: ``start``,
    ``end``, ``epochNNN`` every ``every_n_epochs``) and to TensorBoard as
    ``activations/<stage>/<when>`` and ``filters/<when>``. Start is drawn before any step, so
    the pair shows what training changed.
    """

    def __init__(
        self, output_dir: str, max_channels: int = 32, every_n_epochs: int | None = None
    ) -> None:
        self.output_dir = Path(output_dir)
        self.max_channels = max_channels
        self.every_n_epochs = every_n_epochs
        self.faces: Tensor | None = None
        self.labels: list[str] = []

    def _faces(self, trainer: L.Trainer, pl_module: L.LightningModule) -> Tensor | None:
        """The sample faces as the network's input, chosen once (None: no validation data)."""
        if self.faces is None:
            dm = trainer.datamodule
            if dm is None or not hasattr(dm, "dataset"):
                log.warning("ActivationGrids: no FERDataModule, no activation grids")
                return None
            try:
                val = dm.dataset("val")
            except UserError as error:
                log.warning("ActivationGrids: no validation faces (%s)", error)
                return None
            index = sample_faces(val.labels.cpu())
            config = pl_module.hparams.get("config") or {}
            input_size = (config.get("model") or {}).get("input_size")
            hp = dm.hparams
            self.faces = prepare_faces(
                val.images[index].cpu(), hp.channels, hp.mean, hp.std, input_size
            )
            names = getattr(pl_module, "class_names", EMOTIONS)
            self.labels = [names[int(val.labels[i])] for i in index]
        return self.faces

    def draw(self, trainer: L.Trainer, pl_module: L.LightningModule, when: str) -> None:
        faces = self._faces(trainer, pl_module)
        if faces is None:
            return
        _, pictures = stage_pictures(
            pl_module.net, faces, self.labels, self.max_channels, note=when
        )
        folder = self.output_dir / "activations"
        for name, image in pictures.items():
            save_png(image, folder / f"{when}_{name}.png")
            tag = "filters" if name == "filters" else f"activations/{name}"
            for logger in tensorboards(trainer):
                logger.experiment.add_image(
                    f"{tag}/{when}", image, global_step=trainer.global_step, dataformats="HWC"
                )
        log.info("Wrote %d activation pictures (%s) to %s", len(pictures), when, folder)

    @rank_zero_only
    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.draw(trainer, pl_module, "start")

    @rank_zero_only
    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        n = self.every_n_epochs
        if n and (trainer.current_epoch + 1) % n == 0:
            self.draw(trainer, pl_module, f"epoch{trainer.current_epoch:03d}")

    @rank_zero_only
    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.draw(trainer, pl_module, "end")
