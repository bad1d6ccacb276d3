"""Adjoint profiling: probe recorder, call-tree cost model, checkpoint advisor and reports.

``profile(f, *args)`` (``nba.profile``) returns a `Profile`: its measurements (``.data``, a
frozen `ProfileData`, what its JSON holds) and the live `ProfileSession` that reruns it.  The
name ``profile`` here is the function; the module that defines it is
``nbadjoint.profiling.profile``.
"""

from nbadjoint.errors import ProbeError, ProfileError
from nbadjoint.profiling.profile import ParetoPoint, Profile, ProfileData, ProfileSession, SiteRecord
from nbadjoint.profiling.profile import profile
from nbadjoint.profiling.recorder import Recorder

__all__ = ["profile", "Profile", "ProfileData", "ProfileSession", "ProfileError", "ParetoPoint",
           "SiteRecord", "Recorder", "ProbeError"]
