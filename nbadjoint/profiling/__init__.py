"""Adjoint profiling: probe recorder, call-tree cost model, checkpoint advisor and reports.

``nba.profile(f, *args)`` (in `nbadjoint.profiling.profile`) returns a `Profile`.
"""

from nbadjoint.profiling.profile import ParetoPoint, Profile, ProfileError, SiteRecord
from nbadjoint.profiling.recorder import ProbeError, Recorder

__all__ = ["Profile", "ProfileError", "ParetoPoint", "SiteRecord", "Recorder", "ProbeError"]
