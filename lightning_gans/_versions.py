"""The Lightning versions lightning-gans is tested with, and a warning on import outside them.

``lightning_gans/_compat.py`` reaches into Lightning internals (each use listed there), which a new
Lightning minor may change without notice. ``pyproject.toml`` therefore caps Lightning below the next
minor, and CI runs the version pinned in ``requirements/lock.txt``. pip honours the cap, but an
environment can still end up outside it (``pip install -U lightning`` afterwards, ``--no-deps``, a
source checkout on ``PYTHONPATH``); importing the package then warns once, naming the versions.

``tests/scripts/test_setup_env.py`` checks that :data:`LIGHTNING_TESTED` is exactly pyproject's ``lightning``
requirement and that the locked Lightning version lies inside it.
"""

from __future__ import annotations

import warnings

__all__ = ["LIGHTNING_TESTED", "UntestedVersionWarning", "check_lightning_version"]

#: pyproject's ``lightning`` specifier: 2.6.2 and 2.6.3 were withdrawn upstream; 2.7 is untested.
LIGHTNING_TESTED = ">=2.5,!=2.6.2,!=2.6.3,<2.7"

_warned: set[str] = set()


class UntestedVersionWarning(UserWarning):
    """A dependency's installed version lies outside the range lightning-gans is tested with."""


def check_lightning_version(version: str | None = None) -> bool:
    """Warn (once per version and process) when Lightning's version is outside :data:`LIGHTNING_TESTED`.

    Called once by ``import lightning_gans``.

    Args:
        version: the version to check (default: the installed ``lightning.__version__``).

    Returns:
        ``True`` when the version is inside the tested range.

    Example:
        >>> check_lightning_version("2.6.6")
        True
    """
    from packaging.specifiers import SpecifierSet
    from packaging.version import InvalidVersion, Version

    if version is None:
        import lightning

        version = lightning.__version__
    try:
        inside = Version(version) in SpecifierSet(LIGHTNING_TESTED, prereleases=True)
    except InvalidVersion:
        inside = False
    if not inside and version not in _warned:
        _warned.add(version)
        warnings.warn(
            f"lightning-gans is tested with lightning {LIGHTNING_TESTED}; lightning {version} is installed. "
            "It may work, but lightning_gans/_compat.py relies on Lightning internals that change between "
            'minor versions: install a tested one with `pip install "lightning' + LIGHTNING_TESTED + '"`.',
            UntestedVersionWarning,
            stacklevel=2,
        )
    return inside
