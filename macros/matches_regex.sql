{#
    True when the whole value matches the pattern. The pattern is a Jinja string (write one
    backslash for one backslash); each dialect quotes it as its string literals require.
#}
{% macro matches_regex(expr, pattern) %}
    {{ return(adapter.dispatch('matches_regex', 'spotify_audiences')(expr, pattern)) }}
{% endmacro %}

{% macro default__matches_regex(expr, pattern) -%}
    {{ spotify_audiences.spotify_audiences_unsupported_adapter('matches_regex') }}
{%- endmacro %}

{#
    Snowflake: regexp_like anchors the pattern at both ends, and single-quoted literals treat
    backslash as an escape, so backslashes and quotes are escaped.
#}
{% macro snowflake__matches_regex(expr, pattern) -%}
    regexp_like({{ expr }}, '{{ pattern | replace("\\", "\\\\") | replace("'", "\\'") }}')
{%- endmacro %}

{# DuckDB: regexp_matches finds a match anywhere; regexp_full_match needs the whole value. #}
{% macro duckdb__matches_regex(expr, pattern) -%}
    regexp_full_match({{ expr }}, '{{ pattern | replace("'", "''") }}')
{%- endmacro %}
