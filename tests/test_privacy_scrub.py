from hubbub.privacy import Pseudonymiser, scrub_text


def test_scrub_whole_words_case_insensitive():
    r = {"LachiVeronica": "acct_1", "Veronica Lachi": "acct_1", "1379899464345923590": "acct_1", "al": "acct_2"}
    s = ('{"username": "LachiVeronica", "name": "Veronica Lachi", "id": "1379899464345923590", '
         '"url": "https://twitter.com/lachiveronica/status/1", "other": "113798994643459235901", '
         '"text": "al, also alfalfa"}')
    out = scrub_text(s, r)
    assert "LachiVeronica" not in out and "lachiveronica" not in out and "Veronica Lachi" not in out
    assert '"id": "acct_1"' in out
    assert "113798994643459235901" in out  # a longer number is not the id
    assert "acct_2, also alfalfa" in out  # whole words only


def test_scrub_unicode_lowercase_length_change_falls_back():
    r = {"İstanbulHaber": "acct_9"}
    assert scrub_text("RT İstanbulHaber: x", r) == "RT acct_9: x"


def test_keys_are_per_platform_and_stable():
    p = Pseudonymiser(b"k" * 32)
    assert p.key("twitter", None, "Alice") == p.key("twitter", None, "@alice")
    assert p.key("twitter", None, "alice") != p.key("mastodon", None, "alice")
    assert p.key("twitter", "12", None) != p.key("twitter", None, "12")
    assert Pseudonymiser(b"x" * 32).key("twitter", None, "alice") != p.key("twitter", None, "alice")


def test_numeric_ids_in_json_stay_valid_json():
    import orjson

    from hubbub.privacy import lowered_idents, scrub_lowered

    raw = orjson.dumps({"from_id": {"user_id": 6482024171}, "peer": "6482024171", "n": 164820241712})
    out = scrub_lowered(raw.decode(), lowered_idents({"6482024171": "acct_1"}), json=True)
    assert orjson.loads(out) == {"from_id": {"user_id": "acct_1"}, "peer": "acct_1", "n": 164820241712}


def test_handles_named_in_links():
    from hubbub.privacy import handles_in_links

    found = handles_in_links(
        "https://twitter.com/JavierBlas/status/1 https://x.com/abc_d netflix.com/title https://t.me/durov "
        "https://www.facebook.com/luisfonsi/photos/a.1/2 https://www.facebook.com/groups/300176403665207 "
        "https://facebook.com/watch/?v=1 notfacebook.com/abcdef https://twitter.com/search?q=x"
    )
    assert ("twitter", "JavierBlas") in found and ("twitter", "abc_d") in found
    assert ("telegram", "durov") in found and ("facebook", "luisfonsi") in found
    assert not any(h in ("title", "groups", "watch", "abcdef", "search") for _, h in found)


def test_one_mention_pattern_finds_what_the_platform_links():
    from hubbub.privacy import MENTION_RE
    from hubbub.text.tokens import tokens

    cases = {
        "#Оборона@rus_improvisation x": ["rus_improvisation"],  # after a non-ASCII letter
        "@@handle hi": ["handle"],
        "@Ramboff_713Мне": ["Ramboff_713"],  # a non-ASCII letter ends the handle
        "RT@bob_s: x": ["bob_s"],
        "line\n@bob_smith": ["bob_smith"],
        "@user@mastodon.social hi": ["user@mastodon.social"],
        "(@bob).": ["bob"],
        "mail bob@example.com or ART@x": [],  # e-mail addresses, not mentions
        "https://medium.com/@bob": [],  # a path: profile links are handled by handles_in_links
    }
    for text, want in cases.items():
        assert MENTION_RE.findall(text) == want, text
    assert tokens("#Оборона@acct_0123456789abcdef01234567 танки") == ["оборона", "танки"]
