"""The claims of the spec, one module per family; each module exports CLAIMS."""
