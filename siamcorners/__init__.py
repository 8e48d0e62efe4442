"""SiamCorners: Siamese corner networks for visual tracking, in plain PyTorch."""
__version__ = "0.1.0"
