"""The public data folder beside the checkout (`../shared/data/`), read by tests only.

Fixture files are copied into temporary folders by the tests, never into the repository.
"""

from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


def shared_path(*parts: str) -> Path:
    """A file or folder of the shared data; the test is skipped, saying why, when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(
            f"{path} is absent: this test reads public data from the shared folder beside the "
            "checkout (see shared/data/README.md) and cannot run without it."
        )
    return path


def fixture(name: str) -> bytes:
    """The bytes of one of the FDA's NDC Directory test fixtures."""
    return shared_path("ndc", "fda_test_fixtures", name).read_bytes()


def finished_fixture() -> tuple[list[bytes], list[bytes]]:
    """Lines (header first) of the FDA's finished-layout product and package fixtures."""
    return (
        fixture("ndc__tests__product_trimmed.txt").splitlines(),
        fixture("ndc__tests__package_trimmed.txt").splitlines(),
    )


def joined(lines: list[bytes]) -> bytes:
    return b"\n".join(lines) + b"\n"


def ndc_folder(tmp_path: Path, product: bytes, package: bytes) -> Path:
    """A folder holding product.txt and package.txt with the given bytes."""
    folder = tmp_path / "ndc"
    folder.mkdir(parents=True)
    (folder / "product.txt").write_bytes(product)
    (folder / "package.txt").write_bytes(package)
    return folder
