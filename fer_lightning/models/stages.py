"""A network's convolutional stages, found by structure, and their feature maps for one input.

Stages are found by structure, not by a list per network: a module with a convolution among its
direct children is a stage (a seed ``features.stageN``, a ResNet block), except that in a flat
``nn.Sequential`` (or at the top of the network) each convolution starts a stage of its own that
runs up to the next convolution. Modules nested inside a stage (a block's shortcut) are not
stages again.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

# A stage's group in a flat Sequential ends before these: past them the output is not a map.
_GROUP_END = (nn.Conv2d, nn.Flatten, nn.Linear, nn.Sequential, nn.ModuleList, nn.ModuleDict)


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
