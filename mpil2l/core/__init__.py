"""The vocabulary every layer shares: run statuses and values (`runs`), exception types
(`errors`), the polling backoff (`backoff`) and the logger (`console`). Imports nothing else
from mpil2l."""
