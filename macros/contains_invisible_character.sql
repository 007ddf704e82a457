{% macro contains_invisible_character(expr) %}
    {{ return(adapter.dispatch('contains_invisible_character', 'spotify_audiences')(expr)) }}
{% endmacro %}

{#
    Code points that render as nothing (or steer the rendering) but still change a hash: the
    control characters (Unicode category Cc), the format characters (Cf: soft hyphen U+00AD,
    zero-width space/joiners U+200B-U+200D, word joiner U+2060, bidirectional marks, BOM, tags,
    ...) and the other default-ignorable code points (combining grapheme joiner, Hangul fillers,
    variation selectors). Inclusive [first, last] ranges.
#}
{% macro invisible_code_point_ranges() -%}
    {{ return([
        [0, 31], [127, 159], [173, 173], [847, 847], [1536, 1541], [1564, 1564],
        [1757, 1757], [1807, 1807], [2192, 2193], [2274, 2274], [4447, 4448],
        [6068, 6069], [6155, 6159], [8203, 8207], [8234, 8238], [8288, 8303],
        [12644, 12644], [65024, 65039], [65279, 65279], [65440, 65440], [65520, 65531],
        [69821, 69821], [69837, 69837], [78896, 78911], [113824, 113827],
        [119155, 119162], [917504, 917631], [917760, 917999],
    ]) }}
{%- endmacro %}

{# True when a character of invisible_code_point_ranges() is anywhere in the value. #}
{% macro default__contains_invisible_character(expr) -%}
    {%- set characters = [] -%}
    {%- for first, last in spotify_audiences.invisible_code_point_ranges() -%}
        {%- for code_point in range(first, last + 1) if code_point > 0 -%}
            {%- do characters.append('chr(' ~ code_point ~ ')') -%}
        {%- endfor -%}
    {%- endfor -%}
    (length(translate({{ expr }}, {{ characters | join(' || ') }}, '')) < length({{ expr }}))
{%- endmacro %}

{# DuckDB: one RE2 character class of the same ranges (\x{...} is a code point in RE2). #}
{% macro duckdb__contains_invisible_character(expr) -%}
    {%- set ranges = [] -%}
    {%- for first, last in spotify_audiences.invisible_code_point_ranges() -%}
        {%- do ranges.append('\\x{%x}-\\x{%x}' | format(first, last)) -%}
    {%- endfor -%}
    regexp_matches({{ expr }}, '[{{ ranges | join('') }}]')
{%- endmacro %}

{#
    is_valid_email(expr) and not contains_invisible_character(expr), the test the members'
    emails pass. DuckDB does it in one regex pass instead of two: the classes of
    duckdb__is_valid_email with the invisible ranges excluded as well. The same result: an
    invisible character matches none of the classes (and is neither '@' nor '.'), so a value
    holding one fails; a value without one meets the same classes as in is_valid_email.
#}
{% macro is_valid_visible_email(expr) %}
    {{ return(adapter.dispatch('is_valid_visible_email', 'spotify_audiences')(expr)) }}
{% endmacro %}

{% macro default__is_valid_visible_email(expr) -%}
    (
        {{ spotify_audiences.is_valid_email(expr) }}
        and not {{ spotify_audiences.contains_invisible_character(expr) }}
    )
{%- endmacro %}

{% macro duckdb__is_valid_visible_email(expr) -%}
    {%- set ranges = [] -%}
    {%- for first, last in spotify_audiences.invisible_code_point_ranges() -%}
        {%- do ranges.append('\\x{%x}-\\x{%x}' | format(first, last)) -%}
    {%- endfor -%}
    {{ spotify_audiences.duckdb_email_regex_match(expr, ranges | join('')) }}
{%- endmacro %}
