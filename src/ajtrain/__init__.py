"""ajtrain: train a tool-using operations agent to pick the right machine before acting.

Stages (one module or subpackage each): ``shutdown`` (generate), ``toucan`` (load), ``mix``,
``train``, ``eval``; plus ``records`` (the one format between them), ``fleet`` (the simulated
environment and its MCP server) and ``guard`` (the runtime check on destructive calls).
"""

__version__ = "0.1.0"
