"""The claims, one folder per family (discovered, never listed).

A family folder `properties/<family>/` holds everything that knows the family: its case
descriptions (`cases.py`), its assumptions (`assumptions.py`), its checks (`checks.py`), its
certificates, the spec's counterexamples, the claim declarations (`claims.py`), what the
report says about it (`report.py`, optional) and its tests. Its `__init__.py` exports:

    ORDER    where the family stands in reports (the spec's order)
    CLAIMS   the family's claims
    extras   (optional) seed -> data the report shows beside the claims, computed at run end
    section  (optional) (family data, report JSON) -> markdown lines at the head of its chapter
    findings (optional) (family data, report JSON) -> markdown lines for the report's findings
    figures  (optional) (family data, folder) -> picture files written there

The first line of its docstring names it in the report ("ATT: softmax self-attention as ...").
"""
