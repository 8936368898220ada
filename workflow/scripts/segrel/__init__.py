"""segrel: reliability of semantic segmentation models under real and synthetic shifts."""

__version__ = "0.1.0"


def resolve_device(setting: str) -> str:
    """A config device setting ("auto", "cpu", "cuda") -> the torch device to use."""
    if setting != "auto":
        return setting
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
