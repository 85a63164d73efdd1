"""The tests, laid out like the code: tests/<package>/test_<module>.py tests <package>/<module>.py
(tests/README.md). A package, so that two test files may share a name in different folders and
the helper modules here import as `tests.<helper>` from anywhere."""
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent   # the repository
REFERENCE_DIR = ROOT / "tests" / "reference"    # numbers computed by other libraries' versions
