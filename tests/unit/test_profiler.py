import math
import mmap
import time

from mpcbench.parties.base import CommCounters
from mpcbench.parties.profiler import Profiler


class FakeComm:
    def __init__(self):
        self.sent = 0
        self.received = 0
        self.barriers = 0

    def counters(self):
        return CommCounters(bytes_sent=self.sent, bytes_received=self.received,
                            rounds=self.sent // 10)

    def barrier(self):
        self.barriers += 1


def test_phases_accumulate_time_memory_and_traffic():
    comm = FakeComm()
    prof = Profiler(comm.counters, comm.barrier)
    with prof.phase("setup", sync=False):
        pass
    for _ in range(3):
        with prof.phase("infer", repeat=1):
            time.sleep(0.02)
            # 30 MiB of fresh pages (a new mapping, not reused heap), touched
            with mmap.mmap(-1, 30 * 2**20) as blob:
                blob.write(b"\x01" * len(blob))
                time.sleep(0.02)
            comm.sent += 100
            comm.received += 200
    prof.close()
    s = prof.samples[(1, "infer")]
    assert 0.1 <= s.wall_s < 1.0
    assert s.bytes_sent == 300 and s.bytes_received == 600 and s.rounds == 30
    assert s.peak_rss_bytes > prof.samples[(0, "setup")].peak_rss_bytes + 20 * 2**20
    assert comm.barriers == 4  # setup was not synchronised; close collects the last bytes
    assert prof.max_rss_bytes() >= s.peak_rss_bytes * 0.9


def _touch(mib):
    blob = mmap.mmap(-1, mib * 2**20)
    blob.write(b"\x01" * len(blob))
    return blob


def test_peak_rss_is_exact_per_phase_and_nested_phases_combine():
    prof = Profiler(FakeComm().counters)
    assert prof._exact, "this machine resets VmHWM through /proc/self/clear_refs"
    with prof.phase("total", sync=False):
        with prof.phase("share", sync=False):
            with _touch(64):
                pass  # 64 MiB touched and released inside share
        with prof.phase("infer", sync=False):
            pass
    prof.close()
    share, infer, total = (prof.samples[(0, p)].peak_rss_bytes
                           for p in ("share", "infer", "total"))
    # infer starts after share's mapping is gone: its peak is not share's
    assert share > infer + 50 * 2**20
    assert total >= share  # an outer phase's peak includes what its inner phases saw
    assert prof.max_rss_bytes() >= share


def test_barrier_traffic_is_not_counted_in_phases():
    comm = FakeComm()
    late = []

    def barrier():
        comm.sent += 7  # what a barrier over the data connections carries, each way
        comm.received += 7 + sum(late)  # ... and bytes of the last phase still on their way
        late.clear()
        comm.barriers += 1

    prof = Profiler(comm.counters, barrier)
    with prof.phase("total"):
        for _ in range(2):
            with prof.phase("infer"):
                comm.sent += 100
                comm.received += 90
                late.append(10)  # the peer's last 10 bytes arrive after this party is done
    prof.close()
    s, total = prof.samples[(0, "infer")], prof.samples[(0, "total")]
    assert comm.barriers == 4 and comm.sent == 228
    assert s.bytes_sent == 200 and s.bytes_received == 200
    assert total.bytes_sent == 200 and total.bytes_received == 200


def test_uncounted_rounds_are_missing_not_zero():
    prof = Profiler(lambda: CommCounters(bytes_sent=0, rounds=None))
    with prof.phase("infer", sync=False):
        pass
    assert math.isnan(prof.samples[(0, "infer")].rounds)


def test_profiler_off_times_only_total(monkeypatch):
    monkeypatch.setenv("MPCBENCH_PROFILE", "0")
    comm = FakeComm()
    prof = Profiler(comm.counters, comm.barrier)
    with prof.phase("total"):
        with prof.phase("infer"):
            time.sleep(0.01)
    assert list(prof.samples) == [(0, "total")] and comm.barriers == 1  # total's only
    total = prof.samples[(0, "total")]
    assert total.wall_s >= 0.01 and math.isnan(total.peak_rss_bytes)
    assert math.isnan(total.bytes_sent)
