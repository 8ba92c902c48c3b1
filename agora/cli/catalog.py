"""What is available here: ``models`` (backends and local models) and ``personas``.

Every cell is plain text, never rich markup, so an install hint's extra (``'agora[local]'``) prints as written.
"""

from __future__ import annotations

from agora.cli.common import console


def models() -> None:
    """List the backends, whether each is usable here, and why not."""
    from rich.table import Table
    from rich.text import Text

    from agora.backends import BACKENDS
    from agora.redaction import redact
    from agora.weights import CATALOGUE, DEFAULT_MODEL

    table = Table("backend", "usable", "why", "example spec")
    examples = {
        "local": "local, local:smollm2-135m, local:/path/model.gguf",
        "openai": "openai:gpt-4o-mini, openai:qwen@http://127.0.0.1:8080/v1",
        "anthropic": "anthropic:claude-sonnet-4-5",
        "langchain": "langchain:my_pkg.models:chat",
        "scripted": "scripted:replies.json",
    }
    for kind, cls in BACKENDS.items():
        status = cls.availability()
        usable = "yes" if status.usable else "no"
        table.add_row(*map(Text, (kind, usable, redact(status.reason), examples.get(kind, ""))))
    console().print(table)
    local = Table("local model", "installed", "size", "extra")
    for model in CATALOGUE.values():
        name = model.name + (" (default)" if model.name == DEFAULT_MODEL else "")
        installed = "yes" if not model.missing_parts() else "no"
        local.add_row(*map(Text, (name, installed, f"{model.size / 1e6:.0f} MB", model.extra)))
    console().print(local)


def personas() -> None:
    """List the personas found (bundled, ./personas and $AGORA_PERSONAS)."""
    from rich.table import Table
    from rich.text import Text

    from agora.personas import available_personas, load_persona

    table = Table("persona", "description", "file")
    for name, path in sorted(available_personas().items()):
        table.add_row(*map(Text, (name, load_persona(name).description, str(path))))
    console().print(table)
