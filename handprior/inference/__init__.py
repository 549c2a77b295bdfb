"""Refining a user's own sequences with a trained checkpoint: readers/writers, conventions, the Refiner."""

from handprior.inference.refine import Refiner

__all__ = ["Refiner"]
