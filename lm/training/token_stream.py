"""Documents as one EOS-separated token stream, training windows drawn from it, held-out loss."""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch


def encode_documents(tokenizer, documents: Sequence[str], eos_id: int, chunk: int = 10000) -> torch.Tensor:
    """All documents as one int64 stream: EOS doc EOS doc ... EOS (EOS opens and closes each)."""
    pieces = [torch.tensor([eos_id], dtype=torch.long)]
    for start in range(0, len(documents), chunk):
        encoded = tokenizer(list(documents[start:start + chunk]), add_special_tokens=False)["input_ids"]
        flat: list[int] = []
        for ids in encoded:
            flat.extend(ids)
            flat.append(eos_id)
        pieces.append(torch.tensor(flat, dtype=torch.long))
    return torch.cat(pieces)


class WindowSampler:
    """Random fixed-length windows of a token stream.

    Starts are mixed so the model sees documents at every position: some windows open on an
    EOS (prompted with a BOS), some on a document's first token (prompted without one), the
    rest anywhere.
    """

    def __init__(self, stream: torch.Tensor, block_size: int, eos_id: int, generator: torch.Generator,
                 eos_start_share: float = 0.4, doc_start_share: float = 0.3) -> None:
        if stream.numel() <= block_size:
            raise ValueError(f"token stream of {stream.numel()} tokens is too short for windows of {block_size}")
        self.stream = stream
        self.block_size = block_size
        self.generator = generator
        last_start = stream.numel() - block_size
        eos_positions = torch.nonzero(stream == eos_id).flatten()
        self.eos_starts = eos_positions[eos_positions < last_start]
        self.doc_starts = self.eos_starts + 1
        self.last_start = last_start
        self.eos_start_share = eos_start_share
        self.doc_start_share = doc_start_share

    def batch(self, batch_size: int) -> torch.Tensor:
        """A (batch_size, block_size) tensor of windows."""
        roll = torch.rand(batch_size, generator=self.generator)
        anywhere = torch.randint(0, self.last_start, (batch_size,), generator=self.generator)
        pick = torch.randint(0, self.eos_starts.numel(), (batch_size,), generator=self.generator)
        starts = torch.where(roll < self.eos_start_share, self.eos_starts[pick],
                             torch.where(roll < self.eos_start_share + self.doc_start_share,
                                         self.doc_starts[pick], anywhere))
        offsets = torch.arange(self.block_size)
        return self.stream[starts[:, None] + offsets[None, :]]


@torch.no_grad()
def mean_token_loss(model: torch.nn.Module, stream: torch.Tensor, block_size: int, batch_size: int = 8) -> float:
    """Mean next-token cross-entropy (nats) over a stream cut into consecutive windows."""
    model.eval()
    usable = (stream.numel() - 1) // block_size * block_size
    if usable == 0:
        raise ValueError(f"stream of {stream.numel()} tokens is shorter than one window of {block_size}")
    inputs = stream[:usable].view(-1, block_size)
    targets = stream[1:usable + 1].view(-1, block_size)
    total, count = 0.0, 0
    for i in range(0, inputs.shape[0], batch_size):
        logits = model(input_ids=inputs[i:i + batch_size]).logits.float()
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                                 targets[i:i + batch_size].reshape(-1), reduction="sum")
        total += loss.item()
        count += targets[i:i + batch_size].numel()
    model.train()
    return total / count if count else math.nan
