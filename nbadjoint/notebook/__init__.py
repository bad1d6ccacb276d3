"""Jupyter front end of nbadjoint: the ``%%adjoint_profile`` magics and the call-tree widget.

``%load_ext nbadjoint`` registers the magics (see :mod:`nbadjoint.notebook.magics`);
``CallTreeWidget(profile)`` (or ``profile.widget()``) shows a Profile interactively.
"""

from .magics import load_ipython_extension, profile_cell, show_profile, source_code, unload_ipython_extension
from nbadjoint.profiling.units import parse_budget
from .widget import CallTreeWidget

__all__ = ["CallTreeWidget", "parse_budget", "load_ipython_extension", "unload_ipython_extension",
           "profile_cell", "show_profile", "source_code"]
