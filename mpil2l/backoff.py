"""One polling policy for every wait loop in mpil2l.

MPICH's blocking receive busy-polls a core. Rank 0 and idle workers share nodes (and, in
tests, two cores) with busy workers, so every wait is a non-blocking probe followed by a
sleep that starts short and doubles: a message that arrives right away is seen within
microseconds, and a rank that waits long wakes a few thousand times a second at most.
"""

import time

# A few probes without sleeping catch replies that are already on their way.
SPIN_POLLS = 8
# time.sleep() on Linux rarely returns in under ~55 us, so starting lower only costs wake-ups.
MIN_SLEEP = 50e-6
MAX_SLEEP = 500e-6


class Backoff:
    """Sleep between polls: ``SPIN_POLLS`` free polls, then sleeps doubling from `min_sleep` to
    `max_sleep`; `reset()` after progress.

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

    def sleep(self):
        if self._polls < SPIN_POLLS:
            self._polls += 1
            return
        time.sleep(self._delay)
        self._delay = min(self._delay * 2, self.max_sleep)
