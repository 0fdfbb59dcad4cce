"""Emulated network: every party its own host (namespace) on links with delay, rate and loss."""

from . import namespaces
from .emulator import Emulator, NetworkError, netem_available
from .hosts import Host
from .namespaces import cleanup_stale
from .probe import measure_ceiling, probe
from .profiles import CUT, NAMED, Link, Profile, get_profile, load_profile

__all__ = ["CUT", "NAMED", "Emulator", "Host", "Link", "NetworkError", "Profile",
           "cleanup_stale", "get_profile", "load_profile", "measure_ceiling", "namespaces",
           "netem_available", "probe"]
