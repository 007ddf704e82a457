"""Generate the phone fast path's rules from ``phonenumbers``' own metadata.

The dbt models normalize most phone numbers in SQL and call the ``normalize_phone`` UDF only
for the rest. The SQL (``macros/phone_fast_path.sql``) re-enacts ``phonenumbers.parse`` +
``is_valid_number`` + E.164 formatting step by step for inputs of a simple shape (digits, one
leading ``+``, spaces, dots, dashes, slashes, parentheses). Every region-specific constant it
needs comes from here: country calling codes, international and national prefixes, the general
pattern and possible lengths of each region, and the validity rules of each calling code (the
number-type patterns of every region sharing it, tried in ``phonenumbers``' order).

The rules are written to ``macros/phone_fast_path_rules.sql`` as a dbt macro that returns them.
That file is generated: run ``python -m spotify_audiences.udfs.phone_fast_path`` after upgrading
``phonenumbers``; a test fails while the committed file differs from what the installed version
generates, so the SQL can never drift from the UDF.

Patterns are rewritten from ``phonenumbers``' syntax (``\\d``, ``(?:...)``) into a portable
subset (``[0-9]``, plain groups, bracket classes, ``?`` and ``{m,n}``) that DuckDB's RE2 and
Snowflake's POSIX regular expressions read the same way. A prefix whose meaning depends on
regex match semantics (which alternative wins) is used only when it is a finite, prefix-free set
of literals; otherwise the SQL only tests whether it matches and leaves the number to the UDF.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from itertools import product
from pathlib import Path

import phonenumbers
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE
from phonenumbers.phonemetadata import PhoneMetadata, PhoneNumberDesc
from phonenumbers.phonenumberutil import ValidationResult, _test_number_length

RULES_PATH = Path(__file__).resolve().parent.parent / "macros" / "phone_fast_path_rules.sql"

# National numbers (no "+" or international prefix) are handled in SQL when read in one of these
# regions: the largest ad markets. International numbers are handled for every calling code of
# these regions (with all the regions sharing it, e.g. the 25 of +1). Anything else goes to the UDF.
REGIONS = (
    "US", "CA", "MX", "BR", "AR", "CO",
    "GB", "IE", "DE", "AT", "CH", "FR", "BE", "NL", "ES", "PT", "IT", "SE", "NO", "DK", "PL",
    "ZA", "NG", "IN", "JP", "AU",
)  # fmt: skip

# Number types in the order phonenumbers' _number_type_helper tries them.
NUMBER_TYPES = (
    "premium_rate",
    "toll_free",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
    "fixed_line",
    "mobile",
)
# Lengths after which parse() puts a stripped national prefix back.
_STRIPPING_REJECTED = (
    ValidationResult.TOO_SHORT,
    ValidationResult.IS_POSSIBLE_LOCAL_ONLY,
    ValidationResult.INVALID_LENGTH,
)
# Finite prefix languages larger than this are treated as patterns (tested, not stripped).
MAX_LITERALS = 256
DIGITS = "0123456789"


class PatternError(ValueError):
    """A metadata pattern uses syntax outside the subset this module understands."""


# --- A parser for the regex subset phonenumbers' metadata uses --------------------------------


@dataclass(frozen=True)
class Chars:
    """One character out of a set of digits (a literal digit, a class, or ``\\d``)."""

    digits: frozenset[str]


@dataclass(frozen=True)
class Seq:
    """Items one after the other."""

    items: tuple[Node, ...]


@dataclass(frozen=True)
class Alt:
    """One of several options (a group with ``|``)."""

    options: tuple[Node, ...]


@dataclass(frozen=True)
class Repeat:
    """``node`` repeated between ``low`` and ``high`` times (``?`` and ``{m}``/``{m,n}``)."""

    node: Node
    low: int
    high: int


@dataclass(frozen=True)
class End:
    """``$``: the end of the input."""


Node = Chars | Seq | Alt | Repeat | End


class _Parser:
    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self.pos = 0

    def fail(self, what: str) -> PatternError:
        return PatternError(f"{what} at {self.pos} in {self.pattern!r}")

    def peek(self) -> str:
        return self.pattern[self.pos] if self.pos < len(self.pattern) else ""

    def parse(self) -> Node:
        node = self.alternation()
        if self.pos != len(self.pattern):
            raise self.fail("unexpected character")
        return node

    def alternation(self) -> Node:
        options = [self.sequence()]
        while self.peek() == "|":
            self.pos += 1
            options.append(self.sequence())
        return options[0] if len(options) == 1 else Alt(tuple(options))

    def sequence(self) -> Node:
        items: list[Node] = []
        while self.peek() not in ("", "|", ")"):
            items.append(self.quantified(self.atom()))
        return items[0] if len(items) == 1 else Seq(tuple(items))

    def atom(self) -> Node:
        char = self.peek()
        if char and char in DIGITS:
            self.pos += 1
            return Chars(frozenset(char))
        if self.pattern.startswith("\\d", self.pos):
            self.pos += 2
            return Chars(frozenset(DIGITS))
        if char == "$":
            self.pos += 1
            return End()
        if char == "[":
            return self.char_class()
        if char == "(":
            self.pos += 3 if self.pattern.startswith("(?:", self.pos) else 1
            node = self.alternation()
            if self.peek() != ")":
                raise self.fail("unclosed group")
            self.pos += 1
            return node
        raise self.fail(f"unsupported syntax {char!r}")

    def char_class(self) -> Node:
        self.pos += 1
        digits: set[str] = set()
        while self.peek() != "]":
            if not self.peek():
                raise self.fail("unclosed class")
            if self.pattern.startswith("\\d", self.pos):
                digits.update(DIGITS)
                self.pos += 2
                continue
            first = self.peek()
            if first not in tuple(DIGITS):
                raise self.fail(f"unsupported class member {first!r}")
            if self.pattern[self.pos + 1 : self.pos + 2] == "-":
                last = self.pattern[self.pos + 2 : self.pos + 3]
                if last not in tuple(DIGITS) or last < first:
                    raise self.fail("bad range")
                digits.update(DIGITS[DIGITS.index(first) : DIGITS.index(last) + 1])
                self.pos += 3
            else:
                digits.add(first)
                self.pos += 1
        self.pos += 1
        return Chars(frozenset(digits))

    def quantified(self, node: Node) -> Node:
        while self.peek() in ("?", "{"):
            if self.peek() == "?":
                self.pos += 1
                node = Repeat(node, 0, 1)
                continue
            close = self.pattern.find("}", self.pos)
            if close < 0:
                raise self.fail("unclosed repeat")
            low, _, high = self.pattern[self.pos + 1 : close].partition(",")
            if not low.isdigit() or (high and not high.isdigit()):
                raise self.fail("unsupported repeat")
            node = Repeat(node, int(low), int(high) if high else int(low))
            if "," in self.pattern[self.pos : close] and not high:
                raise self.fail("open-ended repeat")
            self.pos = close + 1
        return node


def parse_pattern(pattern: str) -> Node:
    """Parse a metadata pattern, or raise :class:`PatternError` for syntax outside the subset."""
    return _Parser(pattern).parse()


def render(node: Node) -> str:
    """The portable form of ``node``: the same language in RE2, POSIX ERE and Python ``re``."""
    if isinstance(node, Chars):
        if len(node.digits) == 1:
            return next(iter(node.digits))
        return "[" + _ranges(node.digits) + "]"
    if isinstance(node, End):
        return "$"
    if isinstance(node, Alt):
        return "|".join(render(option) for option in node.options)
    if isinstance(node, Seq):
        return "".join(
            f"({render(item)})" if isinstance(item, Alt) else render(item) for item in node.items
        )
    inner = render(node.node)
    if not isinstance(node.node, Chars):
        inner = f"({inner})"
    if (node.low, node.high) == (0, 1):
        return inner + "?"
    if node.low == node.high:
        return f"{inner}{{{node.low}}}"
    return f"{inner}{{{node.low},{node.high}}}"


def _ranges(digits: frozenset[str]) -> str:
    ordered = sorted(digits)
    parts: list[str] = []
    start = previous = ordered[0]
    for digit in [*ordered[1:], ""]:
        if digit and int(digit) == int(previous) + 1:
            previous = digit
            continue
        span = int(previous) - int(start)
        parts.append(
            start if span == 0 else start + previous if span == 1 else f"{start}-{previous}"
        )
        start = previous = digit
    return "".join(parts)


def literals(node: Node, limit: int = MAX_LITERALS) -> frozenset[str] | None:
    """Every string ``node`` matches, if that is a finite set of at most ``limit``, else None."""
    if isinstance(node, End):
        return None
    if isinstance(node, Chars):
        return node.digits
    if isinstance(node, Alt):
        found: set[str] = set()
        for option in node.options:
            more = literals(option, limit)
            if more is None:
                return None
            found |= more
            if len(found) > limit:
                return None
        return frozenset(found)
    if isinstance(node, Seq):
        strings: frozenset[str] = frozenset({""})
        for item in node.items:
            more = literals(item, limit)
            if more is None or len(strings) * len(more) > limit:
                return None
            strings = frozenset(a + b for a, b in product(strings, more))
        return strings
    inner = literals(node.node, limit)
    if inner is None:
        return None
    found = set()
    for count in range(node.low, node.high + 1):
        if len(inner) ** count > limit:
            return None
        found |= {"".join(parts) for parts in product(sorted(inner), repeat=count)}
    return frozenset(found) if len(found) <= limit else None


def without_end_anchors(node: Node) -> Node:
    """``node`` with every ``$`` dropped: it then matches at least every prefix it matched."""
    if isinstance(node, End):
        return Seq(())
    if isinstance(node, Chars):
        return node
    if isinstance(node, Alt):
        return Alt(tuple(without_end_anchors(option) for option in node.options))
    if isinstance(node, Seq):
        return Seq(tuple(without_end_anchors(item) for item in node.items))
    return Repeat(without_end_anchors(node.node), node.low, node.high)


def match_lengths(node: Node) -> frozenset[int]:
    """The lengths of the strings ``node`` matches (``$`` matches the empty string)."""
    if isinstance(node, End):
        return frozenset({0})
    if isinstance(node, Chars):
        return frozenset({1})
    if isinstance(node, Alt):
        return frozenset().union(*(match_lengths(option) for option in node.options))
    if isinstance(node, Seq):
        lengths = frozenset({0})
        for item in node.items:
            lengths = frozenset(a + b for a in lengths for b in match_lengths(item))
        return lengths
    inner = match_lengths(node.node)
    lengths = frozenset({0})
    found: set[int] = set()
    for count in range(node.high + 1):
        if count >= node.low:
            found |= lengths
        lengths = frozenset(a + b for a in lengths for b in inner)
    return frozenset(found)


def can_start_with(node: Node, prefix: str) -> bool:
    """Whether ``node`` matches some string that starts with ``prefix``.

    Thompson's construction over digit sets, run on ``prefix``, then a reachability search for
    the accepting state. A pattern with ``$`` is assumed to (the safe answer).
    """
    edges: list[list[tuple[frozenset[str] | None, int]]] = []

    def state() -> int:
        edges.append([])
        return len(edges) - 1

    def build(item: Node, start: int) -> int:
        if isinstance(item, End):
            raise PatternError("$")
        if isinstance(item, Chars):
            end = state()
            edges[start].append((item.digits, end))
            return end
        if isinstance(item, Seq):
            for part in item.items:
                start = build(part, start)
            return start
        if isinstance(item, Alt):
            end = state()
            for option in item.options:
                edges[build(option, start)].append((None, end))
            return end
        for _ in range(item.low):
            start = build(item.node, start)
        end = state()
        edges[start].append((None, end))
        for _ in range(item.high - item.low):
            start = build(item.node, start)
            edges[start].append((None, end))
        return end

    def closure(states: set[int], digits: bool) -> set[int]:
        todo, seen = list(states), set(states)
        while todo:
            for chars, target in edges[todo.pop()]:
                if (chars is None or digits) and target not in seen:
                    seen.add(target)
                    todo.append(target)
        return seen

    start = state()
    try:
        accept = build(node, start)
    except PatternError:
        return True
    current = closure({start}, digits=False)
    for char in prefix:
        moved = {t for s in current for chars, t in edges[s] if chars is not None and char in chars}
        current = closure(moved, digits=False)
    return accept in closure(current, digits=True)


def length_checked(pattern: str, lengths: list[int] | tuple[int, ...]) -> dict[str, object]:
    """A pattern and the lengths a match must have; ``lengths`` is empty when the pattern
    cannot match any other length anyway, so the SQL needs no separate length test."""
    node = parse_pattern(pattern)
    needed = [] if match_lengths(node) <= set(lengths) else sorted(lengths)
    return {"pattern": render(node), "lengths": needed}


# --- Rules ------------------------------------------------------------------------------------


def _prefix_rule(pattern: str | None, transform_rule: str | None = None) -> dict[str, object]:
    """How the SQL treats an international or national prefix pattern (``re.match`` at 0).

    ``pattern``: a guard; when it matches the start of the number (with ``$`` dropped, which
    can only match more), the SQL leaves the number to the UDF. ``literal_groups``: otherwise,
    the digit strings the prefix can be, by length; the SQL strips the longest that starts the
    number, or nothing. That is exactly what phonenumbers strips when

    - the pattern's strings are finite and prefix-free (at most one can start a number);
    - or it is ``P(Q)?`` with finite, prefix-free P and Q: the optional part is greedy, so
      the longer of ``p`` and ``pq`` wins;
    - or, with a transform rule (which applies only when a capture group matched): the
      alternatives from some point on have no capture group and are finite and prefix-free
      together, and the earlier ones are the guard; or it is ``P(G)?`` with every capture
      group in G, and ``P(G)`` is the guard.

    Anything else is all guard.
    """
    if not pattern:
        return {"literal_groups": [], "pattern": None}
    node = parse_pattern(pattern)
    if not transform_rule:
        found = literals(node)
        if found and "" not in found and _prefix_free(found):
            return _prefix(found)
        greedy = _greedy_optional(node)
        if greedy is not None:
            return _prefix(greedy)
        return _prefix(frozenset(), guard=pattern)
    if not _captures(pattern):
        # the parser would index an empty tuple of groups; nothing is stripped in SQL
        return _prefix(frozenset(), guard=pattern)
    alternatives = _top_level_alternatives(pattern)
    for start in range(len(alternatives)):
        tail = alternatives[start:]
        if any(_captures(option) for option in tail):
            continue
        sets = [literals(parse_pattern(option)) for option in tail]
        if all(found and "" not in found for found in sets):
            union = frozenset().union(*sets)  # type: ignore[arg-type]
            if _prefix_free(union):
                return _prefix(union, guard="|".join(alternatives[:start]) or None)
    if len(alternatives) == 1:
        split = _trailing_optional_group(pattern)
        if split is not None and not _captures(split[0]):
            head, group = split
            head_node = parse_pattern(head) if head else Seq(())
            found = literals(head_node)
            optional = isinstance(head_node, Repeat) and (head_node.low, head_node.high) == (0, 1)
            if found is not None and ("" not in found or optional):
                found = found - {""}
                if _prefix_free(found):
                    return _prefix(found, guard=f"{head}(?:{group})")
    return _prefix(frozenset(), guard=pattern)


def _prefix(found: frozenset[str], guard: str | None = None) -> dict[str, object]:
    return {
        "literal_groups": _by_length(found),
        "pattern": render(without_end_anchors(parse_pattern(guard))) if guard else None,
    }


def _greedy_optional(node: Node) -> frozenset[str] | None:
    """For ``P(Q)?`` with finite, prefix-free P and Q: the strings ``p`` and ``pq``."""
    if not isinstance(node, Seq) or len(node.items) < 2:
        return None
    last = node.items[-1]
    if not isinstance(last, Repeat) or (last.low, last.high) != (0, 1):
        return None
    head = literals(Seq(node.items[:-1]))
    tail = literals(last.node)
    if not head or not tail or "" in head or "" in tail:
        return None
    if not _prefix_free(head) or not _prefix_free(tail):
        return None
    return head | {h + t for h in head for t in tail}


def _captures(pattern: str) -> bool:
    """Whether the pattern text holds a capturing group."""
    return any(
        char == "(" and not pattern.startswith("(?", index) for index, char in enumerate(pattern)
    )


def _top_level_alternatives(pattern: str) -> list[str]:
    """The pattern split at each ``|`` outside groups and classes."""
    parts, depth, in_class, start = [], 0, False, 0
    for index, char in enumerate(pattern):
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            parts.append(pattern[start:index])
            start = index + 1
    parts.append(pattern[start:])
    return parts


def _trailing_optional_group(pattern: str) -> tuple[str, str] | None:
    """``(head, group)`` when the pattern is ``head(?:group)?`` or ``head(group)?``."""
    if not pattern.endswith(")?"):
        return None
    depth, in_class = 0, False
    for index in range(len(pattern) - 2, -1, -1):
        char = pattern[index]
        if in_class:
            in_class = char != "["
        elif char == "]":
            in_class = True
        elif char == ")":
            depth += 1
        elif char == "(":
            depth -= 1
            if depth == 0:
                inner = pattern[index + 1 : -2]
                if inner.startswith("?:"):
                    inner = inner[2:]
                head = pattern[:index]
                return (head, inner) if len(_top_level_alternatives(head)) == 1 else None
    return None


def _by_length(strings: frozenset[str]) -> list[dict[str, object]]:
    """The strings grouped by length, longest first (the order the SQL tries them in)."""
    lengths = sorted({len(s) for s in strings}, reverse=True)
    return [{"length": n, "literals": sorted(s for s in strings if len(s) == n)} for n in lengths]


def _prefix_free(strings: frozenset[str]) -> bool:
    return not any(a != b and b.startswith(a) for a in strings for b in strings)


def _metadata(region: str) -> PhoneMetadata:
    metadata = PhoneMetadata.metadata_for_region(region, None)
    if metadata is None:
        raise ValueError(f"phonenumbers has no metadata for region {region}")
    return metadata


def _lengths(desc: PhoneNumberDesc) -> list[int]:
    return sorted(length for length in desc.possible_length if length > 0)


def region_rules(region: str) -> dict[str, object]:
    """What parsing a national number in ``region`` needs.

    A national prefix with a transform rule (e.g. Argentina's, Brazil's) rewrites the number
    when its capture groups match: those numbers are left to the UDF (see ``_prefix_rule``).
    """
    metadata = _metadata(region)
    general = metadata.general_desc
    national_prefix = _prefix_rule(
        metadata.national_prefix_for_parsing, metadata.national_prefix_transform_rule
    )
    max_length = max(general.possible_length)
    results = {n: _test_number_length("0" * n, metadata) for n in range(max_length + 20)}
    if any(results[n] != ValidationResult.TOO_LONG for n in results if n > max_length):
        raise ValueError(f"{region}: numbers over {max_length} digits are not all too long")
    general_node = parse_pattern(general.national_number_pattern)
    prefixes = [
        literal
        for group in national_prefix["literal_groups"]
        for literal in group["literals"]  # type: ignore[attr-defined]
    ]
    return {
        "country_code": str(metadata.country_code),
        "international_prefix": _prefix_rule(metadata.international_prefix),
        "national_prefix": national_prefix,
        "general_pattern": render(general_node),
        # whether the general pattern can match a number starting with a national prefix or
        # with the calling code; when it cannot, the SQL skips those tests (they are false)
        "general_matches_national_prefix": any(can_start_with(general_node, p) for p in prefixes),
        "general_matches_calling_code": can_start_with(general_node, str(metadata.country_code)),
        # _test_number_length(): too long above max_length; the lengths for which the parser
        # keeps the national prefix (too short, local only, or no possible length)
        "max_length": max_length,
        "stripping_rejected_lengths": [
            n for n, result in results.items() if result in _STRIPPING_REJECTED
        ],
    }


def _validity_rules(region: str, *, with_types: bool) -> dict[str, object]:
    """When a national significant number is valid in ``region`` (``_number_type_helper``).

    It must match the general description and one number type, each with its possible lengths
    and pattern. A length test is kept only where the pattern could match another length, and
    types needing the same length test share one alternation. When mobile and fixed-line
    patterns are the same, phonenumbers never tests mobile on its own, so neither do we. Without
    ``with_types`` only the leading digits are kept: the SQL then leaves the numbers this region
    claims to the UDF.
    """
    metadata = _metadata(region)
    leading_digits = metadata.leading_digits
    rules: dict[str, object] = {
        "region": region,
        "leading_digits": render(parse_pattern(leading_digits)) if leading_digits else None,
    }
    if not with_types:
        return rules
    by_lengths: dict[tuple[int, ...], list[str]] = {}
    for type_name in NUMBER_TYPES:
        if type_name == "mobile" and metadata.same_mobile_and_fixed_line_pattern:
            continue
        desc = getattr(metadata, type_name)
        if desc is None or not desc.national_number_pattern:
            continue
        # _is_number_matching_desc: no length test when the description lists no lengths
        lengths = [length for length in desc.possible_length if length > 0]
        if desc.possible_length and not lengths:
            continue
        checked = length_checked(desc.national_number_pattern, lengths or range(100))
        patterns = by_lengths.setdefault(tuple(checked["lengths"]), [])
        if checked["pattern"] not in patterns:
            patterns.append(checked["pattern"])
    rules["general"] = length_checked(
        metadata.general_desc.national_number_pattern, _lengths(metadata.general_desc)
    )
    rules["types"] = [
        {
            "pattern": patterns[0] if len(patterns) == 1 else "|".join(f"({p})" for p in patterns),
            "lengths": list(lengths),
        }
        for lengths, patterns in sorted(by_lengths.items())
    ]
    return rules


def build_rules(regions: tuple[str, ...] = REGIONS) -> dict[str, object]:
    """The rules for ``regions``, their calling codes and the main region of each code."""
    calling_codes: dict[str, object] = {}
    national_regions = set(regions)
    for region in regions:
        country_code = _metadata(region).country_code
        sharing = COUNTRY_CODE_TO_REGION_CODE[country_code]
        national_regions.add(sharing[0])
        # A region with leading digits claims only the numbers that start with them, so
        # outside ``regions`` its leading digits suffice (such numbers go to the UDF); a region
        # without them claims every number valid in it, so its rules are always needed.
        calling_codes[str(country_code)] = {
            "main_region": sharing[0],
            "regions": [
                _validity_rules(r, with_types=r in regions or not _metadata(r).leading_digits)
                for r in sharing
            ],
        }
    every_code = sorted(str(code) for code in COUNTRY_CODE_TO_REGION_CODE)
    if not _prefix_free(frozenset(every_code)):
        raise ValueError("country calling codes are no longer prefix-free")
    return {
        "phonenumbers_version": phonenumbers.__version__,
        "regions": {region: region_rules(region) for region in sorted(national_regions)},
        "calling_codes": dict(sorted(calling_codes.items(), key=lambda kv: (len(kv[0]), kv[0]))),
        "calling_code_groups": [
            {"length": group["length"], "codes": group["literals"]}
            for group in _by_length(frozenset(calling_codes))
        ],
    }


# --- The generated macro file -----------------------------------------------------------------


def _json(value: object, indent: int = 0) -> str:
    """JSON with one key per line, and lists of strings or numbers kept on one line."""
    pad = "  " * indent
    if isinstance(value, dict) and value:
        items = ",\n".join(
            f"{pad}  {json.dumps(key)}: {_json(item, indent + 1)}" for key, item in value.items()
        )
        return "{\n" + items + f"\n{pad}}}"
    if isinstance(value, list) and any(isinstance(item, (dict, list)) for item in value):
        items = ",\n".join(f"{pad}  {_json(item, indent + 1)}" for item in value)
        return "[\n" + items + f"\n{pad}]"
    return json.dumps(value)


def render_rules_macro(rules: dict[str, object]) -> str:
    """The text of ``macros/phone_fast_path_rules.sql``: the rules as JSON in a dbt macro.

    JSON read by ``fromjson`` rather than a Jinja literal: Jinja compiles a literal this size
    into a large syntax tree every time dbt loads the macro, JSON is parsed in a millisecond.
    """
    text = _json(rules)
    if "'" in text or "\\" in text:
        raise ValueError("the rules must not contain quotes or backslashes")
    return (
        "{#\n"
        "    GENERATED by `python -m spotify_audiences.udfs.phone_fast_path` from the metadata of\n"
        f"    phonenumbers {rules['phonenumbers_version']}; do not edit. Regenerate after\n"
        "    upgrading phonenumbers (a test fails while this file differs from what it\n"
        "    generates).\n"
        "#}\n"
        "{% macro phone_fast_path_rules() %}\n"
        "{{ return(fromjson('\n" + text + "\n')) }}\n"
        "{% endmacro %}\n"
    )


def main(argv: list[str] | None = None) -> int:
    """Write (or with ``--check``, compare) the generated rules macro."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is out of date")
    parser.add_argument("--output", type=Path, default=RULES_PATH)
    args = parser.parse_args(argv)
    text = render_rules_macro(build_rules())
    if args.check:
        current = args.output.read_text() if args.output.exists() else ""
        if current != text:
            command = "python -m spotify_audiences.udfs.phone_fast_path"
            print(f"{args.output} is out of date: run {command}")
            return 1
        return 0
    args.output.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
