"""The BuildKit wire: protocol modules, transports, clients, session. No UI imports."""

import os as _os

# grpc's C core otherwise prints INFO lines (e.g. TLS handshake failures) on stderr.
_os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
