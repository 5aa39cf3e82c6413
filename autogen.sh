#!/bin/sh
# Make the configure script and Makefile.in files from a git checkout.
set -e
cd "$(dirname "$0")"
autoreconf --force --install
