"""ViViT Desktop: live ViViT video classification with temporal-attention read-out."""

__version__ = "0.1.0"
