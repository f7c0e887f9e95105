"""The audit of a trained checkpoint (issue 15), in the order it runs:

    checkpoint   find the folder, read config.json / model.safetensors / tokenizer.json
    encoder      the forward pass with the suite's own layers
    reference    the same with transformers' BertModel (imported only here)
    agreement    the two compared sublayer by sublayer, with the suite's tolerances
    metrics      asymmetry, inertia, PSD distance, nearest c I (matrix functions)
    geometry     each layer's heads as the energy sees them (factors, W+, c, compatible heads)
    assumptions  the metrics per head and per layer, the FFN's linearisations
    descent      per (sentence, layer, head): does the update lower E_att; replacement cost
    depth        energy per depth
    sentences    the text
    findings     claims with verdicts and numbers, from the computed report
    pipeline     audit_checkpoint: all of it, one JSON-ready dict
"""
