"""The ``caleol`` command line: thin, parses input, calls the layers below, reports errors clearly.

Exit codes shared by every command: 0 success; 1 a check failed (e.g. tampering found);
2 unusable input (bad arguments, malformed JSON, unknown ids).
"""

from __future__ import annotations

import importlib

import click

#: Modules that each define one or more commands and register them on ``main``.
COMMAND_MODULES = (
    "api.cli.decide",
    "api.cli.ledger_cmds",
    "api.cli.verify",
    "api.cli.documents",
    "api.cli.projections_cmds",
    "api.cli.audit",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """CALEOL Ledger: remote housing-allocation commissions on a signed, verifiable ledger."""


for _module in COMMAND_MODULES:
    importlib.import_module(_module)
