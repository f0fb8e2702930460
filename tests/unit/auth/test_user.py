"""with_authenticated_group: upstream's AuthenticatedGroupAdder rule."""

from __future__ import annotations

import pytest

from kajitori.auth import user


@pytest.mark.parametrize(("given", "expected_groups"), [
    (user.UserInfo("jane", groups=("dev",)), ("dev", "system:authenticated")),
    (user.UserInfo("jane"), ("system:authenticated",)),
    (user.UserInfo("jane", groups=("system:authenticated", "dev")),
     ("system:authenticated", "dev")),
    (user.UserInfo("jane", groups=("system:unauthenticated",)), ("system:unauthenticated",)),
    (user.UserInfo("system:anonymous", groups=("x",)), ("x",)),
])
def test_authenticated_group_is_appended_unless_already_decided(
        given: user.UserInfo, expected_groups: tuple[str, ...]) -> None:
    assert user.with_authenticated_group(given).groups == expected_groups


def test_name_uid_and_extra_are_kept() -> None:
    given = user.UserInfo("jane", "42", ("dev",), {"scopes": ("a",)})
    assert user.with_authenticated_group(given) == user.UserInfo(
        "jane", "42", ("dev", "system:authenticated"), {"scopes": ("a",)})
