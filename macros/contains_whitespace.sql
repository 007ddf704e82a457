{% macro contains_whitespace(expr) %}
    {{ return(adapter.dispatch('contains_whitespace', 'spotify_audiences')(expr)) }}
{% endmacro %}

{#
    True when any whitespace character is inside the value. DuckDB's RE2 and Snowflake's \s only
    know ASCII whitespace, so this deletes the full set with translate() and compares lengths.
#}
{% macro default__contains_whitespace(expr) -%}
    (length(translate({{ expr }}, {{ spotify_audiences.whitespace_characters() }}, '')) < length({{ expr }}))
{%- endmacro %}
