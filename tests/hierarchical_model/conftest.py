"""The package must not rely on JAX's 64-bit mode being on in the process (issue 10): in these tests a float64
request that JAX would silently truncate to float32 (x64 off outside the package's scoped calls) is an error."""

from pathlib import Path

import pytest

_HERE = Path(__file__).parent


def pytest_collection_modifyitems(items):
    for item in items:
        if _HERE in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.filterwarnings("error:Explicitly requested dtype float64"))
