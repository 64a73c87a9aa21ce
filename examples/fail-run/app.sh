#!/bin/sh
# A tiny "application" whose test step fails, for the demo.
case "$1" in
  prepare) echo "prepared" > /work/prepared.txt ;;
  test) echo "running tests in $(pwd) as $(id -u)"; echo "test 3 failed: expected 42, got 41" >&2; exit 3 ;;
esac
