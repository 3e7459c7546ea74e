"""The click-through demo: the hub plus a small partner network that signs doctors in."""
