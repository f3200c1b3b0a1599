#!/usr/bin/python3
"""The PyTorch twins of nabla's transformer modules (include/nabla/nn.h, "transformers";
docs/transformer.md): modules whose state_dict names, shapes and forward are nabla's, so that a
state_dict loads both ways with load_state_dict(strict=True). Imported by
tests/gen_transformer_fixtures.py and tests/torch_check_transformer.py.

  nb_layernorm_new(D, eps)                -> nn.LayerNorm(D, eps)
  nb_mha_new(E, H, p, causal)             -> SelfAttention (an nn.MultiheadAttention(E, H, p,
                                             batch_first=True) called with q = k = v = x)
  nb_transformer_layer_new(...)           -> Layer (an nn.TransformerEncoderLayer)
  nb_transformer_encoder_new(...)         -> Encoder (an nn.TransformerEncoder)
  nb_positional_new(kind, max_len, D)     -> Positions
  nb_token_transformer_new(...)           -> TokenTransformer
Every forward takes x (or token ids) and lengths (a list or None): keys at t >= length are
masked (key_padding_mask); causal adds the subsequent-position mask.
"""
import math

import torch
import torch.nn as nn


def padding_mask(lengths, T):
    """key_padding_mask (N, T) bool, True at padded steps; None without lengths."""
    if lengths is None:
        return None
    return torch.arange(T).unsqueeze(0) >= torch.as_tensor(lengths).unsqueeze(1)


def causal_mask(T):
    """True above the diagonal: query t does not see keys > t (a bool form of
    nn.Transformer.generate_square_subsequent_mask, usable in any float dtype)."""
    return torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)


class SelfAttention(nn.MultiheadAttention):
    """nn.MultiheadAttention(E, H, dropout, batch_first=True) as self-attention: the same
    state_dict (in_proj_weight, in_proj_bias, out_proj.weight, out_proj.bias)."""

    def __init__(self, embed_dim, num_heads, dropout=0.0, causal=False):
        super().__init__(embed_dim, num_heads, dropout=dropout, batch_first=True)
        self.causal = causal

    def forward(self, x, lengths=None):
        T = x.shape[1]
        return super().forward(x, x, x, key_padding_mask=padding_mask(lengths, T),
                               attn_mask=causal_mask(T) if self.causal else None, need_weights=False)[0]


class Layer(nn.TransformerEncoderLayer):
    """nn.TransformerEncoderLayer(d, nhead, ff, dropout, act, batch_first=True, norm_first)."""

    def __init__(self, d_model, nhead, dim_ff, dropout, act, norm_first, causal):
        super().__init__(d_model, nhead, dim_ff, dropout, act, batch_first=True, norm_first=norm_first)
        self.causal = causal

    def forward(self, x, lengths=None):
        T = x.shape[1]
        return super().forward(x, src_mask=causal_mask(T) if self.causal else None,
                               src_key_padding_mask=padding_mask(lengths, T))


class Encoder(nn.TransformerEncoder):
    """nn.TransformerEncoder(layer, num_layers, norm=nn.LayerNorm(d) if final_norm)."""

    def __init__(self, num_layers, d_model, nhead, dim_ff, dropout, act, norm_first, causal, final_norm):
        layer = nn.TransformerEncoderLayer(d_model, nhead, dim_ff, dropout, act, batch_first=True,
                                           norm_first=norm_first)
        super().__init__(layer, num_layers, norm=nn.LayerNorm(d_model) if final_norm else None,
                         enable_nested_tensor=False)
        self.causal = causal

    def forward(self, x, lengths=None):
        T = x.shape[1]
        return super().forward(x, mask=causal_mask(T) if self.causal else None,
                               src_key_padding_mask=padding_mask(lengths, T))


def sinusoid_table(max_len, dim):
    """PyTorch's word_language_model example (PositionalEncoding), float32."""
    pe = torch.zeros(max_len, dim)
    position = torch.arange(0, max_len, dtype=torch.float).unsqueeze(1)
    div_term = torch.exp(torch.arange(0, dim, 2).float() * (-math.log(10000.0) / dim))
    pe[:, 0::2] = torch.sin(position * div_term)
    pe[:, 1::2] = torch.cos(position * div_term)
    return pe


class Positions(nn.Module):
    """x (N, T, D) -> x + P[:T]. learned: parameter weight (max_len, D), N(0, 0.02); sinusoidal:
    a non-persistent buffer (not in the state_dict, as nabla keeps no tensor for it)."""

    def __init__(self, kind, max_len, dim):
        super().__init__()
        self.kind = kind
        if kind == "learned":
            self.weight = nn.Parameter(torch.randn(max_len, dim) * 0.02)
        else:
            self.register_buffer("pe", sinusoid_table(max_len, dim), persistent=False)

    def forward(self, x):
        p = self.weight if self.kind == "learned" else self.pe
        return x + p[:x.shape[1]]


class TokenTransformer(nn.Module):
    """nb_token_transformer_new: embed (padding_idx 0, not scaled by sqrt(d)) + pos -> drop ->
    encoder (final norm when norm_first) -> head at every step."""

    def __init__(self, vocab, max_len, d_model, nhead, num_layers, dim_ff, dropout, act, pos, norm_first,
                 causal, out_features):
        super().__init__()
        self.embed = nn.Embedding(vocab, d_model, padding_idx=0)
        self.pos = Positions(pos, max_len, d_model)
        self.drop = nn.Dropout(dropout)
        self.encoder = Encoder(num_layers, d_model, nhead, dim_ff, dropout, act, norm_first, causal, norm_first)
        self.head = nn.Linear(d_model, out_features)

    def forward(self, ids, lengths=None):
        return self.head(self.encoder(self.drop(self.pos(self.embed(ids))), lengths))
