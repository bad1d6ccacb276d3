"""Jupyter front end of nbadjoint: the ``%%adjoint_profile`` magics and the call-tree widget.

``%load_ext nbadjoint`` registers the magics (see :mod:`nbadjoint.notebook.magics`);
``CallTreeWidget(profile)`` (or ``profile.widget()``) shows a Profile interactively.
"""

from .widget import CallTreeWidget, parse_budget

__all__ = ["CallTreeWidget", "parse_budget"]
