"""The reference forward pass: `transformers`' BertModel built from the same config and weights.

Run in float64 (the weights cast up) with eager attention, one unpadded sentence at a time (so
no attention mask), dropout off. Forward hooks on each layer's two LayerNorm modules capture the
states after each sublayer, so the suite's layers can be compared sublayer by sublayer.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from verify.running.audit.checkpoint import Checkpoint, CheckpointError, require


def reference_forward(checkpoint: Checkpoint, dtype: torch.dtype = torch.float64) -> Callable[[Tensor, Tensor], list[Tensor]]:
    """A function (ids, type_ids) -> [X_0, Z_0, X_1, ..., X_L] computed by transformers' BertModel."""
    require("transformers")
    from transformers import BertConfig, BertModel

    config = BertConfig(**{k: v for k, v in checkpoint.config_json.items() if k not in ("architectures", "transformers_version")})
    config._attn_implementation = "eager"
    model = BertModel(config, add_pooling_layer=False)
    state = {k: v for k, v in checkpoint.state.items() if not k.startswith("pooler.") and k != "embeddings.position_ids"}
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("position_ids") and not k.endswith("token_type_ids")]
    if missing or unexpected:
        raise CheckpointError(f"model: the weights do not fit BertModel (missing {missing[:3]}, unexpected {unexpected[:3]})")
    model = model.to(dtype).eval()
    captured: list[Tensor] = []
    for layer in model.encoder.layer:
        for norm in (layer.attention.output.LayerNorm, layer.output.LayerNorm):
            norm.register_forward_hook(lambda module, inputs, output: captured.append(output.detach()[0]))

    def forward(ids: Tensor, type_ids: Tensor) -> list[Tensor]:
        captured.clear()
        with torch.no_grad():
            out = model(input_ids=ids[None], token_type_ids=type_ids[None], output_hidden_states=True)
        hidden = [h[0] for h in out.hidden_states]
        if len(captured) != 2 * len(model.encoder.layer) or any(
            not torch.equal(captured[2 * l + 1], hidden[l + 1]) for l in range(len(model.encoder.layer))
        ):
            raise RuntimeError("the reference model's hooks did not capture one state per sublayer")
        return [hidden[0], *captured]

    return forward
