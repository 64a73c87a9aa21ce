"""fsutil-compatible directory transfer: patterns, walker and the DiffCopy protocol."""
