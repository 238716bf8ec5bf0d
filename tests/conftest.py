"""Test-wide settings: no persistent JAX compilation cache (sims/cli.py enables one for `hmodel` in the user's
cache folder; the tests call the CLI in-process and must not write outside their temporary folders)."""

import os

os.environ.setdefault("HMODEL_JAX_CACHE", "")
