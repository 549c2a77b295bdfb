"""handprior: prior-aware dynamic temporal refinement of sequential 3D hand pose."""

__version__ = "0.1.0"
