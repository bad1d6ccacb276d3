"""Adjoint profiling: probe recorder, call-tree cost model, checkpoint advisor and reports.

``profile(f, *args)`` (``nba.profile``) returns a `Profile`.  The name ``profile`` here is the
function; the module that defines it is ``nbadjoint.profiling.profile``.
"""

from nbadjoint.errors import ProbeError, ProfileError
from nbadjoint.profiling.profile import ParetoPoint, Profile, SiteRecord
from nbadjoint.profiling.profile import profile
from nbadjoint.profiling.recorder import Recorder

__all__ = ["profile", "Profile", "ProfileError", "ParetoPoint", "SiteRecord", "Recorder",
           "ProbeError"]
