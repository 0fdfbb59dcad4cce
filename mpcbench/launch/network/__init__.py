"""Emulated network: every party its own host (namespace) on links with delay, rate and loss.

Needs root. A launcher uses it like this::

    from mpcbench.launch.network import Emulator, probe

    with Emulator("wan", parties=3) as emu:          # or a Profile, or "my.yaml"
        fidelity = probe(emu)                         # requested vs measured per link
        procs = [host.popen([sys.executable, "-m", "mpcbench.parties.worker", ...],
                            start_new_session=True)  # in host r's namespace and hostname
                 for host in emu.hosts]               # host.address: where rank r listens
        emu.cut(0, 1)                                 # a fault: 100 % loss both ways
        emu.check()                                   # raises if the forwarder died
        record = emu.describe() | {"probe": fidelity}
    # namespaces, TUN devices and the forwarder are gone here (also on errors and SIGTERM)
"""

from . import namespaces
from .emulator import Emulator, NetworkError, netem_available
from .hosts import Host
from .namespaces import cleanup_stale
from .probe import measure_ceiling, probe
from .profiles import CUT, NAMED, Link, Profile, get_profile, load_profile

__all__ = ["CUT", "NAMED", "Emulator", "Host", "Link", "NetworkError", "Profile",
           "cleanup_stale", "get_profile", "load_profile", "measure_ceiling", "namespaces",
           "netem_available", "probe"]
