"""The result cache: the same gap again, and the rest of a fill once the user has typed its start."""

from dglsp.server.fill_cache import FillCache

PREFIX = "def area(r):\n    return "
SUFFIX = "\n\nprint(area(2))\n"


def test_the_same_gap_is_served_and_a_different_scope_is_not():
    cache = FillCache()
    cache.put(("m1",), PREFIX, SUFFIX, "3.14 * r * r")
    assert cache.get(("m1",), PREFIX, SUFFIX) == "3.14 * r * r"
    assert cache.get(("m2",), PREFIX, SUFFIX) is None
    assert cache.get(("m1",), PREFIX, SUFFIX.replace("2", "3")) is None


def test_typing_the_suggestion_serves_its_rest_and_typing_something_else_misses():
    cache = FillCache()
    cache.put((), PREFIX, SUFFIX, "3.14 * r * r")
    assert cache.get((), PREFIX + "3.1", SUFFIX) == "4 * r * r"
    assert cache.get((), PREFIX + "2.7", SUFFIX) is None
    assert cache.get((), PREFIX + "3.14 * r * r", SUFFIX) is None  # all typed: nothing left to suggest
    assert cache.get((), PREFIX.replace("area", "zone") + "3", SUFFIX) is None


def test_the_oldest_entry_goes_first():
    cache = FillCache(size=2)
    for i in range(3):
        cache.put((), f"x{i} = ", "", str(i))
    assert cache.get((), "x0 = ", "") is None
    assert cache.get((), "x2 = ", "") == "2"
