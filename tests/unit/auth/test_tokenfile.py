"""TokenFile: upstream's --token-auth-file CSV, cases from upstream's tokenfile_test.go."""

from __future__ import annotations

from pathlib import Path

import pytest

from kajitori.auth import tokenfile
from kajitori.auth.user import UserInfo

UPSTREAM_FILE = """
token1,user1,uid1
token2,user2,uid2
token3,user3,uid3,"group1,group2"
token4,user4,uid4,"group2"
token5,user5,uid5,group5
token6,user6,uid6,group5,otherdata
token7,user7,uid7,"group1,group2",otherdata
"""


@pytest.fixture
def tokens(tmp_path: Path) -> tokenfile.TokenFile:
    path = tmp_path / "tokens.csv"
    path.write_text(UPSTREAM_FILE)
    return tokenfile.TokenFile.load(path)


@pytest.mark.parametrize(("token", "expected"), [
    ("token1", UserInfo("user1", "uid1")),
    ("token2", UserInfo("user2", "uid2")),
    ("token3", UserInfo("user3", "uid3", ("group1", "group2"))),
    ("token4", UserInfo("user4", "uid4", ("group2",))),
    ("token5", UserInfo("user5", "uid5", ("group5",))),
    ("token6", UserInfo("user6", "uid6", ("group5",))),
    ("token7", UserInfo("user7", "uid7", ("group1", "group2"))),
    ("token8", None),
    ("", None),
])
def test_token_maps_to_its_user(tokens: tokenfile.TokenFile, token: str,
                                expected: UserInfo | None) -> None:
    assert tokens.authenticate_token(token) == expected


@pytest.mark.parametrize("text", ["token1,user1,uid1\ntoken2,user2,uid2\ntoken3,user3\ntoken4\n",
                                  "token4\n"])
def test_record_with_fewer_than_three_columns_is_rejected(text: str) -> None:
    with pytest.raises(tokenfile.TokenFileError) as info:
        tokenfile.TokenFile.parse(text, source="/etc/tokens.csv")
    assert str(info.value).startswith(
        "token file '/etc/tokens.csv' must have at least 3 columns (token, user name, user uid), "
        "found ")


def test_unterminated_quote_is_rejected() -> None:
    with pytest.raises(tokenfile.TokenFileError, match=r"^token file '/etc/tokens\.csv': "):
        tokenfile.TokenFile.parse('token1,user1,uid1,"group1\n', source="/etc/tokens.csv")


def test_empty_token_is_skipped_and_later_duplicate_wins() -> None:
    tokens = tokenfile.TokenFile.parse(",nobody,0\nabc,first,1\nabc,second,2\n", source="t.csv")
    assert tokens.authenticate_token("") is None
    assert tokens.authenticate_token("abc") == UserInfo("second", "2")


def test_empty_group_column_is_one_empty_group_as_upstream() -> None:
    tokens = tokenfile.TokenFile.parse("abc,jane,1,\n", source="t.csv")
    assert tokens.authenticate_token("abc") == UserInfo("jane", "1", ("",))
