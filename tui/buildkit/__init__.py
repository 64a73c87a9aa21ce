"""The BuildKit wire: protocol modules, transports, clients, session. No UI imports."""

import os as _os

# grpc's C core otherwise prints INFO lines (e.g. TLS handshake failures) on stderr.
_os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
# No fork handlers in grpc's C core: a fork (a credential helper; a test spawning bxtui in a
# PTY) while its pollers run could leave the child stuck in them before it execs, with
# "Epoll1Poller … epoll_wait error: Bad file descriptor" on its stderr.
_os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")
