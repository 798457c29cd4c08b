"""One polling policy for every wait loop in mpil2l.

MPICH's blocking receive busy-polls a core. Rank 0 and idle workers share nodes (and, in
tests, two cores) with busy workers, so every wait is a non-blocking probe followed by a
sleep that starts short and grows by a quarter each time: a message that arrives right away
is seen within microseconds, one that arrives after a wait of t is seen about t/10 late (a
doubling sleep would make that t/2), and a rank that waits long wakes a few thousand times
a second at most.
"""

import ctypes
import ctypes.util
import sys
import time

# A few probes without sleeping catch replies that are already on their way.
SPIN_POLLS = 8
MIN_SLEEP = 10e-6
MAX_SLEEP = 500e-6
GROWTH = 1.25  # each sleep this much longer than the one before, up to the maximum
TIMER_SLACK_NS = 1000


def _reduce_timer_slack():
    """Linux rounds every sleep up by the thread's timer slack (50 us by default), which would
    make the short first sleeps of a backoff five times longer than asked."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        PR_SET_TIMERSLACK = 29
        libc.prctl(PR_SET_TIMERSLACK, TIMER_SLACK_NS, 0, 0, 0)
    except (OSError, AttributeError):
        pass


_reduce_timer_slack()


class Backoff:
    """Sleep between polls: ``SPIN_POLLS`` free polls, then sleeps growing by `GROWTH` from
    `min_sleep` to `max_sleep`; `reset()` after progress.

    Example:
        >>> b = Backoff()
        >>> for _ in range(20):
        ...     b.sleep()
        >>> b.reset()
    """

    __slots__ = ("min_sleep", "max_sleep", "_polls", "_delay")

    def __init__(self, min_sleep=MIN_SLEEP, max_sleep=MAX_SLEEP):
        self.min_sleep = min_sleep
        self.max_sleep = max_sleep
        self.reset()

    def reset(self):
        self._polls = 0
        self._delay = self.min_sleep

    def sleep(self, at_most=None):
        """Sleeps for the next delay, or for `at_most` seconds if that is shorter."""
        if self._polls < SPIN_POLLS:
            self._polls += 1
            return
        time.sleep(self._delay if at_most is None else max(0.0, min(self._delay, at_most)))
        self._delay = min(self._delay * GROWTH, self.max_sleep)
