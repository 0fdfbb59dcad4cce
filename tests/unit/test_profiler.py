import mmap
import time

from mpcbench.parties.base import CommCounters
from mpcbench.parties.profiler import Profiler


class FakeComm:
    def __init__(self):
        self.sent = 0
        self.barriers = 0

    def counters(self):
        return CommCounters(bytes_sent=self.sent, bytes_received=2 * self.sent,
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
    prof.close()
    s = prof.samples[(1, "infer")]
    assert 0.1 <= s.wall_s < 1.0
    assert s.bytes_sent == 300 and s.bytes_received == 600 and s.rounds == 30
    assert s.peak_rss_bytes > prof.samples[(0, "setup")].peak_rss_bytes + 20 * 2**20
    assert comm.barriers == 3  # setup was not synchronised
    assert prof.max_rss_bytes() >= s.peak_rss_bytes * 0.9
