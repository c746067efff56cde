"""Prompt templates kept as files (YAML). Read by :mod:`babelrag.chains`."""

from pathlib import Path

PROMPTS_DIR = Path(__file__).resolve().parent
