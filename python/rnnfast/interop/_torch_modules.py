"""torch.nn modules mirroring rnnfast's networks; imported only by :mod:`rnnfast.interop.torch`
(importing this module imports torch)."""

from __future__ import annotations

import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnnfast.data.sequences import LEVEL_SCALE_FLOOR


def run_recurrent(rnn: torch.nn.RNNBase, x: torch.Tensor, lengths=None):
    """``rnn`` over a padded batch with rnnfast's semantics: packed when ``lengths`` is given,
    outputs zero past each length and as long as ``x``."""
    if lengths is None:
        return rnn(x)
    lengths = torch.as_tensor(lengths, dtype=torch.int64).cpu()
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    output, state = rnn(packed)
    output, _ = pad_packed_sequence(output, batch_first=True, total_length=x.shape[1])
    return output, state


def final_features(rnn: torch.nn.RNNBase, state) -> torch.Tensor:
    """The top layer's final hidden state, forward then reverse: ``(batch, D*H)``."""
    h_n = state[0] if isinstance(state, tuple) else state
    directions = 2 if rnn.bidirectional else 1
    return torch.cat(list(h_n[-directions:]), dim=1)


def stack_frames(x: torch.Tensor, lengths, stride: int, size: int | None = None):
    """``(batch, time, F)`` -> ``(batch, ceil(time / stride), size * F)``: step ``k`` holds input
    steps ``[k * stride, k * stride + size)`` (``size`` None: ``stride``), steps past each length
    zeroed first, and lengths -> ``ceil(lengths / stride)`` (as rnnfast stacks them)."""
    size = stride if size is None else size
    batch, time, features = x.shape
    if lengths is not None:
        lengths = torch.as_tensor(lengths, dtype=torch.int64)
        valid = torch.arange(time)[None, :] < lengths[:, None]
        x = x * valid[:, :, None].to(x.dtype)
        lengths = (lengths + stride - 1) // stride
    steps = (time + stride - 1) // stride
    x = torch.nn.functional.pad(x, (0, 0, 0, (steps - 1) * stride + size - time))
    frames = x.unfold(1, size, stride)  # (batch, steps, F, size)
    return frames.transpose(2, 3).reshape(batch, steps, size * features), lengths


def standardize_per_sequence(x: torch.Tensor, lengths, level=None) -> torch.Tensor:
    """Each sequence per feature minus its mean, over its standard deviation (1 where 0), over
    its valid steps, in float64; steps past each length 0 (as rnnfast computes it). With
    ``level = (mean, scale)`` of the training steps, followed by the sequence's mean and log
    deviation in those units (``rnnfast.data.sequences.standardize_with_level``)."""
    values = x.to(torch.float64)
    time = x.shape[1]
    if lengths is None:
        counts = torch.full((x.shape[0],), time, dtype=torch.float64)
        valid = torch.ones(x.shape[0], time, 1, dtype=torch.bool)
    else:
        lengths = torch.as_tensor(lengths, dtype=torch.int64)
        counts = lengths.clamp(min=1).to(torch.float64)
        valid = (torch.arange(time)[None, :] < lengths[:, None])[:, :, None]
    counts = counts[:, None, None]
    mean = torch.where(valid, values, 0.0).sum(dim=1, keepdim=True) / counts
    centred = torch.where(valid, values - mean, 0.0)
    std = torch.sqrt((centred * centred).sum(dim=1, keepdim=True) / counts)
    scaled = centred / torch.where(std > 0, std, 1.0)
    if level is not None:
        units_mean, units_scale = (u.to(torch.float64) for u in level)
        ratio = torch.clamp(std / units_scale, min=LEVEL_SCALE_FLOOR)
        levels = torch.cat([(mean - units_mean) / units_scale, torch.log(ratio)], dim=2)
        scaled = torch.cat([scaled, torch.where(valid, levels, 0.0)], dim=2)
    return scaled.to(x.dtype)


class TorchSequenceNetwork(torch.nn.Module):
    """``rnnfast.nn.SequenceNetwork`` in torch: (embedding ->) recurrent stack -> (pooling
    ->) dropout -> linear head. ``pooling`` is "last", "mean", "max" or "attention" (with the
    learned ``pool_query``)."""

    def __init__(
        self,
        recurrent,
        head,
        dropout: float,
        per_step: bool,
        embedding=None,
        pooling: str = "last",
        pool_query=None,
    ) -> None:
        super().__init__()
        self.embedding = embedding
        self.recurrent = recurrent
        self.dropout = torch.nn.Dropout(dropout)
        self.head = head
        self.per_step = per_step
        self.pooling = pooling
        self.pool_query = pool_query

    def forward(self, x, lengths=None):
        if self.embedding is not None:
            x = self.embedding(x)
        output, state = run_recurrent(self.recurrent, x, lengths)
        if self.per_step:
            features = output
        elif self.pooling == "last":
            features = final_features(self.recurrent, state)
        else:
            features = pool(output, lengths, self.pooling, self.pool_query)
        return self.head(self.dropout(features))


def pool(output: torch.Tensor, lengths, kind: str, query=None) -> torch.Tensor:
    """``(batch, time, W)`` outputs (zero past each length) pooled over the valid steps."""
    batch, time = output.shape[:2]
    if lengths is None:
        lengths = torch.full((batch,), time, dtype=torch.int64)
    lengths = torch.as_tensor(lengths, dtype=torch.int64)
    valid = torch.arange(time)[None, :] < lengths[:, None]
    if kind == "mean":
        return output.sum(dim=1) / lengths[:, None].to(output.dtype)
    if kind == "max":
        return output.masked_fill(~valid[:, :, None], float("-inf")).max(dim=1).values
    scores = (output @ query).masked_fill(~valid, float("-inf"))
    return (torch.softmax(scores, dim=1)[:, :, None] * output).sum(dim=1)


class TorchSequenceAutoencoder(torch.nn.Module):
    """``rnnfast.nn.SequenceAutoencoder`` in torch: encoder -> code repeated per step -> decoder."""

    def __init__(self, encoder, decoder: TorchSequenceNetwork) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder

    def forward(self, x, lengths=None):
        _, state = run_recurrent(self.encoder, x, lengths)
        code = final_features(self.encoder, state)
        repeated = code[:, None, :].expand(code.shape[0], x.shape[1], code.shape[1])
        return self.decoder(repeated, lengths)


class TorchPredictor(torch.nn.Module):
    """A fitted rnnfast estimator's prediction path (see ``InferencePlan``) in torch."""

    def __init__(
        self,
        network: TorchSequenceNetwork,
        *,
        kind: str,
        input_mean=None,
        input_scale=None,
        per_sequence: bool = False,
        sequence_level: bool = False,
        output_mean=None,
        output_scale=None,
        value_shape=(),
        frame_stride: int = 1,
        frame_size: int | None = None,
        vocabulary_size: int | None = None,
    ) -> None:
        super().__init__()
        self.network = network
        self.kind = kind
        self.value_shape = tuple(value_shape)
        self.frame_stride = frame_stride
        self.frame_size = frame_stride if frame_size is None else frame_size
        self.per_sequence = per_sequence
        self.sequence_level = sequence_level
        self.vocabulary_size = vocabulary_size
        for name, value in [
            ("input_mean", input_mean),
            ("input_scale", input_scale),
            ("output_mean", output_mean),
            ("output_scale", output_scale),
        ]:
            self.register_buffer(name, value)

    def forward(self, x, lengths=None):
        if self.vocabulary_size is not None:  # ids never seen in fit read as the OOV id 1
            x = torch.where(x < self.vocabulary_size, x, torch.ones_like(x))
        if self.per_sequence:
            level = (self.input_mean, self.input_scale) if self.sequence_level else None
            x = standardize_per_sequence(x, lengths, level)
        elif self.input_mean is not None:
            x = (x - self.input_mean.to(x.dtype)) / self.input_scale.to(x.dtype)
        if self.frame_size > 1:
            x, lengths = stack_frames(x, lengths, self.frame_stride, self.frame_size)
        out = self.network(x, lengths)
        if self.kind == "probabilities":
            return torch.softmax(out, dim=-1)
        values = out * self.output_scale + self.output_mean
        return values.reshape(values.shape[0], *self.value_shape)


class TorchEncoderDecoder(torch.nn.Module):
    """``rnnfast.nn.EncoderDecoder`` in torch: ``module(source, source_lengths, target_in,
    target_lengths)`` gives the teacher-forced logits ``(batch, Tt, target_vocabulary)``."""

    def __init__(self, parts: dict, attention_kind: str, attention_params: dict) -> None:
        super().__init__()
        for name, part in parts.items():
            setattr(self, name, part)
        self.attention_kind = attention_kind
        self.attention = torch.nn.ParameterDict(attention_params)

    def forward(self, source, source_lengths, target_in, target_lengths):
        memory, state = run_recurrent(self.encoder, self.source_embedding(source), source_lengths)
        start = torch.tanh(self.bridge(final_features(self.encoder, state)))
        h0 = start[None].expand(self.decoder.num_layers, -1, -1).contiguous()
        hx = (h0, torch.zeros_like(h0)) if isinstance(self.decoder, torch.nn.LSTM) else h0
        embedded = self.target_embedding(target_in)
        if target_lengths is None:
            states, _ = self.decoder(embedded, hx)
        else:
            lengths = torch.as_tensor(target_lengths, dtype=torch.int64).cpu()
            packed = pack_padded_sequence(embedded, lengths, batch_first=True, enforce_sorted=False)
            states, _ = self.decoder(packed, hx)
            states, _ = pad_packed_sequence(
                states, batch_first=True, total_length=embedded.shape[1]
            )
        scores = self._scores(states, memory)
        if source_lengths is not None:
            steps = torch.arange(memory.shape[1])[None, :]
            valid = steps < torch.as_tensor(source_lengths, dtype=torch.int64)[:, None]
            scores = scores.masked_fill(~valid[:, None, :], float("-inf"))
        context = torch.softmax(scores, dim=-1) @ memory
        return self.head(torch.tanh(self.combine(torch.cat([states, context], dim=-1))))

    def _scores(self, states, memory):
        p = self.attention
        if self.attention_kind == "general":
            return states @ (memory @ p["weight"].T).transpose(1, 2)
        hidden = torch.tanh(
            (states @ p["query_weight"].T)[:, :, None, :]
            + (memory @ p["memory_weight"].T)[:, None, :, :]
        )
        return hidden @ p["v"]
