"""segrel: reliability of semantic segmentation models under real and synthetic shifts."""

__version__ = "0.1.0"
