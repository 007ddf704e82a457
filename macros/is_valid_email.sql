{% macro is_valid_email(expr) %}
    {{ return(adapter.dispatch('is_valid_email', 'spotify_audiences')(expr)) }}
{% endmacro %}

{#
    True for a lower-cased, trimmed email the upload accepts: exactly one @, a dotted domain
    with non-empty labels, and no whitespace character of whitespace_characters() anywhere.
    The pattern uses no escape at all: Snowflake's regular expressions are POSIX extended ones,
    where a backslash inside a bracket expression is a literal backslash (so [^@\s] would
    refuse every address with an "s"), and "[.]" is a dot in every engine. Whitespace is left
    to contains_whitespace(), which knows the whole set.
#}
{% macro default__is_valid_email(expr) -%}
    (
        {{ spotify_audiences.matches_regex(expr, '^[^@]+@[^@.]+([.][^@.]+)+$') }}
        and not {{ spotify_audiences.contains_whitespace(expr) }}
    )
{%- endmacro %}

{#
    DuckDB: the same test in one regex pass. The classes exclude every character of
    whitespace_characters() (RE2 reads \x{...} as a code point; the backslashes are doubled
    because Jinja string literals decode \x escapes).
#}
{% macro duckdb__is_valid_email(expr) -%}
    {%- set no = '@\\x09-\\x0d\\x1c-\\x20\\x{85}\\x{a0}\\x{1680}\\x{2000}-\\x{200b}'
        ~ '\\x{2028}\\x{2029}\\x{202f}\\x{205f}\\x{3000}\\x{feff}' -%}
    {{ spotify_audiences.matches_regex(expr, '[^' ~ no ~ ']+@[^.' ~ no ~ ']+([.][^.' ~ no ~ ']+)+') }}
{%- endmacro %}
