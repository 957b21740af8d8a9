"""The engine: plain PyTorch + traitlets, usable and tested without any widget (no ipywidgets here)."""
