"""What acts for a user on top of the chains, and the application shell that drives it.

Agents: :mod:`~babelrag.agents.writer` (writing-assistant sessions), :mod:`~babelrag.agents.dialogue`
(chat sessions), :mod:`~babelrag.agents.scripting` with :mod:`~babelrag.agents.script_backend`
(scripted runs). Shell: :mod:`~babelrag.agents.config` (settings), :mod:`~babelrag.agents.runtime`
(the composition root, the one place that loads models, opens Chroma and builds chains),
:mod:`~babelrag.agents.cli` (the command line) and :mod:`~babelrag.agents.console` (terminal output).
Sub-packages: :mod:`~babelrag.agents.evaluation`, :mod:`~babelrag.agents.modelpack`.
"""
